"""Read 2D PNG/JPEG/BMP/TIFF pictures (8/16-bit, grey or RGB) as one-slice volumes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from medsam_gui.core.errors import UnreadableInputError
from medsam_gui.core.volume import Volume
from medsam_gui.io.volume_builder import build_volume

PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def has_picture_suffix(path: str | Path) -> bool:
    return str(path).lower().endswith(PICTURE_SUFFIXES)


def read_picture(path: str | Path) -> Volume:
    """Volume ``[1, y, x]`` (grey: uint8/uint16/float32) or ``[1, y, x, 3]`` uint8 (colour).

    An RGB picture whose three channels are equal becomes grey; alpha is dropped.
    Spacing 1 mm, identity direction, modality 'OT'. NaN/infinite values of a float
    TIFF are replaced and reported in ``Volume.warnings``.
    """
    try:
        with Image.open(path) as image:
            image.load()
            pixels = _as_array(image, path)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise UnreadableInputError(f"not a readable picture ({error})", path) from error
    if pixels.ndim == 3:
        pixels = pixels[:, :, :3]
        if np.array_equal(pixels[:, :, 0], pixels[:, :, 1]) and np.array_equal(pixels[:, :, 0], pixels[:, :, 2]):
            pixels = pixels[:, :, 0]
    return build_volume(
        np.ascontiguousarray(pixels[None]), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3),
        source_path=str(path), modality="OT", description=Path(path).name,
    )


def _as_array(image: Image.Image, path) -> np.ndarray:
    """Pixels as [y, x] or [y, x, 3|4] with a numpy dtype the app supports."""
    if image.mode in ("1", "L", "P", "LA", "PA"):
        if image.mode == "P":
            image = image.convert("RGB")
        elif image.mode in ("LA", "PA", "1"):
            image = image.convert("L")
        return np.asarray(image)
    if image.mode in ("RGB", "RGBA", "CMYK", "YCbCr", "RGBX"):
        return np.asarray(image.convert("RGB") if image.mode not in ("RGB", "RGBA") else image)
    if image.mode.startswith("I;16"):
        return np.asarray(image).astype(np.uint16)
    if image.mode == "I":
        array = np.asarray(image)
        if array.min() >= 0 and array.max() <= 65535:
            return array.astype(np.uint16)
        return array.astype(np.float32)
    if image.mode == "F":
        return np.asarray(image).astype(np.float32)
    raise UnreadableInputError(f"picture mode {image.mode} is not supported", path)
