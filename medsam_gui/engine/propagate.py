"""3D: carry an accepted mask from a key slice through its neighbours, or segment
between boxes drawn on a few key slices (MedSAM's 3D recipe).

Slice axis: the walk runs along the slice axis of a plane (``plane``: 'axial' by
default, 'coronal' or 'sagittal'; see core/planes.py); key masks and boxes are in that
plane's displayed slice pixels and every per-slice array is indexed by its slice index,
while the 3D mask stays ``[z, y, x]`` on the voxel grid. "Up" means increasing slice
index (z for axial), "down" decreasing. Propagation walks up from the key slice, then
down (or only one way: ``direction``). Each slice is prompted with the box of the
previous slice's mask (plus a small margin) and, when enabled, the
previous prediction as ``mask_input``; pixels of the new mask far outside the key
object's intensity are dropped (``pixel_intensity_sd``); the walk stops where the object ends (mask
empty or tiny; suddenly much larger: a leak; no longer shrinking once it has tapered
below ``tail_fraction`` of the walk's largest mask; or filled with tissue of another
intensity than the key slice's object: the model has moved on to a neighbour), at
the user's slice range, at a protected slice (accepted or edited by hand: never
overwritten), or at the volume's edge. Each propagated slice gets a confidence: the
model's predicted IoU and the intensity shift the stop rule measures
(``PropagationResult.slice_score`` / ``slice_intensity_shift``), so a UI can flag weak
slices. :func:`propagate_from_keys` segments several key slices from their boxes and
propagates between and around them. Encodes are requested a few slices
ahead of the front so the decoder waits as little as possible.

Threading: the functions here only call ``engine.request`` (whole slices, or with a
box the region ``predict`` will encode for it), ``engine.predict`` and
(headless, ``encode_inline=True``) ``engine.run_next_job``, and read
``engine.volume``. In the app they run on a thread of their own while the worker
thread runs the engine's queue; they never touch a Document: the caller paints the
returned 3D mask as one undo step (``Document.paint_volume``) on the GUI thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.core.planes import PlaneGeometry, slice_axis
from medsam_gui.engine.box_refine import BoxRefinement
from medsam_gui.engine.scheduler import PREDICT_PRIORITY
from medsam_gui.engine.types import EmbeddingNotReady, SliceWithoutContrast

ProgressCallback = Callable[[int, int], None]  # (slices done, slices planned)

WAIT_POLL_S = 0.005
# Higher runs sooner. Slices ahead of the front come right after an embedding that a
# predict() call is already waiting for, and before the visible slice's neighbours.
ENCODE_PRIORITY_FRONT = PREDICT_PRIORITY - 1
DIRECTIONS = ("both", "up", "down")  # up: increasing slice index (z for axial)


class PropagationCancelled(Exception):
    """Raised inside the walk when the cancel event is set; never escapes the public functions."""


@dataclass(frozen=True)
class PropagationSettings:
    """How far and how carefully to propagate.

    Attributes:
        box_margin_px: pixels added on each side of the previous mask's bounding box
            (1: with LiteMedSAM's generous mask threshold a wider margin lets the
            mask grow slice after slice; see benchmarks/bench_propagation.py --margin).
        box_margin_fraction: added to that margin, as a fraction of the mask box's side
            (each side); with a box refinement a wider box lets a growing object grow.
        min_area_px: a mask smaller than this ends the object.
        min_area_fraction: ... or smaller than this fraction of the key slice's mask.
        max_growth: a mask more than this many times the previous one is a leak: stop.
        tail_fraction: once a walk's mask is smaller than this fraction of the largest
            mask of that walk (the key slice's included), the object is ending and each
            further mask must be smaller than the one before: one that is not has left
            the object's tapering end for a neighbour of similar density (the model keeps
            finding a blob of about the same size slice after slice), and ends the walk.
            Plane-independent: no slice count or spacing in it. 0 disables. See
            benchmarks/bench_propagation.py --plane (without it and without the intensity
            trim, the coronal right kidney of example_ct_sm ran 28 slices past its end).
        max_intensity_shift: stop when the mean voxel value under a slice's mask is
            further than this many standard deviations (of the key mask's voxels) from
            the key mask's mean: past the object's end the model tends to latch onto a
            neighbouring structure of other density (0 disables; see
            benchmarks/bench_propagation.py --max-intensity-shift). Measured on the
            mask after ``pixel_intensity_sd`` has cleaned it.
        pixel_intensity_sd: on each propagated slice, drop the mask's pixels whose voxel
            value lies further than this many key-mask standard deviations from the key
            mask's mean (channels averaged): the part of a mask that spills into a
            neighbour of other density. 0 disables. The prediction's logits (used as the
            next ``mask_input``) are left as the model gave them.
        min_score: a mask whose predicted IoU is below this ends the object.
        use_mask_input: pass the previous slice's prediction (its low-resolution
            logits, re-framed by the engine) as ``mask_input`` along with the box.
        lookahead: how many slices ahead of the front to request encodes for.
        slice_range: (first, last) inclusive slices the walk may visit, or None for all.
        box_refinement: the loose-box rule for each slice's ``engine.predict`` (see
            engine/box_refine.py); None: the engine's default.
        weak_score: a slice whose predicted IoU is below this is flagged weak.
        weak_intensity_shift: ... or whose intensity shift is above this (key SDs).
    """

    box_margin_px: int = 1
    box_margin_fraction: float = 0.0
    min_area_px: int = 10
    min_area_fraction: float = 0.02
    max_growth: float = 2.5
    tail_fraction: float = 0.2
    max_intensity_shift: float = 0.8
    pixel_intensity_sd: float = 2.0
    min_score: float = 0.0
    use_mask_input: bool = False
    lookahead: int = 3
    slice_range: tuple[int, int] | None = None
    box_refinement: BoxRefinement | None = None
    weak_score: float = 0.75
    weak_intensity_shift: float = 0.6


@dataclass
class PropagationResult:
    """The 3D outcome of a walk along ``plane``'s slice axis.

    Per-slice arrays (``[slices]``) are indexed by the plane's slice index (z for axial,
    y for coronal, x for sagittal).

    Attributes:
        mask_zyx: bool ``[z, y, x]`` on the voxel grid, the key mask(s) included; False on
            slices not written.
        first_slice, last_slice: inclusive range of the plane's slices holding mask voxels.
        cancelled: True when the user stopped it (the mask holds what was done).
        stop_reasons: why each direction ended, e.g. {'up': 'object ended at slice 41'}.
        slice_written: bool ``[slices]``: slices this result decides (key slices and every
            propagated slice kept; never a protected slice). A caller re-propagating
            replaces the label on exactly these slices (Document.paint_slice mode
            'replace') and leaves the others alone.
        slice_score: float32 ``[slices]``: the model's predicted IoU on each slice it
            predicted (kept or the one that ended the walk); NaN elsewhere (key slices
            from an accepted mask, protected or unvisited slices).
        slice_intensity_shift: float32 ``[slices]``: how many key-object SDs the mask's mean
            intensity lies from the key slice's object (the stop rule's measure); NaN
            where not predicted.
        weak_score, weak_intensity_shift: the thresholds :attr:`slice_weak` uses.
        plane: the plane whose slice axis the walk followed.
    """

    mask_zyx: np.ndarray
    first_slice: int
    last_slice: int
    cancelled: bool = False
    stop_reasons: dict[str, str] = field(default_factory=dict)
    slice_written: np.ndarray | None = None
    slice_score: np.ndarray | None = None
    slice_intensity_shift: np.ndarray | None = None
    weak_score: float = PropagationSettings.weak_score
    weak_intensity_shift: float = PropagationSettings.weak_intensity_shift
    plane: str = "axial"

    def __post_init__(self) -> None:
        count = self.mask_zyx.shape[slice_axis(self.plane)]
        if self.slice_written is None:
            self.slice_written = slices_with_mask(self.mask_zyx, self.plane)
        if self.slice_score is None:
            self.slice_score = np.full(count, np.nan, dtype=np.float32)
        if self.slice_intensity_shift is None:
            self.slice_intensity_shift = np.full(count, np.nan, dtype=np.float32)

    @property
    def slice_weak(self) -> np.ndarray:
        """bool ``[slices]``: written slices the UI should flag for review (low predicted IoU
        or an intensity shift near the stop threshold)."""
        with np.errstate(invalid="ignore"):
            weak = (self.slice_score < self.weak_score) | (self.slice_intensity_shift > self.weak_intensity_shift)
        return weak & self.slice_written


def slices_with_mask(mask_zyx: np.ndarray, plane: str = "axial") -> np.ndarray:
    """bool ``[slices]``: which slices of ``plane`` hold voxels of the ``[z, y, x]`` mask."""
    axis = slice_axis(plane)
    return mask_zyx.any(axis=tuple(other for other in range(3) if other != axis))


def box_of_mask(mask_yx: np.ndarray, margin_px: int = 0) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1), inclusive corners, of a bool ``[y, x]`` mask plus a
    margin, clipped to the image; None for an empty mask."""
    rows = np.flatnonzero(mask_yx.any(axis=1))
    columns = np.flatnonzero(mask_yx.any(axis=0))
    if rows.size == 0:
        return None
    height, width = mask_yx.shape
    return (
        max(int(columns[0]) - margin_px, 0),
        max(int(rows[0]) - margin_px, 0),
        min(int(columns[-1]) + margin_px, width - 1),
        min(int(rows[-1]) + margin_px, height - 1),
    )


def propagate(
    engine,
    key_slice_index: int,
    key_mask_yx: np.ndarray,
    slice_count: int,
    settings: PropagationSettings | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    encode_inline: bool = False,
    key_prediction=None,
    direction: str = "both",
    protected_slices=None,
    plane: str = "axial",
) -> PropagationResult:
    """Carry ``key_mask_yx`` (bool ``[rows, columns]`` on slice ``key_slice_index`` of
    ``plane``) up and/or down that plane's slice axis.

    "Re-propagate from this slice": pass the corrected slice as the key and the slices
    accepted or edited by hand as ``protected_slices``; the walk stops before each.

    Args:
        engine: an engine whose volume has ``slice_count`` slices of ``plane`` (``set_volume``
            done); its ``volume.voxels`` give the intensities for ``max_intensity_shift``.
        key_slice_index: the slice of the accepted mask (index in ``plane``).
        key_mask_yx: the accepted mask, bool ``[rows, columns]`` of the plane's displayed
            slice (``PlaneGeometry.image_shape``); must not be empty.
        slice_count: number of slices of the volume in ``plane``.
        settings: stopping and prompting rules (defaults: PropagationSettings()).
        progress: called as ``progress(done, total)`` after each slice (any thread).
        cancel: set it to stop between slices; the result holds what was done.
        encode_inline: run encodes on this thread (headless use, no worker thread).
        key_prediction: the key slice's Prediction, used as the first ``mask_input``.
        direction: "both", "up" (increasing slice index only) or "down" (decreasing only).
        protected_slices: slice indices of ``plane`` (an iterable of ints, or a bool
            ``[slices]`` array) that propagation must never change; a walk ends on reaching
            one. The key slice itself may be in it (it is written with ``key_mask_yx`` as given).
        plane: 'axial', 'coronal' or 'sagittal': the plane of the key slice and of the walk.
    Returns:
        PropagationResult with the bool ``[z, y, x]`` mask, the slices it wrote and a
        per-slice confidence.
    """
    settings = settings or PropagationSettings()
    if direction not in DIRECTIONS:
        raise MedsamGuiError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    key_mask = np.asarray(key_mask_yx, dtype=bool)
    if not key_mask.any():
        raise MedsamGuiError("the key slice mask is empty: accept a mask before propagating")
    first_allowed, last_allowed = _allowed_range(settings.slice_range, slice_count, key_slice_index)
    protected = protected_slice_flags(protected_slices, slice_count)
    geometry = _geometry(engine, plane, key_mask.shape)
    mask_zyx = np.zeros(geometry.shape_zyx, dtype=bool)
    geometry.take(mask_zyx, key_slice_index)[...] = key_mask
    written = np.zeros(slice_count, dtype=bool)
    written[key_slice_index] = True
    scores = np.full(slice_count, np.nan, dtype=np.float32)
    shifts = np.full(slice_count, np.nan, dtype=np.float32)
    if key_prediction is not None:
        scores[key_slice_index] = float(key_prediction.score)
    min_area = max(settings.min_area_px, int(settings.min_area_fraction * key_mask.sum()))
    voxels = engine.volume.voxels
    key_mean, key_std = _intensity_stats(geometry.take(voxels, key_slice_index), key_mask)
    directions = tuple(
        (name, step, limit) for name, step, limit in (("up", 1, last_allowed), ("down", -1, first_allowed))
        if direction in ("both", name)
    )
    total = sum(abs(limit - key_slice_index) for _, _, limit in directions)
    done = 0
    reasons: dict[str, str] = {}
    cancelled = False
    key_box = _prompt_box(key_mask, settings)
    for _, step, limit in directions:  # both fronts' first slices are wanted first
        _request_ahead(engine, key_slice_index, step, _protected_limit(protected, key_slice_index, step, limit),
                       settings.lookahead, key_box, plane)
    try:
        for name, step, limit in directions:
            previous_mask, previous_prediction = key_mask, key_prediction
            largest_area = int(key_mask.sum())
            limit_here = _protected_limit(protected, key_slice_index, step, limit)
            slice_index = key_slice_index + step
            reasons[name] = f"reached slice {limit}" if limit_here == limit else f"reached protected slice {limit_here + step}"
            while (slice_index - limit_here) * step <= 0:
                box = _prompt_box(previous_mask, settings)
                _request_ahead(engine, slice_index - step, step, limit_here, settings.lookahead, box, plane)
                mask_input = None
                if settings.use_mask_input and previous_prediction is not None:
                    mask_input = replace(previous_prediction, slice_index=slice_index)
                try:
                    prediction = _predict_when_ready(engine, slice_index, box, mask_input, cancel, encode_inline,
                                                     settings.box_refinement, plane)
                except SliceWithoutContrast:
                    reasons[name] = f"slice {slice_index} has no contrast"
                    break
                done += 1
                slice_voxels = geometry.take(voxels, slice_index)
                prediction = _drop_off_intensity_pixels(prediction, slice_voxels, key_mean, key_std,
                                                        settings.pixel_intensity_sd)
                shift = _intensity_shift(slice_voxels, prediction.mask, key_mean, key_std)
                scores[slice_index], shifts[slice_index] = float(prediction.score), shift
                stop_reason = _stop_reason(prediction.mask, previous_mask, min_area, settings, slice_index,
                                           prediction.score, shift, largest_area)
                if stop_reason is None:
                    geometry.take(mask_zyx, slice_index)[...] = prediction.mask
                    written[slice_index] = True
                    previous_mask, previous_prediction = prediction.mask, prediction
                    largest_area = max(largest_area, int(prediction.mask.sum()))
                if progress is not None:
                    progress(done, total)
                if stop_reason is not None:
                    reasons[name] = stop_reason
                    break
                slice_index += step
            done = _skip_remaining(done, slice_index, step, limit)
    except PropagationCancelled:
        cancelled = True
        reasons["cancelled"] = "cancelled by the user"
    if progress is not None and not cancelled:
        progress(total, total)
    present = np.flatnonzero(slices_with_mask(mask_zyx, plane))
    return PropagationResult(mask_zyx, int(present[0]), int(present[-1]), cancelled, reasons, written, scores, shifts,
                             settings.weak_score, settings.weak_intensity_shift, plane)


def propagate_from_keys(
    engine,
    key_boxes: dict[int, tuple[int, int, int, int]],
    slice_count: int,
    settings: PropagationSettings | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    encode_inline: bool = False,
    protected_slices=None,
    plane: str = "axial",
) -> PropagationResult:
    """Boxes drawn on several key slices (of ``plane``): segment each key slice from its box, then
    propagate from each key to the slices nearer to it than to any other key (between
    two keys the fronts meet halfway; below the lowest and above the highest key the
    walk goes on until the object ends).

    Args:
        key_boxes: {slice_index: box_xyxy} (inclusive corners in the plane's displayed
            slice pixels, x = column, y = row).
        slice_count, settings, progress, cancel, encode_inline, plane: as for
            :func:`propagate` (``settings.slice_range`` bounds the whole run).
        protected_slices: as for :func:`propagate`; a protected key slice is not segmented.
    Returns:
        One PropagationResult over all keys; ``stop_reasons`` keys read
        'up from 12' / 'down from 12'.
    """
    if not key_boxes:
        raise ValueError("at least one key box is needed")
    settings = settings or PropagationSettings()
    keys = sorted(int(z) for z in key_boxes)
    protected = protected_slice_flags(protected_slices, slice_count)
    first_allowed, last_allowed = _allowed_range(settings.slice_range, slice_count, keys[0])
    _allowed_range(settings.slice_range, slice_count, keys[-1])
    for position, slice_index in enumerate(keys):
        engine.request(slice_index, ENCODE_PRIORITY_FRONT - position, plane=plane, box_xyxy=key_boxes[slice_index])
    geometry = _geometry(engine, plane)
    combined = PropagationResult(np.zeros(geometry.shape_zyx, dtype=bool), keys[0], keys[-1], plane=plane)
    combined.slice_written[:] = False
    planned = max(last_allowed - first_allowed + 1, 1)
    done_before = 0
    try:
        for position, key in enumerate(keys):
            if protected[key]:
                continue
            prediction = _predict_when_ready(engine, key, key_boxes[key], None, cancel, encode_inline,
                                             settings.box_refinement, plane)
            if not prediction.mask.any():
                combined.stop_reasons[f"key {key}"] = f"the box on slice {key} gave an empty mask"
                continue
            low = first_allowed if position == 0 else (keys[position - 1] + key) // 2 + 1
            high = last_allowed if position == len(keys) - 1 else (key + keys[position + 1]) // 2
            others = protected.copy()
            others[[k for k in keys if k != key]] = True
            part_progress = None if progress is None else (lambda d, t, base=done_before: progress(base + d, planned))
            part = propagate(engine, key, prediction.mask, slice_count, replace(settings, slice_range=(low, high)),
                             part_progress, cancel, encode_inline, prediction, "both", others, plane)
            done_before += high - low
            for array_name in ("slice_score", "slice_intensity_shift"):
                mine = getattr(part, array_name)
                getattr(combined, array_name)[part.slice_written | ~np.isnan(mine)] = mine[part.slice_written | ~np.isnan(mine)]
            written = _along(plane, part.slice_written)
            combined.mask_zyx[written] = part.mask_zyx[written]
            combined.slice_written |= part.slice_written
            combined.stop_reasons.update({f"{name} from {key}": why for name, why in part.stop_reasons.items()})
            if part.cancelled:
                raise PropagationCancelled()
    except PropagationCancelled:
        combined.cancelled = True
        combined.stop_reasons["cancelled"] = "cancelled by the user"
    present = np.flatnonzero(slices_with_mask(combined.mask_zyx, plane))
    if present.size:
        combined.first_slice, combined.last_slice = int(present[0]), int(present[-1])
    combined.weak_score, combined.weak_intensity_shift = settings.weak_score, settings.weak_intensity_shift
    if progress is not None and not combined.cancelled:
        progress(planned, planned)
    return combined


def _prompt_box(previous_mask_yx: np.ndarray, settings: PropagationSettings):
    """The box prompt for the next slice: the previous mask's box plus the margin."""
    box = box_of_mask(previous_mask_yx, 0)
    if box is None:
        return None
    rows, cols = previous_mask_yx.shape
    mx = settings.box_margin_px + settings.box_margin_fraction * (box[2] - box[0] + 1)
    my = settings.box_margin_px + settings.box_margin_fraction * (box[3] - box[1] + 1)
    return (max(int(round(box[0] - mx)), 0), max(int(round(box[1] - my)), 0),
            min(int(round(box[2] + mx)), cols - 1), min(int(round(box[3] + my)), rows - 1))


def protected_slice_flags(protected_slices, slice_count: int) -> np.ndarray:
    """bool ``[z]`` from None, an iterable of slice indices, or a bool ``[z]`` array."""
    flags = np.zeros(slice_count, dtype=bool)
    if protected_slices is None:
        return flags
    if isinstance(protected_slices, (set, frozenset)):
        protected_slices = sorted(protected_slices)
    given = np.asarray(protected_slices)
    if given.dtype == bool:
        if given.shape != (slice_count,):
            raise MedsamGuiError(f"protected_slices as flags must have shape ({slice_count},), got {given.shape}")
        return given.copy()
    indices = given.astype(np.int64).reshape(-1)
    indices = indices[(indices >= 0) & (indices < slice_count)]
    flags[indices] = True
    return flags


def _protected_limit(protected: np.ndarray, key_slice_index: int, step: int, limit: int) -> int:
    """The last slice a walk from the key in direction ``step`` may write: ``limit``, or
    the slice before the first protected slice on the way."""
    slice_index = key_slice_index + step
    while (slice_index - limit) * step <= 0:
        if protected[slice_index]:
            return slice_index - step
        slice_index += step
    return limit


def interpolate_boxes(key_boxes: dict[int, tuple[int, int, int, int]]) -> dict[int, tuple[int, int, int, int]]:
    """Linearly interpolate boxes (x0, y0, x1, y1) between key slices.

    Args:
        key_boxes: {slice_index: box_xyxy} for two or more slices (one is returned as is).
    Returns:
        {slice_index: box_xyxy} for every slice from the first to the last key slice,
        corners rounded to whole pixels; key slices keep their own boxes.
    """
    if not key_boxes:
        raise ValueError("at least one key box is needed")
    slices = sorted(key_boxes)
    boxes = {slices[0]: tuple(int(v) for v in key_boxes[slices[0]])}
    for lower, upper in zip(slices, slices[1:]):
        start = np.asarray(key_boxes[lower], dtype=np.float64)
        stop = np.asarray(key_boxes[upper], dtype=np.float64)
        for slice_index in range(lower + 1, upper + 1):
            fraction = (slice_index - lower) / (upper - lower)
            boxes[slice_index] = tuple(int(v) for v in np.round(start + fraction * (stop - start)))
    return boxes


def segment_boxes(
    engine,
    boxes_by_slice: dict[int, tuple[int, int, int, int]],
    shape_zyx: tuple[int, int, int],
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    encode_inline: bool = False,
    box_refinement: BoxRefinement | None = None,
    plane: str = "axial",
) -> PropagationResult:
    """Segment each slice of ``plane`` with its own box (e.g. from :func:`interpolate_boxes`;
    boxes in the plane's displayed slice pixels).

    ``box_refinement``: the loose-box rule for each predict (None: the engine's default).
    Returns a PropagationResult whose bool ``[z, y, x]`` mask has shape ``shape_zyx`` (the
    volume's); ``slice_score`` holds each slice's predicted IoU, by the plane's slice index.
    """
    if not boxes_by_slice:
        raise ValueError("no boxes to segment")
    ordered = sorted(boxes_by_slice)
    for position, slice_index in enumerate(ordered):
        engine.request(slice_index, ENCODE_PRIORITY_FRONT - position, plane=plane,
                       box_xyxy=boxes_by_slice[slice_index])
    mask_zyx = np.zeros(shape_zyx, dtype=bool)
    geometry = PlaneGeometry.for_grid(shape_zyx, engine.volume.spacing_xyz, engine.volume.direction, plane)
    scores = np.full(geometry.slice_count, np.nan, dtype=np.float32)
    cancelled = False
    try:
        for done, slice_index in enumerate(ordered, start=1):
            try:
                prediction = _predict_when_ready(engine, slice_index, boxes_by_slice[slice_index], None, cancel,
                                                 encode_inline, box_refinement, plane)
            except SliceWithoutContrast:
                continue  # a blank slice between key boxes stays empty
            geometry.take(mask_zyx, slice_index)[...] = prediction.mask
            scores[slice_index] = float(prediction.score)
            if progress is not None:
                progress(done, len(ordered))
    except PropagationCancelled:
        cancelled = True
    written = slices_with_mask(mask_zyx, plane)
    present = np.flatnonzero(written)
    first, last = (int(present[0]), int(present[-1])) if present.size else (ordered[0], ordered[-1])
    return PropagationResult(mask_zyx, first, last, cancelled, {"cancelled": "cancelled by the user"} if cancelled else {},
                             written, scores, plane=plane)


def _intensity_stats(slice_voxels: np.ndarray, mask_yx: np.ndarray) -> tuple[float, float]:
    """(mean, standard deviation) of the voxels under ``mask_yx`` (channels averaged)."""
    values = np.asarray(slice_voxels[mask_yx], dtype=np.float64)
    if values.ndim > 1:
        values = values.mean(axis=1)
    return float(values.mean()), float(values.std())


def _drop_off_intensity_pixels(prediction, slice_voxels: np.ndarray, key_mean: float, key_std: float, most_sd: float):
    """``prediction`` with its mask's pixels further than ``most_sd`` key standard deviations
    from ``key_mean`` removed (``slice_voxels`` ``[rows, columns]`` or ``[rows, columns, channels]``,
    channels averaged); unchanged when ``most_sd`` is 0 or the key object has one value."""
    if most_sd <= 0 or key_std == 0 or not prediction.mask.any():
        return prediction
    values = np.asarray(slice_voxels, dtype=np.float64)
    if values.ndim > 2:
        values = values.mean(axis=-1)
    in_range = np.abs(values - key_mean) <= most_sd * key_std
    return replace(prediction, mask=prediction.mask & in_range)


def _intensity_shift(slice_voxels: np.ndarray, mask_yx: np.ndarray, key_mean: float, key_std: float) -> float:
    """How many key standard deviations the mask's mean lies from the key mean (0 for an empty mask)."""
    if not mask_yx.any():
        return 0.0
    mean, _ = _intensity_stats(slice_voxels, mask_yx)
    if key_std == 0:
        return 0.0 if mean == key_mean else float("inf")
    return abs(mean - key_mean) / key_std


def _stop_reason(mask_yx, previous_mask_yx, min_area: int, settings: PropagationSettings, slice_index: int,
                 score: float, intensity_shift: float, largest_area: int) -> str | None:
    """Why the walk ends at this slice (None: keep the mask and go on); ``largest_area``: the
    largest mask (pixels) this walk has kept, the key slice's included."""
    if score < settings.min_score:
        return f"object ended at slice {slice_index} (model confidence {score:.2f})"
    area = int(mask_yx.sum())
    previous_area = int(previous_mask_yx.sum())
    if area < min_area:
        return f"object ended at slice {slice_index}"
    if area > settings.max_growth * previous_area:
        return f"stopped at slice {slice_index}: the mask grew {area / previous_area:.1f}x (leak)"
    if previous_area < settings.tail_fraction * largest_area and area >= previous_area:
        return (f"object ended at slice {slice_index}: past the object's tapering end the mask stopped "
                f"shrinking ({previous_area} -> {area} px)")
    if settings.max_intensity_shift > 0 and intensity_shift > settings.max_intensity_shift:
        return (f"object ended at slice {slice_index}: the mask's intensity is {intensity_shift:.1f} SD "
                f"from the key slice's object")
    return None


def _allowed_range(slice_range, slice_count: int, key_slice_index: int) -> tuple[int, int]:
    if not 0 <= key_slice_index < slice_count:
        raise MedsamGuiError(f"key slice {key_slice_index} is outside the volume (0..{slice_count - 1})")
    if slice_range is None:
        return 0, slice_count - 1
    first, last = sorted(int(v) for v in slice_range)
    first, last = max(first, 0), min(last, slice_count - 1)
    if not first <= key_slice_index <= last:
        raise MedsamGuiError(f"the slice range {first}..{last} does not contain the key slice {key_slice_index}")
    return first, last


def _request_ahead(engine, front_slice: int, step: int, limit: int, lookahead: int, box_xyxy, plane: str) -> None:
    """Ask for the encodes of the next ``lookahead`` slices of ``plane`` past ``front_slice``,
    nearest first.

    The object moves little between neighbouring slices, so the region ``predict``
    will encode there (the whole slice, or an ROI-zoom crop for a small box) is
    guessed from the current box; ROI crops are quantised, so the guess usually hits.
    """
    for distance in range(1, lookahead + 1):
        slice_index = front_slice + step * distance
        if (slice_index - limit) * step > 0:
            break
        engine.request(slice_index, ENCODE_PRIORITY_FRONT - (distance - 1), plane=plane, box_xyxy=box_xyxy)


def _geometry(engine, plane: str, key_shape: tuple[int, int] | None = None) -> PlaneGeometry:
    """The plane of the engine's volume (MedsamGuiError when a key mask does not fit its slices)."""
    volume = engine.volume
    geometry = PlaneGeometry.for_grid(volume.shape_zyx, volume.spacing_xyz, volume.direction, plane)
    if key_shape is not None and tuple(key_shape) != geometry.image_shape:
        raise MedsamGuiError(f"the key mask is {tuple(key_shape)} but a {plane} slice of the volume is "
                             f"{geometry.image_shape} (rows, columns)")
    return geometry


def _along(plane: str, flags: np.ndarray) -> tuple:
    """An index of ``[z, y, x]`` selecting the slices of ``plane`` where ``flags`` is true."""
    index: list = [slice(None)] * 3
    index[slice_axis(plane)] = flags
    return tuple(index)


def _skip_remaining(done: int, slice_index: int, step: int, limit: int) -> int:
    """Count the slices this direction will not visit as done (progress reaches the total)."""
    return done + max((limit - slice_index) * step, 0)


def _predict_when_ready(engine, slice_index: int, box_xyxy, mask_input, cancel, encode_inline: bool,
                        box_refinement: BoxRefinement | None = None, plane: str = "axial"):
    """``engine.predict`` for one slice of ``plane``, waiting for (or running) its encode; checks ``cancel``."""
    extra = {} if box_refinement is None else {"box_refinement": box_refinement}
    while True:
        if cancel is not None and cancel.is_set():
            raise PropagationCancelled()
        try:
            return engine.predict(slice_index, box_xyxy=box_xyxy, mask_input=mask_input, plane=plane, **extra)
        except EmbeddingNotReady:
            if encode_inline:
                engine.run_next_job(0.0)
            else:
                time.sleep(WAIT_POLL_S)
