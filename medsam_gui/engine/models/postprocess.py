"""Low-resolution decoder logits -> a mask on the image grid, in one resampling pass.

The backends' post-processing (:class:`LogitPostprocessing`): numpy in, numpy out. Every
resampling here is bilinear and separable (rows, then columns), so it runs as two
gathers and two weighted sums, in about a millisecond for a 512 x 512 slice; it used
torch's ``grid_sample`` before, whose thread pool, beside ONNX Runtime's on a busy CPU,
made this step take longer than the decoder itself (issue 14).
"""

from __future__ import annotations

import numpy as np

from medsam_gui.engine.frame import ModelFrame

OUTSIDE_LOGIT_OF_REFRAMED = -20.0  # a confident "outside" where earlier logits have no value


def sample_separable(values: np.ndarray, row_positions: np.ndarray, col_positions: np.ndarray) -> np.ndarray:
    """Bilinear samples of float32 ``values [R, C]`` at ``row_positions [H]`` x
    ``col_positions [W]`` (pixel coordinates: pixel ``i`` is at ``i``; positions beyond
    the edges take the edge value) -> float32 ``[H, W]``."""
    row_low, row_high, row_fraction = _neighbours(row_positions, values.shape[0])
    col_low, col_high, col_fraction = _neighbours(col_positions, values.shape[1])
    rows = values[row_low] * (1.0 - row_fraction)[:, None] + values[row_high] * row_fraction[:, None]
    return rows[:, col_low] * (1.0 - col_fraction) + rows[:, col_high] * col_fraction


def _neighbours(positions: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each position: the index below and above it (clamped into ``[0, size)``) and
    the float32 weight of the one above."""
    positions = np.clip(np.asarray(positions, dtype=np.float64), 0.0, size - 1.0)
    low = np.floor(positions).astype(np.intp)
    high = np.minimum(low + 1, size - 1)
    return low, high, (positions - low).astype(np.float32)


def resize_bilinear(values: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """float32 ``[R, C]`` -> ``[H, W]``, as ``F.interpolate(mode='bilinear',
    align_corners=False)`` resizes (output pixel ``i`` samples ``(i + 0.5) * scale - 0.5``)."""
    positions = [(np.arange(out, dtype=np.float64) + 0.5) * (size / out) - 0.5
                 for out, size in zip(size_hw, values.shape)]
    return sample_separable(values, *positions)


def lowres_to_image_logits(values: np.ndarray, frame: ModelFrame) -> np.ndarray:
    """Bilinear-sample float32 ``[L, L]`` logits at every image pixel centre -> ``[H, W]``.

    Equals LiteMedSAM / MedSAM ``postprocess_masks`` (crop the logits to the resized
    content, ``F.interpolate(..., 'bilinear', align_corners=False)`` to the image
    size) without materialising the intermediate; for SAM's own pipeline (upsample to
    1024, crop, resize) it is the same sampling up to bilinear-of-bilinear rounding.
    """
    rows, cols = frame.lowres_sample_grid()
    return sample_separable(np.asarray(values, dtype=np.float32), rows, cols)


def mask_from_logits(values: np.ndarray, frame: ModelFrame, threshold_logit: float = 0.0) -> np.ndarray:
    """float32 ``[L, L]`` low-res logits -> bool ``[H, W]`` mask on the image grid of
    ``frame``: logit > ``threshold_logit`` (0 = sigmoid > 0.5; no sigmoid pass)."""
    return lowres_to_image_logits(values, frame) > threshold_logit


def reframe_logits(previous, crop: tuple[int, int, int, int], frame: ModelFrame) -> np.ndarray:
    """Carry earlier low-res logits (a :class:`LowResLogits`) into another embedding's
    frame: sample them on the slice, cut ``crop``, resize into ``frame``'s content and
    pad (with a confident 'outside' logit) -> float32 ``[L, L]``."""
    px0, py0, px1, py1 = previous.crop
    x0, y0, x1, y1 = crop
    slice_logits = np.full((max(py1, y1), max(px1, x1)), OUTSIDE_LOGIT_OF_REFRAMED, dtype=np.float32)
    slice_logits[py0:py1, px0:px1] = lowres_to_image_logits(previous.values, previous.frame)
    content = resize_bilinear(slice_logits[y0:y1, x0:x1], frame.content_size_hw)
    padded = np.full((frame.input_size, frame.input_size), OUTSIDE_LOGIT_OF_REFRAMED, dtype=np.float32)
    padded[: frame.content_size_hw[0], : frame.content_size_hw[1]] = content
    return resize_bilinear(padded, (frame.lowres_size, frame.lowres_size))


class LogitPostprocessing:
    """The backends' post-processing of their decoder's low-res logits, numpy at the
    boundary (a mix-in of every backend):

    * ``mask_from_logits(values [L, L] float32, frame, threshold_logit) -> bool [H, W]``
    * ``reframe_logits(previous LowResLogits, crop, frame) -> float32 [L, L]``
    """

    mask_from_logits = staticmethod(mask_from_logits)
    reframe_logits = staticmethod(reframe_logits)
