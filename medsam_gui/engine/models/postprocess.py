"""Low-resolution decoder logits -> a mask on the image grid, in one resampling pass.

The backends' post-processing (:class:`LogitPostprocessing`): numpy in, numpy out,
torch inside, so the engine outside ``engine/models/`` never touches a tensor.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from medsam_gui.engine.frame import ModelFrame


def lowres_to_image_logits(lowres_logits: torch.Tensor, frame: ModelFrame) -> torch.Tensor:
    """Bilinear-sample ``[1, 1, L, L]`` logits at every image pixel centre -> ``[H, W]``.

    Equals LiteMedSAM / MedSAM ``postprocess_masks`` (crop the logits to the resized
    content, ``F.interpolate(..., 'bilinear', align_corners=False)`` to the image
    size) without materialising the intermediate; for SAM's own pipeline (upsample to
    1024, crop, resize) it is the same sampling up to bilinear-of-bilinear rounding.
    """
    rows, cols = frame.lowres_sample_grid()
    size = frame.lowres_size
    # grid_sample with align_corners=False takes normalised coords: -1 = left edge of pixel 0
    grid_x = torch.from_numpy((2.0 * (cols + 0.5) / size - 1.0).astype(np.float32))
    grid_y = torch.from_numpy((2.0 * (rows + 0.5) / size - 1.0).astype(np.float32))
    grid = torch.stack(torch.meshgrid(grid_y, grid_x, indexing="ij")[::-1], dim=-1)[None]
    values = lowres_logits.float().cpu()
    sampled = F.grid_sample(values, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return sampled[0, 0]


def mask_from_logits(values: np.ndarray, frame: ModelFrame, threshold_logit: float = 0.0) -> np.ndarray:
    """float32 ``[L, L]`` low-res logits -> bool ``[H, W]`` mask on the image grid of
    ``frame``: logit > ``threshold_logit`` (0 = sigmoid > 0.5; no sigmoid pass)."""
    lowres = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))[None, None]  # no copy
    return (lowres_to_image_logits(lowres, frame) > threshold_logit).numpy()


def reframe_logits(previous, crop: tuple[int, int, int, int], frame: ModelFrame) -> np.ndarray:
    """Carry earlier low-res logits (a :class:`LowResLogits`) into another embedding's
    frame: sample them on the slice, cut ``crop``, resize into ``frame``'s content and
    pad (with a confident 'outside' logit) -> float32 ``[L, L]``."""
    outside = -20.0
    px0, py0, px1, py1 = previous.crop
    x0, y0, x1, y1 = crop
    slice_logits = torch.full((max(py1, y1), max(px1, x1)), outside)
    slice_logits[py0:py1, px0:px1] = lowres_to_image_logits(torch.from_numpy(previous.values)[None, None], previous.frame)
    region = slice_logits[y0:y1, x0:x1][None, None]
    content = F.interpolate(region, size=frame.content_size_hw, mode="bilinear", align_corners=False)
    padded = torch.full((1, 1, frame.input_size, frame.input_size), outside)
    padded[..., : frame.content_size_hw[0], : frame.content_size_hw[1]] = content
    lowres = F.interpolate(padded, size=(frame.lowres_size, frame.lowres_size), mode="bilinear", align_corners=False)
    return lowres[0, 0].numpy()


class LogitPostprocessing:
    """The backends' post-processing of their decoder's low-res logits, numpy at the
    boundary (a mix-in of every backend):

    * ``mask_from_logits(values [L, L] float32, frame, threshold_logit) -> bool [H, W]``
    * ``reframe_logits(previous LowResLogits, crop, frame) -> float32 [L, L]``
    """

    mask_from_logits = staticmethod(mask_from_logits)
    reframe_logits = staticmethod(reframe_logits)
