"""Propagation a person steers (Segment menu): one way only, hand-made slices never
overwritten, a corrected slice re-propagated, weak slices flagged on the slice strip."""

from __future__ import annotations

import numpy as np
import pytest
from ui_helpers import open_and_wait

from medsam_gui.io.resample import resample_onto

pytestmark = pytest.mark.slow
JOB_TIMEOUT_MS = 300_000


@pytest.fixture
def liver_case(qtbot, window, ct_folder, data_root):
    """The 3-slice CT with the manual liver accepted on the middle slice."""
    document = open_and_wait(qtbot, window, ct_folder)
    liver = resample_onto(document.volume, data_root / "dcmqi" / "liver_seg.nrrd") > 0
    window.show_slice(1)
    document.paint_slice(1, liver[1], description="AI mask")
    return document, liver


def run_action(qtbot, window, action_id):
    undo_steps = len(window.document.history._undo)
    window.actions_by_id[action_id].trigger()
    qtbot.waitUntil(lambda: window.segment3d._job is None and len(window.document.history._undo) > undo_steps,
                    timeout=JOB_TIMEOUT_MS)


def test_propagate_up_stays_on_its_side(qtbot, window, liver_case):
    document, _ = liver_case
    value = document.active_label
    run_action(qtbot, window, "segment.propagate_up")
    assert (document.labels[2] == value).any()
    assert not (document.labels[0] == value).any()


def test_a_hand_made_slice_is_never_overwritten(qtbot, window, liver_case):
    document, _ = liver_case
    value = document.active_label
    square = np.zeros(document.labels.shape[1:], dtype=bool)
    square[300:320, 300:320] = True
    document.paint_slice(2, square, description="brush")  # made by hand on slice 2
    hand_made = document.labels[2].copy()
    run_action(qtbot, window, "segment.propagate")
    np.testing.assert_array_equal(document.labels[2], hand_made)
    assert (document.labels[0] == value).any()  # the other side was propagated


def test_a_corrected_slice_re_propagates_over_what_the_job_wrote(qtbot, window, liver_case):
    document, liver = liver_case
    value = document.active_label
    run_action(qtbot, window, "segment.propagate")
    first_run = document.labels[0] == value
    assert first_run.any()
    columns = np.flatnonzero(liver[1].any(axis=0))
    keep_left = np.zeros_like(liver[1])
    keep_left[:, : columns[0] + (columns[-1] - columns[0]) // 3] = True
    document.paint_slice(1, liver[1] & ~keep_left, value=value, mode="erase", description="eraser")  # the correction
    run_action(qtbot, window, "segment.propagate")
    second_run = document.labels[0] == value
    assert second_run.sum() < 0.8 * first_run.sum()  # slice 0 was the job's own: replaced, and shrank with the key
    window.actions_by_id["edit.undo"].trigger()
    np.testing.assert_array_equal(document.labels[0] == value, first_run)  # one undo step


def test_weak_slices_are_marked_and_w_jumps_there(qtbot, window, liver_case, monkeypatch):
    """With a confidence bar no slice can reach (IoU estimate > 1.01), every propagated
    slice is weak: the strip marks them and W visits them."""
    from medsam_gui.engine import propagate as propagation
    from medsam_gui.ui import segment3d

    document, _ = liver_case
    strict = propagation.PropagationSettings(weak_score=1.01)
    monkeypatch.setattr(segment3d, "propagate", lambda *args, **kwargs: propagation.propagate(
        *args, settings=strict, **kwargs))
    run_action(qtbot, window, "segment.propagate")
    assert window.state_strip.weak_slices == [0, 2]
    window.show_slice(1)
    window.actions_by_id["segment.next_weak_slice"].trigger()
    assert document.slice_index == 2
    window.actions_by_id["segment.next_weak_slice"].trigger()
    assert document.slice_index == 0
