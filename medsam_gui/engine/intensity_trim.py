"""A loose box's overshoot trimmed by intensity: the mask's pixels whose voxel values
are clearly more common just outside the mask than inside it are dropped.

A box drawn with margin makes LiteMedSAM spill into the tissue around the object. The
spill's values are those of that tissue, which also fills a ring of ``ring_px`` pixels
around the mask. So, from histograms of the mask's and the ring's values (``bins`` over
their 0.5-99.5 percentile range, smoothed): a mask pixel is dropped when its bin's
share among the ring's pixels exceeds its share among the mask's by more than ``min_z``
standard errors (a two-proportion z-test, so that where object and surroundings look
alike, histogram noise drops nothing). Then parts smaller than ``min_part_fraction`` of
the largest are dropped and holes filled, never beyond the model's mask. With a tight
box the mask holds little of the surroundings and barely changes. It fails where the
object's own rim looks like its surroundings (the dcmqi heart's pericardial fat); see
``benchmarks/bench_quality.py`` (issue 13) for the numbers.

Pure post-processing (no decoder or encoder pass, a few ms), numpy and scipy only.
Arrays are ``[rows, columns]`` of one frame (the engine passes the encoded crop's): the
mask bool, the image the raw voxel values (HU for CT; channels averaged for RGB
``[rows, columns, 3]``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
MIN_RING_PIXELS = 10  # fewer surrounding pixels (the mask fills its crop) say nothing: no change


@dataclass(frozen=True)
class IntensityTrim:
    """How the mask is trimmed (see the module docstring).

    min_z: a pixel goes when its value's bin is more common in the ring than in the
        mask by more than this many standard errors (0 would let histogram noise decide).
    ring_px: width of the surrounding ring whose values stand for the surroundings.
    bins: histogram bins over the 0.5-99.5 percentile range of mask and ring values.
    smoothing_bins: Gaussian smoothing of both histograms, in bins.
    min_part_fraction: parts of the result smaller than this fraction of its largest
        part are dropped (fragments the cut left behind).
    """

    min_z: float = 1.0
    ring_px: int = 3
    bins: int = 16
    smoothing_bins: float = 1.0
    min_part_fraction: float = 0.05


def outside_excess_z(image_yx: np.ndarray, inside_yx: np.ndarray, outside_yx: np.ndarray, bins: int,
                     smoothing_bins: float) -> np.ndarray:
    """float ``[rows, columns]``: per pixel, how many standard errors more common its value's
    histogram bin is among ``outside_yx``'s pixels than among ``inside_yx``'s (two-proportion
    z; negative: more common inside). Histograms of ``image_yx`` (float ``[rows, columns]``)
    over the 0.5-99.5 percentile range of both sets, Gaussian-smoothed by ``smoothing_bins``;
    all zeros when the values span no range."""
    low, high = np.percentile(image_yx[inside_yx | outside_yx], [0.5, 99.5])
    if not high > low:
        return np.zeros(image_yx.shape)
    bin_of = np.clip(((image_yx - low) / (high - low) * bins).astype(np.int64), 0, bins - 1)

    def counts(where):
        return ndimage.gaussian_filter1d(np.bincount(bin_of[where], minlength=bins).astype(np.float64), smoothing_bins)

    inside, outside = counts(inside_yx), counts(outside_yx)
    pooled = (inside + outside) / (inside.sum() + outside.sum())
    standard_error = np.sqrt(np.maximum(pooled * (1 - pooled) * (1 / inside.sum() + 1 / outside.sum()), 1e-12))
    return ((outside / outside.sum() - inside / inside.sum()) / standard_error)[bin_of]


def trim_outside_like_pixels(mask_yx: np.ndarray, image_yx: np.ndarray, settings: IntensityTrim) -> np.ndarray:
    """The mask without the pixels that look like its surroundings.

    Args:
        mask_yx: bool ``[rows, columns]``, the model's mask.
        image_yx: voxel values ``[rows, columns]`` or ``[rows, columns, channels]``.
        settings: the rule's parameters.
    Returns:
        bool ``[rows, columns]``, a subset of ``mask_yx`` (``mask_yx`` itself when it is
        empty or fills its frame so that no ring surrounds it).
    """
    if not mask_yx.any():
        return mask_yx
    rows = np.flatnonzero(mask_yx.any(axis=1))
    cols = np.flatnonzero(mask_yx.any(axis=0))
    pad = settings.ring_px + 1  # work on the mask's bounding box and its ring only
    window = (slice(max(rows[0] - pad, 0), rows[-1] + pad + 1), slice(max(cols[0] - pad, 0), cols[-1] + pad + 1))
    mask = mask_yx[window]
    image = np.asarray(image_yx[window], dtype=np.float64)
    if image.ndim == 3:
        image = image.mean(axis=-1)
    ring = ndimage.binary_dilation(mask, iterations=settings.ring_px) & ~mask
    if ring.sum() < MIN_RING_PIXELS:
        return mask_yx
    kept = mask & (outside_excess_z(image, mask, ring, settings.bins, settings.smoothing_bins) <= settings.min_z)
    labelled, count = ndimage.label(kept, structure=EIGHT_CONNECTED)
    if count > 1:
        sizes = np.bincount(labelled.ravel())
        sizes[0] = 0
        kept = np.isin(labelled, np.flatnonzero(sizes >= settings.min_part_fraction * sizes.max()))
    kept = ndimage.binary_fill_holes(kept) & mask
    out = np.zeros_like(mask_yx)
    out[window] = kept
    return out
