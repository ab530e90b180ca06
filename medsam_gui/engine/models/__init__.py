"""Model backends and their loaders.

Names: those of the model catalogue (:mod:`medsam_gui.core.model_catalogue`):
'litemedsam' (bundled, default), 'medsam' (Hugging Face
flaviagiammarino/medsam-vit-base, downloaded on first use), 'sam'
(facebook/sam-vit-base); or a path: a transformers-format folder, or an original
segment-anything / MedSAM ``.pth`` checkpoint. Paths and Hub ids whose name
contains 'medsam' get MedSAM's preprocessing, others SAM's.

The backend contract (every backend: LiteMedSAM and SAM / MedSAM on torch, both on
ONNX Runtime, the encoder-service wrapper); numpy at the boundary, torch and
onnxruntime stay in this package:

* ``encode(image uint8 [H, W, 3], between_blocks=None) -> Embedding``: its features
  are the backend's own ``[1, C, h, w]`` array, opaque to the engine;
* ``decode(embedding, prompts) -> (logits float32 [L, L] numpy, predicted IoU float)``,
  low-res logits in the model-input frame of the embedding;
* ``mask_from_logits(values [L, L], frame, threshold_logit) -> bool [H, W]`` and
  ``reframe_logits(previous LowResLogits, crop, frame) -> float32 [L, L]``
  (:class:`postprocess.LogitPostprocessing`);
* ``features_to_array(features) -> float32 [1, C, h, w]`` numpy (the embedding
  cache stores it as fp16) and ``features_from_array(array) -> features``;
* ``frame_for(image_size_hw)``, ``info`` (ModelInfo), ``model_id``,
  ``preprocessing_signature``, ``mask_threshold_logit``, ``name``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.core.model_catalogue import MODEL_CATALOGUE, model_card


@dataclass(frozen=True)
class ModelEntry:
    """One row of ``medsam-gui models``."""

    name: str
    display_name: str
    location: str
    available: bool
    licence: str


def list_models() -> list[ModelEntry]:
    """Known models, where their weights are, and whether they load offline now."""
    from medsam_gui.engine.models.download import is_complete, model_folder

    entries = []
    for known in MODEL_CATALOGUE.values():
        if known.bundled:
            from medsam_gui.engine.models.lite_medsam_asset import weights_path

            location = weights_path()
            available = location.is_file()
        else:
            location = model_folder(known.repo_id)
            available = is_complete(location)
        entries.append(ModelEntry(known.name, known.display_name, str(location), available, known.licence))
    return entries


def style_for(name: str) -> str:
    return "medsam" if "medsam" in name.lower() else "sam"


def _file_stamp_id(prefix: str, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        stat = path.stat()
        digest.update(f"{path.name}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return f"{prefix}:{digest.hexdigest()[:16]}"


def load_transformers_folder(folder: Path, style: str, name: str, device, display_name: str | None = None,
                             licence: str = "see the model card"):
    """A SamBackend from a ``save_pretrained`` folder."""
    from transformers import SamModel

    from medsam_gui.engine.models.sam_hf import SamBackend

    try:
        model = SamModel.from_pretrained(str(folder))
    except (OSError, ValueError, KeyError) as error:
        raise MedsamGuiError(f"not a loadable SAM model folder ({error})", folder) from error
    weights = list(folder.glob("*.safetensors")) + list(folder.glob("*.bin")) + [folder / "config.json"]
    return SamBackend(model, style, name, display_name or f"{style.upper()} ({folder.name})", str(folder), licence,
                      _file_stamp_id(style, weights), device)


def load_original_checkpoint(path: Path, style: str, device, config=None):
    """A SamBackend from an original ``.pth`` (segment-anything layout), converted on load.

    ``config``: a ``transformers.SamConfig`` (default: ViT-B, as medsam_vit_b.pth).
    """
    import torch
    from transformers import SamConfig, SamModel

    from medsam_gui.engine.models.sam_convert import convert_original_state_dict, looks_original
    from medsam_gui.engine.models.sam_hf import SamBackend

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # unpickling errors come in several types
        raise MedsamGuiError(f"cannot read checkpoint ({error.__class__.__name__}: {error})", path) from error
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict) or not looks_original(state):
        raise MedsamGuiError("not a segment-anything / MedSAM checkpoint (no image_encoder.* weights)", path)
    model = SamModel(config or SamConfig())
    missing, unexpected = model.load_state_dict(convert_original_state_dict(state), strict=False)
    if missing or unexpected:
        raise MedsamGuiError(
            f"checkpoint does not fit the SAM ViT layout (missing {list(missing)[:3]}, unexpected {list(unexpected)[:3]})", path
        )
    return SamBackend(model, style, path.stem, f"{style.upper()} ({path.name})", str(path),
                      "see the checkpoint's source", _file_stamp_id(style, [path]), device)


def load_backend(model_name: str = "litemedsam", device: str = "auto", progress=None, export_progress=None):
    """The backend for a model name or path (see the module docstring) on ``device``
    (see :mod:`medsam_gui.engine.models.device` for the choices).

    ``progress(done_bytes, total_bytes)``: weights download; ``export_progress(step,
    done, total)``: the one-time ONNX export (default: a line per graph on stderr).
    With ``device='auto'`` an ONNX backend that cannot load falls back to torch (the
    reason goes to stderr); a named ONNX device raises instead.
    """
    from medsam_gui.engine.models.device import choose_device, resolve_device

    choice = resolve_device(device)
    if choice.runtime == "onnx":
        try:
            return load_onnx_backend(model_name, list(choice.providers), progress, export_progress)
        except MedsamGuiError as error:
            if choice.requested != "auto":
                raise
            import sys

            print(f"[medsam-gui] ONNX Runtime unavailable for {model_name!r} ({error}); using torch", file=sys.stderr)
            choice = None
    torch_device = choose_device(choice.torch_device if choice is not None else "auto")
    return load_torch_backend(model_name, torch_device, progress)


def load_torch_backend(model_name: str, torch_device, progress=None):
    """The eager torch backend (the reference) for a model name or path."""
    known = model_card(model_name)
    if known is not None and known.bundled:
        from medsam_gui.engine.models.litemedsam import LiteMedSamBackend

        return LiteMedSamBackend(torch_device)
    if known is not None:
        from medsam_gui.engine.models.download import download_snapshot

        folder = download_snapshot(known.repo_id, progress)
        return load_transformers_folder(folder, known.style, known.name, torch_device, known.display_name, known.licence)
    path = Path(model_name).expanduser()
    if path.is_dir():
        return load_transformers_folder(path, style_for(path.name), path.name, torch_device)
    if path.is_file():
        return load_original_checkpoint(path, style_for(path.name), torch_device)
    raise MedsamGuiError(
        f"unknown model {model_name!r}: use {', '.join(MODEL_CATALOGUE)}, a transformers model folder, or a .pth checkpoint"
    )


def _folder_weights(folder: Path) -> list[Path]:
    return list(folder.glob("*.safetensors")) + list(folder.glob("*.bin")) + [folder / "config.json"]


def load_onnx_backend(model_name: str, providers: list[str], progress=None, export_progress=None, session_factory=None):
    """The ONNX Runtime backend (:mod:`onnx_backend`) for a model name or path; the
    export runs once per weights file (:mod:`onnx_export`)."""
    from medsam_gui.engine.models.onnx_backend import load_lite_medsam_onnx, sam_onnx_backend_from_model
    from medsam_gui.engine.models.onnx_export import remembered_sha256

    known = model_card(model_name)
    if known is not None and known.bundled:
        return load_lite_medsam_onnx(providers, export_progress, session_factory)

    def from_folder(folder: Path, style: str, name: str, display_name: str, licence: str):
        def build():
            from transformers import SamModel

            try:
                return SamModel.from_pretrained(str(folder))
            except (OSError, ValueError, KeyError) as error:
                raise MedsamGuiError(f"not a loadable SAM model folder ({error})", folder) from error

        weights = _folder_weights(folder)
        if not (folder / "config.json").is_file():
            raise MedsamGuiError("not a loadable SAM model folder (no config.json)", folder)
        return sam_onnx_backend_from_model(build, remembered_sha256(weights), style, name, display_name, str(folder),
                                           licence, _file_stamp_id(style, weights), providers, export_progress,
                                           session_factory)

    if known is not None:
        from medsam_gui.engine.models.download import download_snapshot

        folder = download_snapshot(known.repo_id, progress)
        return from_folder(folder, known.style, known.name, known.display_name, known.licence)
    path = Path(model_name).expanduser()
    if path.is_dir():
        style = style_for(path.name)
        return from_folder(path, style, path.name, f"{style.upper()} ({path.name})", "see the model card")
    if path.is_file():
        import torch

        style = style_for(path.name)
        return sam_onnx_backend_from_model(
            lambda: load_original_checkpoint(path, style, torch.device("cpu")).model, remembered_sha256([path]), style,
            path.stem, f"{style.upper()} ({path.name})", str(path), "see the checkpoint's source",
            _file_stamp_id(style, [path]), providers, export_progress, session_factory,
        )
    raise MedsamGuiError(
        f"unknown model {model_name!r}: use {', '.join(MODEL_CATALOGUE)}, a transformers model folder, or a .pth checkpoint"
    )


@dataclass(frozen=True)
class RuntimeEntry:
    """One runtime / provider this machine offers (``medsam-gui models``)."""

    device: str  # the --device value that selects it
    runtime: str
    provider: str
    available: bool


def list_runtimes() -> list[RuntimeEntry]:
    """ONNX Runtime providers and OpenVINO (in preference order) and torch devices on this machine."""
    from medsam_gui.engine.models.onnx_backend import OPENVINO_CPU, PROVIDER_OF_DEVICE, available_providers

    available = set(available_providers())
    entries = [RuntimeEntry(device, "openvino" if provider == OPENVINO_CPU else "onnxruntime",
                            "CPU (ViT encoders)" if provider == OPENVINO_CPU else provider, provider in available)
               for device, provider in PROVIDER_OF_DEVICE.items()]
    try:
        import torch

        from medsam_gui.engine.models.device import mps_available

        cuda, mps = torch.cuda.is_available(), mps_available()
    except ImportError:
        cuda = mps = False
    entries += [RuntimeEntry("cpu", "torch", "cpu", True), RuntimeEntry("cuda", "torch", "cuda", cuda),
                RuntimeEntry("mps", "torch", "mps", mps)]
    return entries
