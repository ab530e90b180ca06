"""Loose box in, tight-box mask out: decoder-side refinement of a drawn box.

People draw boxes with 5-20 % margin per side; MedSAM-family models are trained on
tight boxes and tend to fill a loose one. Each box rule here costs decoder passes only
(about 80 ms each with LiteMedSAM), never an encoder pass: the caller decodes every
box against the SAME embedding (for an ROI-zoom crop, the same crop), so the live
preview survives.

Rules (``BoxRefinement.mode``):

``"refit"``: decode the drawn box; take the bounding box of the mask's largest part
    plus a small margin; where that lies clearly inside the drawn box, move the side
    in (never out: the drawn box is the user's limit) and decode again; repeat up to
    ``iterations`` times while a side still moves.
``"vote"``: average the decoder's low-resolution logits over the drawn box and copies
    shrunk by ``shrink_fractions`` of its size per side.

After the box rule (any mode, "off" included), ``intensity_trim`` drops the mask's
pixels whose voxel values look like the mask's surroundings (engine/intensity_trim.py):
no decoder pass, a few milliseconds. It is the default (``DEFAULT_REFINEMENT``).

numpy only. Boxes are ``(x0, y0, x1, y1)`` inclusive pixel corners, x = column,
y = row, in whatever frame the ``decode`` callable uses (the engine passes the
encoded crop's frame); masks are bool ``[rows, columns]`` in that frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from medsam_gui.engine.intensity_trim import IntensityTrim, trim_outside_like_pixels

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Decoded:
    """One decoder pass: bool ``mask`` ``[rows, columns]``, the predicted IoU ``score``,
    and ``logits`` (float32 low-resolution ``[h, w]`` array, same frame for every box
    decoded against one embedding), plus anything the caller wants back (``extra``)."""

    mask: np.ndarray
    score: float
    logits: np.ndarray
    extra: Any = None


@dataclass(frozen=True)
class BoxRefinement:
    """How to refine a drawn box (see the module docstring).

    mode: "refit", "vote", or "off".
    margin_fraction: margin added around the mask's bounding box, as a fraction of
        its side (each side), at least ``margin_px`` pixels.
    margin_px: smallest margin in pixels.
    min_gap_fraction: a side moves in only when the mask's box lies more than this
        fraction of the drawn box's side inside it (a tight box stays as drawn).
    iterations: refit rounds at most (each one decoder pass).
    keep_if_score_drops: keep the previous mask when the refit's predicted IoU is more
        than this below the previous one's (None: always take the refit).
    shrink_fractions: "vote": per-side shrink of each extra box (fraction of its size).
    intensity_trim: after the box rule, drop the mask's pixels that look like its
        surroundings (see engine/intensity_trim.py); None: keep the mask as decoded.
    """

    mode: str = "refit"
    margin_fraction: float = 0.0
    margin_px: int = 1
    min_gap_fraction: float = 0.04
    iterations: int = 1
    keep_if_score_drops: float | None = None
    shrink_fractions: tuple[float, ...] = (0.05, 0.10)
    intensity_trim: IntensityTrim | None = None


def largest_component_box(mask_yx: np.ndarray) -> Box | None:
    """Bounding box of the mask's largest 8-connected part (None for an empty mask);
    stray specks far from the object do not hold a side out."""
    if not mask_yx.any():
        return None
    from scipy import ndimage

    labelled, count = ndimage.label(mask_yx, structure=np.ones((3, 3), dtype=bool))
    if count > 1:
        sizes = np.bincount(labelled.ravel())[1:]
        mask_yx = labelled == int(np.argmax(sizes)) + 1
    rows = np.flatnonzero(mask_yx.any(axis=1))
    cols = np.flatnonzero(mask_yx.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


def refit_box(mask_yx: np.ndarray, drawn_box: Box, settings: BoxRefinement) -> Box | None:
    """The box to decode next: each side of ``drawn_box`` moved in to the mask's box
    (plus margin) where the mask lies clearly inside it; None when no side moves."""
    mask_box = largest_component_box(mask_yx)
    if mask_box is None:
        return None
    x0, y0, x1, y1 = drawn_box
    width, height = x1 - x0 + 1, y1 - y0 + 1
    mx0, my0, mx1, my1 = mask_box
    margin_x = max(settings.margin_fraction * (mx1 - mx0 + 1), settings.margin_px)
    margin_y = max(settings.margin_fraction * (my1 - my0 + 1), settings.margin_px)
    gap_x, gap_y = settings.min_gap_fraction * width, settings.min_gap_fraction * height
    new = [x0, y0, x1, y1]
    if mx0 - x0 > gap_x:
        new[0] = int(round(max(mx0 - margin_x, x0)))
    if my0 - y0 > gap_y:
        new[1] = int(round(max(my0 - margin_y, y0)))
    if x1 - mx1 > gap_x:
        new[2] = int(round(min(mx1 + margin_x, x1)))
    if y1 - my1 > gap_y:
        new[3] = int(round(min(my1 + margin_y, y1)))
    new_box = tuple(new)
    if new_box == tuple(drawn_box) or new_box[2] <= new_box[0] or new_box[3] <= new_box[1]:
        return None
    return new_box  # type: ignore[return-value]


def shrunk_box(box: Box, fraction: float) -> Box:
    """``box`` with each side moved in by ``fraction`` of its size (at least 1 px wide)."""
    x0, y0, x1, y1 = box
    dx, dy = fraction * (x1 - x0 + 1), fraction * (y1 - y0 + 1)
    nx0, nx1 = int(round(x0 + dx)), int(round(x1 - dx))
    ny0, ny1 = int(round(y0 + dy)), int(round(y1 - dy))
    if nx1 <= nx0:
        nx0 = nx1 = (x0 + x1) // 2
    if ny1 <= ny0:
        ny0 = ny1 = (y0 + y1) // 2
    return nx0, ny0, nx1, ny1


def refine(
    decode: Callable[[Box], Decoded],
    drawn_box: Box,
    settings: BoxRefinement,
    logits_to_mask: Callable[[np.ndarray], np.ndarray] | None = None,
    image: np.ndarray | None = None,
) -> tuple[Decoded, Box, int]:
    """Decode ``drawn_box`` and refine it by ``settings``.

    Args:
        decode: box -> Decoded, always against the same embedding.
        drawn_box: the user's box (inclusive corners) in decode's frame.
        settings: the rule.
        logits_to_mask: float ``[h, w]`` logits -> bool mask; needed for "vote".
        image: voxel values ``[rows, columns]`` (or ``[rows, columns, channels]``) in
            decode's frame; needed for ``intensity_trim``.
    Returns:
        (the Decoded to show, the last box decoded, the number of decoder passes). With
        ``intensity_trim`` its mask is the trimmed one and its logits the model's.
    """
    decoded, box, passes = _apply_box_rule(decode, drawn_box, settings, logits_to_mask)
    if settings.intensity_trim is None:
        return decoded, box, passes
    if image is None:
        raise ValueError("the intensity trim needs the image")
    return replace(decoded, mask=trim_outside_like_pixels(decoded.mask, image, settings.intensity_trim)), box, passes


def _apply_box_rule(decode, drawn_box: Box, settings: BoxRefinement, logits_to_mask) -> tuple[Decoded, Box, int]:
    """``settings.mode`` applied: (Decoded, last box decoded, decoder passes)."""
    first = decode(drawn_box)
    if settings.mode == "off":
        return first, drawn_box, 1
    if settings.mode == "vote":
        if logits_to_mask is None:
            raise ValueError("the vote rule needs logits_to_mask")
        decoded = [first] + [decode(shrunk_box(drawn_box, f)) for f in settings.shrink_fractions]
        logits = np.mean([d.logits for d in decoded], axis=0).astype(np.float32)
        score = float(np.mean([d.score for d in decoded]))
        return Decoded(logits_to_mask(logits), score, logits, first.extra), drawn_box, len(decoded)
    if settings.mode != "refit":
        raise ValueError(f"unknown box refinement mode '{settings.mode}'")
    current, box, passes = first, drawn_box, 1
    for _ in range(max(settings.iterations, 0)):
        next_box = refit_box(current.mask, box, settings)
        if next_box is None:
            break
        candidate = decode(next_box)
        passes += 1
        if settings.keep_if_score_drops is not None and candidate.score < current.score - settings.keep_if_score_drops:
            break
        current, box = candidate, next_box
    return current, box, passes


OFF = BoxRefinement(mode="off")
# what Engine.predict uses unless told otherwise: the decoded mask, trimmed by intensity. bench_quality.py
# (62 cases; loose = random 0-20 % margin per side, seed 1): tight 0.796 / loose 0.791 vs 0.779 / 0.743 off
# (loose seeds 2, 3: 0.775, 0.778 vs 0.731, 0.737). The box rules alone help no loose box without costing tight
# ones (refit 0.769 / 0.744, vote 0.727 / 0.765); even the best shrunken copy chosen knowing the truth gives
# loose 0.779. The trim's weak spot: an object whose rim looks like its surroundings (dcmqi heart, tight 0.861).
DEFAULT_REFINEMENT = BoxRefinement(mode="off", intensity_trim=IntensityTrim())
