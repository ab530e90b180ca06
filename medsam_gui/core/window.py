"""Display window/level and model-input normalisation, kept strictly apart.

The display window only changes what the user sees. What the model sees is decided
by a model-input preset (CT soft tissue by default), so dragging the window never
changes a segmentation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WindowPreset:
    """A named display window: ``center`` and ``width`` in the volume's units."""

    key: str
    name: str
    center: float
    width: float


CT_DISPLAY_PRESETS: tuple[WindowPreset, ...] = (
    WindowPreset("soft_tissue", "CT soft tissue", 40.0, 400.0),
    WindowPreset("lung", "CT lung", -600.0, 1500.0),
    WindowPreset("bone", "CT bone", 400.0, 1800.0),
    WindowPreset("brain", "CT brain", 40.0, 80.0),
    WindowPreset("mediastinum", "CT mediastinum", 50.0, 350.0),
)


def percentile_window(values: np.ndarray, low: float = 0.5, high: float = 99.5) -> tuple[float, float]:
    """(center, width) spanning the ``low``..``high`` percentiles of non-zero values.

    Falls back to all values when none is non-zero; width is at least 1.
    """
    flat = np.asarray(values).reshape(-1)
    if flat.size > 2_000_000:  # a strided sample keeps this fast on big volumes
        flat = flat[:: flat.size // 1_000_000]
    nonzero = flat[flat != 0]
    sample = nonzero if nonzero.size else flat
    if sample.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(sample.astype(np.float64), [low, high])
    width = max(float(hi - lo), 1.0)
    return float(lo + hi) / 2.0, width


def default_display_window(voxels: np.ndarray, modality: str, file_window: tuple[float, float] | None) -> tuple[float, float]:
    """The window a volume opens with: the file's own, CT soft tissue, or percentiles."""
    if file_window is not None and file_window[1] > 0:
        return float(file_window[0]), float(file_window[1])
    if voxels.dtype == np.uint8:
        return 127.5, 255.0
    if modality == "CT":
        return 40.0, 400.0
    return percentile_window(voxels)


def apply_window(image: np.ndarray, center: float, width: float) -> np.ndarray:
    """Map values through a window to uint8 0..255 (any shape, same shape out).

    Follows the DICOM linear VOI function closely enough for display:
    ``center - width/2`` maps to 0 and ``center + width/2`` to 255.
    """
    width = max(float(width), 1e-6)
    low = float(center) - width / 2.0
    scaled = (image.astype(np.float32) - low) * (255.0 / width)
    return np.clip(scaled, 0.0, 255.0).astype(np.uint8)


@dataclass(frozen=True)
class ModelInputPreset:
    """How raw voxels become the 8-bit image a model is given.

    ``kind`` is 'window' (fixed center/width), 'percentile' (0.5-99.5 percentile of
    the whole volume's non-zero voxels) or 'identity' (8-bit data as it is).
    """

    key: str
    kind: str
    center: float = 0.0
    width: float = 1.0

    def signature(self) -> str:
        """Stable text naming this preset, for cache keys."""
        return f"{self.key}:{self.kind}:{self.center:g}:{self.width:g}"


MODEL_INPUT_PRESETS: dict[str, ModelInputPreset] = {
    "ct_soft_tissue": ModelInputPreset("ct_soft_tissue", "window", 40.0, 400.0),
    "ct_lung": ModelInputPreset("ct_lung", "window", -600.0, 1500.0),
    "ct_bone": ModelInputPreset("ct_bone", "window", 400.0, 1800.0),
    "ct_brain": ModelInputPreset("ct_brain", "window", 40.0, 80.0),
    "percentile": ModelInputPreset("percentile", "percentile"),
    "identity": ModelInputPreset("identity", "identity"),
}


def default_model_input_preset(voxels: np.ndarray, modality: str) -> ModelInputPreset:
    """CT: soft tissue window; 8-bit images: as they are; everything else: percentiles."""
    if voxels.dtype == np.uint8:
        return MODEL_INPUT_PRESETS["identity"]
    if modality == "CT":
        return MODEL_INPUT_PRESETS["ct_soft_tissue"]
    return MODEL_INPUT_PRESETS["percentile"]


def resolve_model_input(preset: ModelInputPreset, voxels: np.ndarray) -> ModelInputPreset:
    """Turn a 'percentile' preset into the fixed window it means for ``voxels``.

    The window is computed once over the whole volume, so every slice of a volume is
    normalised the same way; other presets come back unchanged.
    """
    if preset.kind != "percentile":
        return preset
    center, width = percentile_window(voxels)
    return ModelInputPreset(preset.key, "window", center, width)


def to_model_input(slice_image: np.ndarray, preset: ModelInputPreset) -> np.ndarray:
    """uint8 RGB ``[y, x, 3]`` for the model from a slice ``[y, x]`` or ``[y, x, 3]``.

    ``preset`` must be resolved (see :func:`resolve_model_input`).
    """
    if preset.kind == "percentile":
        raise ValueError("resolve the percentile preset over the volume first (resolve_model_input)")
    if preset.kind == "identity":
        image8 = np.clip(slice_image, 0, 255).astype(np.uint8)
    else:
        image8 = apply_window(slice_image, preset.center, preset.width)
    if image8.ndim == 2:
        image8 = np.repeat(image8[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image8)
