"""Fetch a model folder from the Hugging Face Hub into the user cache, once.

Resumable (huggingface_hub keeps partial files), with a ``progress(done_bytes,
total_bytes)`` callback, and a plain-words error when the machine is offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.core.paths import user_cache_dir

WEIGHT_PATTERNS = ("*.json", "*.safetensors")
# repositories published before safetensors (PyTorch pickles) get a second pass;
# transformers loads those with weights_only=True
LEGACY_WEIGHT_PATTERNS = ("pytorch_model*.bin",)
ProgressCallback = Callable[[int, int], None]


def model_folder(repo_id: str) -> Path:
    """Where ``repo_id`` lives (or will live) in the user cache."""
    return user_cache_dir() / "models" / repo_id.replace("/", "--")


def is_complete(folder: Path) -> bool:
    """A transformers model folder with its config and at least one weights file."""
    return (folder / "config.json").is_file() and (
        any(folder.glob("*.safetensors")) or any(folder.glob("pytorch_model*.bin"))
    )


def _progress_tqdm(progress: ProgressCallback):
    """A tqdm class that forwards byte counts to ``progress``."""
    from tqdm.auto import tqdm

    class ProgressTqdm(tqdm):
        def __init__(self, *args, **kwargs):
            self._counts_bytes = kwargs.get("unit") == "B"
            self._done = int(kwargs.get("initial") or 0)
            kwargs["disable"] = True  # no console bar: the callback is the display
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            self._done += int(n or 0)
            if self._counts_bytes:
                progress(self._done, int(self.total or 0))
            return super().update(n)

    return ProgressTqdm


def download_snapshot(repo_id: str, progress: ProgressCallback | None = None, fetch=None) -> Path:
    """The local folder of ``repo_id``, downloading it on first use.

    ``fetch`` stands in for ``huggingface_hub.snapshot_download`` (tests pass a
    local fake). Raises MedsamGuiError when it cannot be fetched (offline, unknown id).
    """
    folder = model_folder(repo_id)
    if is_complete(folder):
        return folder
    if fetch is None:
        from huggingface_hub import snapshot_download as fetch
    for patterns in (WEIGHT_PATTERNS, LEGACY_WEIGHT_PATTERNS):
        _fetch_patterns(fetch, repo_id, folder, patterns, progress)
        if is_complete(folder):
            return folder
    raise MedsamGuiError(f"download of {repo_id!r} is incomplete (no config.json or weights)", folder)


def _fetch_patterns(fetch, repo_id: str, folder: Path, patterns: tuple[str, ...], progress: ProgressCallback | None) -> None:
    """One ``snapshot_download`` call for the files matching ``patterns``."""
    kwargs = {"repo_id": repo_id, "local_dir": str(folder), "allow_patterns": list(patterns)}
    if progress is not None:
        kwargs["tqdm_class"] = _progress_tqdm(progress)
    try:
        fetch(**kwargs)
    except Exception as error:  # huggingface_hub raises many types (offline, 401, 404, HTTP)
        raise MedsamGuiError(
            f"cannot download model {repo_id!r} ({error.__class__.__name__}): this needs internet access once; "
            f"or download it elsewhere and pass its folder with --model, or place it in {folder}"
        ) from error
