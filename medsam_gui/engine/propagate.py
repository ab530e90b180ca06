"""3D: carry an accepted mask from a key slice through its neighbours, or segment
between boxes drawn on a few key slices (MedSAM's 3D recipe).

Propagation walks up from the key slice, then down. Each slice is prompted with the
box of the previous slice's mask (plus a small margin) and, when enabled, the
previous prediction as ``mask_input``; the walk stops where the object ends (mask
empty or tiny; suddenly much larger: a leak; or filled with tissue of another
intensity than the key slice's object: the model has moved on to a neighbour), at
the user's slice range, or at the volume's edge. Encodes are requested a few slices
ahead of the front so the decoder waits as little as possible.

Threading: the functions here only call ``engine.request``, ``engine.predict`` and
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
from medsam_gui.engine.scheduler import PREDICT_PRIORITY
from medsam_gui.engine.types import EmbeddingNotReady, SliceWithoutContrast

ProgressCallback = Callable[[int, int], None]  # (slices done, slices planned)

WAIT_POLL_S = 0.005
# Higher runs sooner. Slices ahead of the front come right after an embedding that a
# predict() call is already waiting for, and before the visible slice's neighbours.
ENCODE_PRIORITY_FRONT = PREDICT_PRIORITY - 1


class PropagationCancelled(Exception):
    """Raised inside the walk when the cancel event is set; never escapes the public functions."""


@dataclass(frozen=True)
class PropagationSettings:
    """How far and how carefully to propagate.

    Attributes:
        box_margin_px: pixels added on each side of the previous mask's bounding box
            (1: with LiteMedSAM's generous mask threshold a wider margin lets the
            mask grow slice after slice; see benchmarks/bench_propagation.py --margin).
        min_area_px: a mask smaller than this ends the object.
        min_area_fraction: ... or smaller than this fraction of the key slice's mask.
        max_growth: a mask more than this many times the previous one is a leak: stop.
        max_intensity_shift: stop when the mean voxel value under a slice's mask is
            further than this many standard deviations (of the key mask's voxels) from
            the key mask's mean: past the object's end the model tends to latch onto a
            neighbouring structure of other density (0 disables; see
            benchmarks/bench_propagation.py --max-intensity-shift).
        min_score: a mask whose predicted IoU is below this ends the object.
        use_mask_input: pass the previous slice's prediction (its low-resolution
            logits, re-framed by the engine) as ``mask_input`` along with the box.
        lookahead: how many slices ahead of the front to request encodes for.
        slice_range: (first, last) inclusive slices the walk may visit, or None for all.
    """

    box_margin_px: int = 1
    min_area_px: int = 10
    min_area_fraction: float = 0.02
    max_growth: float = 2.5
    max_intensity_shift: float = 1.0
    min_score: float = 0.0
    use_mask_input: bool = False
    lookahead: int = 3
    slice_range: tuple[int, int] | None = None


@dataclass
class PropagationResult:
    """The 3D outcome.

    Attributes:
        mask_zyx: bool ``[z, y, x]``, the key mask included.
        first_slice, last_slice: inclusive range of slices holding mask voxels.
        cancelled: True when the user stopped it (the mask holds what was done).
        stop_reasons: why each direction ended, e.g. {'up': 'object ended at slice 41'}.
    """

    mask_zyx: np.ndarray
    first_slice: int
    last_slice: int
    cancelled: bool = False
    stop_reasons: dict[str, str] = field(default_factory=dict)


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
) -> PropagationResult:
    """Carry ``key_mask_yx`` (bool ``[y, x]`` on slice ``key_slice_index``) up and down.

    Args:
        engine: an engine whose volume has ``slice_count`` slices (``set_volume`` done);
            its ``volume.voxels`` give the intensities for ``max_intensity_shift``.
        key_slice_index: the slice of the accepted mask.
        key_mask_yx: the accepted mask, bool ``[rows, columns]``; must not be empty.
        slice_count: number of slices of the volume.
        settings: stopping and prompting rules (defaults: PropagationSettings()).
        progress: called as ``progress(done, total)`` after each slice (any thread).
        cancel: set it to stop between slices; the result holds what was done.
        encode_inline: run encodes on this thread (headless use, no worker thread).
        key_prediction: the key slice's Prediction, used as the first ``mask_input``.
    Returns:
        PropagationResult with the bool ``[z, y, x]`` mask.
    """
    settings = settings or PropagationSettings()
    key_mask = np.asarray(key_mask_yx, dtype=bool)
    if not key_mask.any():
        raise MedsamGuiError("the key slice mask is empty: accept a mask before propagating")
    first_allowed, last_allowed = _allowed_range(settings.slice_range, slice_count, key_slice_index)
    mask_zyx = np.zeros((slice_count, *key_mask.shape), dtype=bool)
    mask_zyx[key_slice_index] = key_mask
    min_area = max(settings.min_area_px, int(settings.min_area_fraction * key_mask.sum()))
    voxels = engine.volume.voxels
    key_mean, key_std = _intensity_stats(voxels[key_slice_index], key_mask)
    total = last_allowed - first_allowed
    done = 0
    reasons: dict[str, str] = {}
    cancelled = False
    directions = (("up", 1, last_allowed), ("down", -1, first_allowed))
    key_box = box_of_mask(key_mask, settings.box_margin_px)
    for _, step, limit in directions:  # both fronts' first slices are wanted first
        _request_ahead(engine, key_slice_index, step, limit, settings.lookahead, key_box, key_mask.shape)
    try:
        for name, step, limit in directions:
            previous_mask, previous_prediction = key_mask, key_prediction
            slice_index = key_slice_index + step
            reasons[name] = f"reached slice {limit}"
            while (slice_index - limit) * step <= 0:
                box = box_of_mask(previous_mask, settings.box_margin_px)
                _request_ahead(engine, slice_index - step, step, limit, settings.lookahead, box, key_mask.shape)
                mask_input = None
                if settings.use_mask_input and previous_prediction is not None:
                    mask_input = replace(previous_prediction, slice_index=slice_index)
                try:
                    prediction = _predict_when_ready(engine, slice_index, box, mask_input, cancel, encode_inline)
                except SliceWithoutContrast:
                    reasons[name] = f"slice {slice_index} has no contrast"
                    break
                done += 1
                shift = _intensity_shift(voxels[slice_index], prediction.mask, key_mean, key_std)
                stop_reason = _stop_reason(prediction.mask, previous_mask, min_area, settings, slice_index,
                                           prediction.score, shift)
                if stop_reason is None:
                    mask_zyx[slice_index] = prediction.mask
                    previous_mask, previous_prediction = prediction.mask, prediction
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
    present = np.flatnonzero(mask_zyx.any(axis=(1, 2)))
    return PropagationResult(mask_zyx, int(present[0]), int(present[-1]), cancelled, reasons)


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
) -> PropagationResult:
    """Segment each slice with its own box (e.g. from :func:`interpolate_boxes`).

    Returns a PropagationResult whose bool ``[z, y, x]`` mask has shape ``shape_zyx``.
    """
    if not boxes_by_slice:
        raise ValueError("no boxes to segment")
    ordered = sorted(boxes_by_slice)
    for position, slice_index in enumerate(ordered):
        engine.request(slice_index, ENCODE_PRIORITY_FRONT - position)
    mask_zyx = np.zeros(shape_zyx, dtype=bool)
    cancelled = False
    try:
        for done, slice_index in enumerate(ordered, start=1):
            try:
                prediction = _predict_when_ready(engine, slice_index, boxes_by_slice[slice_index], None, cancel,
                                                 encode_inline)
            except SliceWithoutContrast:
                continue  # a blank slice between key boxes stays empty
            mask_zyx[slice_index] = prediction.mask
            if progress is not None:
                progress(done, len(ordered))
    except PropagationCancelled:
        cancelled = True
    present = np.flatnonzero(mask_zyx.any(axis=(1, 2)))
    first, last = (int(present[0]), int(present[-1])) if present.size else (ordered[0], ordered[-1])
    return PropagationResult(mask_zyx, first, last, cancelled, {"cancelled": "cancelled by the user"} if cancelled else {})


def _intensity_stats(slice_voxels: np.ndarray, mask_yx: np.ndarray) -> tuple[float, float]:
    """(mean, standard deviation) of the voxels under ``mask_yx`` (channels averaged)."""
    values = np.asarray(slice_voxels[mask_yx], dtype=np.float64)
    if values.ndim > 1:
        values = values.mean(axis=1)
    return float(values.mean()), float(values.std())


def _intensity_shift(slice_voxels: np.ndarray, mask_yx: np.ndarray, key_mean: float, key_std: float) -> float:
    """How many key standard deviations the mask's mean lies from the key mean (0 for an empty mask)."""
    if not mask_yx.any():
        return 0.0
    mean, _ = _intensity_stats(slice_voxels, mask_yx)
    if key_std == 0:
        return 0.0 if mean == key_mean else float("inf")
    return abs(mean - key_mean) / key_std


def _stop_reason(mask_yx, previous_mask_yx, min_area: int, settings: PropagationSettings, slice_index: int,
                 score: float, intensity_shift: float) -> str | None:
    """Why the walk ends at this slice (None: keep the mask and go on)."""
    if score < settings.min_score:
        return f"object ended at slice {slice_index} (model confidence {score:.2f})"
    area = int(mask_yx.sum())
    previous_area = int(previous_mask_yx.sum())
    if area < min_area:
        return f"object ended at slice {slice_index}"
    if area > settings.max_growth * previous_area:
        return f"stopped at slice {slice_index}: the mask grew {area / previous_area:.1f}x (leak)"
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


def _request_ahead(engine, front_slice: int, step: int, limit: int, lookahead: int, box_xyxy, slice_size_hw) -> None:
    """Ask for the encodes of the next ``lookahead`` slices past ``front_slice``, nearest first.

    The object moves little between neighbouring slices, so the region ``predict``
    will encode there (the whole slice, or an ROI-zoom crop for a small box) is
    guessed from the current box; ROI crops are quantised, so the guess usually hits.
    """
    crop = engine.roi_crop(box_xyxy) if box_xyxy is not None else None
    rows, columns = slice_size_hw
    for distance in range(1, lookahead + 1):
        slice_index = front_slice + step * distance
        if (slice_index - limit) * step > 0:
            break
        priority = ENCODE_PRIORITY_FRONT - (distance - 1)
        if crop is None or crop == (0, 0, columns, rows):
            engine.request(slice_index, priority)
        else:
            engine.scheduler.request((slice_index, crop), priority)


def _skip_remaining(done: int, slice_index: int, step: int, limit: int) -> int:
    """Count the slices this direction will not visit as done (progress reaches the total)."""
    return done + max((limit - slice_index) * step, 0)


def _predict_when_ready(engine, slice_index: int, box_xyxy, mask_input, cancel, encode_inline: bool):
    """``engine.predict`` for one slice, waiting for (or running) its encode; checks ``cancel``."""
    while True:
        if cancel is not None and cancel.is_set():
            raise PropagationCancelled()
        try:
            return engine.predict(slice_index, box_xyxy=box_xyxy, mask_input=mask_input)
        except EmbeddingNotReady:
            if encode_inline:
                engine.run_next_job(0.0)
            else:
                time.sleep(WAIT_POLL_S)
