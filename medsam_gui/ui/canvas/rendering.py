"""numpy -> QImage for the slice view: the windowed slice, the label overlay, a preview.

Every function takes arrays indexed ``[y, x]`` (rows, columns) and returns a QImage of
width x = columns and height y = rows that owns a copy of its pixels.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtGui import QImage

from medsam_gui.core.window import apply_window


def _qimage_from_rgba(rgba_yx4: np.ndarray) -> QImage:
    """QImage (RGBA8888) from a uint8 ``[y, x, 4]`` array; the image owns its data."""
    rgba = np.ascontiguousarray(rgba_yx4, dtype=np.uint8)
    height, width = rgba.shape[:2]
    image = QImage(rgba.data, width, height, width * 4, QImage.Format.Format_RGBA8888)
    return image.copy()


def slice_to_qimage(slice_image: np.ndarray, window_center: float, window_width: float) -> QImage:
    """Grey (or RGB) QImage of a slice ``[y, x]`` / ``[y, x, 3]`` through the display window.

    8-bit RGB slices (photos, screenshots) are shown as they are.
    """
    if slice_image.ndim == 2:  # one byte a pixel: a third of the work of RGBA
        grey = np.ascontiguousarray(apply_window(slice_image, window_center, window_width))
        height, width = grey.shape
        return QImage(grey.data, width, height, width, QImage.Format.Format_Grayscale8).copy()
    rgb = np.clip(slice_image, 0, 255).astype(np.uint8)
    alpha = np.full(rgb.shape[:2] + (1,), 255, dtype=np.uint8)
    return _qimage_from_rgba(np.concatenate([rgb, alpha], axis=2))


def outline_of(mask_yx: np.ndarray) -> np.ndarray:
    """bool ``[y, x]``: voxels of ``mask_yx`` with a 4-neighbour outside it (the border)."""
    mask = np.asarray(mask_yx, dtype=bool)
    padded = np.pad(mask, 1, mode="constant", constant_values=False)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~interior


def label_boundaries(labels_yx: np.ndarray) -> np.ndarray:
    """bool ``[y, x]``: labelled voxels that touch a voxel of another value (or the edge)."""
    padded = np.pad(labels_yx, 1, mode="edge")
    centre = padded[1:-1, 1:-1]
    differs = (
        (padded[:-2, 1:-1] != centre)
        | (padded[2:, 1:-1] != centre)
        | (padded[1:-1, :-2] != centre)
        | (padded[1:-1, 2:] != centre)
    )
    return (labels_yx != 0) & differs


def overlay_to_qimage(labels_yx: np.ndarray, lookup_rgba: np.ndarray, opacity: float, outline_only: bool) -> QImage:
    """Coloured overlay of a label slice ``[y, x]`` uint8.

    Args:
        labels_yx: label values of the slice.
        lookup_rgba: uint8 ``[256, 4]`` colour per value (``LabelTable.lookup_table()``);
            alpha 0 hides a value.
        opacity: 0..1 alpha of filled regions (outlines are drawn opaque).
        outline_only: draw only the borders of each label.
    """
    if outline_only:
        rgba = lookup_rgba[labels_yx]
        rgba[..., 3] = np.where(label_boundaries(labels_yx), rgba[..., 3], 0)
    else:  # the opacity goes into the 256-entry table, not into every pixel
        table = lookup_rgba.copy()
        table[:, 3] = (table[:, 3].astype(np.float32) * float(np.clip(opacity, 0.0, 1.0))).astype(np.uint8)
        rgba = table[labels_yx]
    return _qimage_from_rgba(rgba)


def preview_to_qimage(mask_yx: np.ndarray, colour_rgb: tuple[int, int, int], opacity: float = 0.45) -> QImage:
    """The AI preview of a bool mask ``[y, x]``: translucent fill with an opaque outline."""
    mask = np.asarray(mask_yx, dtype=bool)
    rgba = np.zeros(mask.shape + (4,), dtype=np.uint8)
    rgba[mask, :3] = colour_rgb
    rgba[mask, 3] = int(255 * opacity)
    border = outline_of(mask)
    rgba[border, :3] = (255, 255, 0)
    rgba[border, 3] = 255
    return _qimage_from_rgba(rgba)
