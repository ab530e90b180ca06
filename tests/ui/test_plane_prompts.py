"""Prompts, accept, undo and propagation on coronal and sagittal views (issue 12), in the real
window with the real LiteMedSAM on real CTs; organs are checked against the
TotalSegmentator labels resampled onto the scan by geometry."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from ui_helpers import ENCODE_TIMEOUT_MS, click_on_view, drag_on_canvas, open_and_wait, press_key

from medsam_gui.io.resample import resample_onto

pytestmark = pytest.mark.slow
JOB_TIMEOUT_MS = 600_000
LIVER, GALLBLADDER = 5, 4  # TotalSegmentator label values


def _visible_planes(window) -> set[str]:
    return {plane for plane, view in window.plane_views.views.items() if view.isVisible()}


def _wait_on_screen(qtbot, view, x, y):
    """Wait until image pixel (x, y) of ``view`` lies inside its viewport (the layout has settled)."""
    qtbot.waitUntil(lambda: view.isVisible() and view.viewport().rect().contains(view.widget_position(x + 0.5, y + 0.5)))


def _wait_preview(qtbot, window, plane):
    """Wait for the preview of the prompt as it is now (on ``plane``); a fitted view of a
    large slice shows several pixels per screen pixel, so a drag lands on pixels near those aimed at."""
    prompts = window.prompts
    box = prompts.box_xyxy
    qtbot.waitUntil(lambda: prompts.preview is not None and prompts.preview.plane == plane
                    and (box is None or tuple(prompts.preview.box_xyxy) == box), timeout=ENCODE_TIMEOUT_MS)
    return prompts.preview


def test_a_coronal_box_segments_the_liver_on_that_slice_and_shares_one_history(qtbot, window, data_root):
    document = open_and_wait(qtbot, window, data_root / "totalseg" / "example_ct_dicom")  # 20 x 512 x 512
    liver = resample_onto(document.volume, data_root / "totalseg" / "example_seg_dicom.nii.gz") == LIVER
    press_key(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: _visible_planes(window) == {"axial", "coronal", "sagittal"})
    views = window.plane_views.views
    _wait_on_screen(qtbot, views["axial"], 256, 276)
    click_on_view(views["axial"], 256, 276, Qt.KeyboardModifier.ControlModifier)  # a coronal slice through the liver
    qtbot.waitUntil(lambda: abs(document.cursor_zyx[1] - 276) <= 3)
    y = document.cursor_zyx[1]
    geometry = document.plane_geometry("coronal")
    liver_here = geometry.take(liver, y)
    columns = np.flatnonzero(liver_here.any(axis=0))
    box = (int(columns[0]) - 6, 0, int(columns[-1]) + 6, geometry.image_shape[0] - 1)  # around the liver, top to bottom

    drag_on_canvas(window, box[:2], box[2:], view=views["coronal"])
    assert window.plane_views.current_plane == "coronal"
    qtbot.waitUntil(lambda: window.state_strip.plane == "coronal" and window.state_strip.slice_count == 512)
    assert window.slice_label.text() == f"coronal {y} of 0-511"
    preview = _wait_preview(qtbot, window, "coronal")
    assert preview.slice_index == y and preview.mask.shape == geometry.image_shape
    assert not views["coronal"].preview_item.pixmap().isNull() and views["coronal"].box_item.isVisible()
    assert views["axial"].preview_item.pixmap().isNull() and not views["axial"].box_item.isVisible()
    qtbot.waitUntil(lambda: window.state_strip.states.get(y) == "encoded",  # the strip shows coronal states
                    timeout=ENCODE_TIMEOUT_MS)

    press_key(window, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: document.labels.any())
    changed = document.labels != 0
    assert set(np.argwhere(changed)[:, 1].tolist()) == {y}  # only the coronal slice boxed
    overlap = (changed & liver).sum()
    assert overlap / changed.sum() > 0.8 and overlap / liver_here.sum() > 0.8
    assert views["coronal"].preview_item.pixmap().isNull() and window.prompts.preview is None
    accepted = document.labels.copy()

    # Shift+Enter: inside a box on the left part, the label becomes exactly the new mask
    part = (box[0], 0, int(np.median(columns)), box[3])
    drag_on_canvas(window, part[:2], part[2:], view=views["coronal"])
    refined = _wait_preview(qtbot, window, "coronal").mask.copy()
    part = window.prompts.box_xyxy
    press_key(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: window.prompts.preview is None)
    shown = geometry.take(document.labels, y) == document.active_label
    inside = np.zeros_like(shown)
    inside[part[1]:part[3] + 1, part[0]:part[2] + 1] = True
    assert np.array_equal(shown[inside], refined[inside])
    assert np.array_equal(shown[~inside], geometry.take(accepted, y)[~inside] == document.active_label)
    press_key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(document.labels, accepted)

    # a brush stroke on the sagittal view, then Ctrl+Z twice: the stroke, then the coronal accept
    press_key(window, Qt.Key.Key_R)
    x = document.cursor_zyx[2]
    drag_on_canvas(window, (100, 5), (140, 12), view=views["sagittal"])
    stroke = np.argwhere(document.labels != accepted)
    assert len(stroke) > 0 and set(stroke[:, 2].tolist()) == {x}
    press_key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(document.labels, accepted)
    press_key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not document.labels.any() and not document.is_modified

    click_on_view(views["axial"], 256, 276, Qt.KeyboardModifier.ControlModifier)  # the axial view in use again
    qtbot.waitUntil(lambda: window.state_strip.plane == "axial" and window.state_strip.slice_count == 20)
    assert window.slider.maximum() == 19 and window.slider.value() == document.slice_index


def test_points_on_a_sagittal_slice_preview_there_and_leave_with_the_slice(qtbot, window, data_root):
    document = open_and_wait(qtbot, window, data_root / "totalseg" / "example_ct_sm.nii.gz")  # 30 x 101 x 122, 3 mm
    liver = resample_onto(document.volume, data_root / "totalseg" / "example_seg.nii.gz") == LIVER
    press_key(window, Qt.Key.Key_F4)
    sagittal = window.plane_views.views["sagittal"]
    qtbot.waitUntil(lambda: _visible_planes(window) == {"sagittal"})
    x = document.cursor_zyx[2]
    geometry = document.plane_geometry("sagittal")
    rows, columns = np.nonzero(geometry.take(liver, x))
    assert len(rows) > 0, "the sagittal slice through the cursor should cross the liver"
    middle = len(rows) // 2
    press_key(window, Qt.Key.Key_P)
    click_on_view(sagittal, int(columns[middle]), int(rows[middle]))
    assert window.prompts.plane == "sagittal" and window.prompts.points_xy
    preview = _wait_preview(qtbot, window, "sagittal")
    assert preview.slice_index == x and preview.mask.shape == geometry.image_shape
    assert not sagittal.preview_item.pixmap().isNull() and sagittal.point_items
    press_key(window, Qt.Key.Key_Escape)
    assert window.prompts.preview is None and sagittal.preview_item.pixmap().isNull() and not sagittal.point_items

    click_on_view(sagittal, int(columns[middle]), int(rows[middle]))
    _wait_preview(qtbot, window, "sagittal")
    sagittal.slice_step.emit(1)  # the wheel: another sagittal slice, the prompt stays behind
    qtbot.waitUntil(lambda: document.cursor_zyx[2] == x + 1)
    assert window.prompts.preview is None and sagittal.preview_item.pixmap().isNull() and not sagittal.point_items
    assert document.labels.max() == 0


def test_ctrl_p_from_a_coronal_key_slice_propagates_front_to_back_within_the_organ(qtbot, window, data_root):
    document = open_and_wait(qtbot, window, data_root / "totalseg" / "example_ct_sm.nii.gz")
    gallbladder = resample_onto(document.volume, data_root / "totalseg" / "example_seg.nii.gz") == GALLBLADDER
    ys = np.flatnonzero(gallbladder.any(axis=(0, 2)))
    key_y = int(np.median(ys))
    press_key(window, Qt.Key.Key_F3)
    qtbot.waitUntil(lambda: _visible_planes(window) == {"coronal"})
    window.slider.setValue(key_y)  # the slider moves the plane in use
    qtbot.waitUntil(lambda: document.cursor_zyx[1] == key_y)
    geometry = document.plane_geometry("coronal")
    document.paint_plane("coronal", key_y, geometry.take(gallbladder, key_y), description="AI mask")  # the key mask
    key_labels = document.labels.copy()

    undo_steps = len(document.history._undo)
    press_key(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.segment3d._job is None and len(document.history._undo) > undo_steps,
                    timeout=JOB_TIMEOUT_MS)
    written = np.argwhere(document.labels != key_labels)
    written_ys = set(written[:, 1].tolist())
    assert min(written_ys) < key_y < max(written_ys)  # both ways along y
    # the walk stops at the organ's ends (a few 3 mm slices of overshoot allowed), not at the volume's (y 0-100)
    assert min(written_ys) >= ys[0] - 10 and max(written_ys) <= ys[-1] + 10
    np.testing.assert_array_equal(document.labels[:, key_y, :], key_labels[:, key_y, :])  # the key slice stays
    result = document.labels == document.active_label
    assert 2 * (result & gallbladder).sum() / (result.sum() + gallbladder.sum()) > 0.6
    assert window.state_strip.weak_plane == "coronal" and window.state_strip.plane == "coronal"
    window.activateWindow()  # the progress dialog was the active window
    qtbot.waitUntil(window.isActiveWindow)
    press_key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # one undo step
    np.testing.assert_array_equal(document.labels, key_labels)
