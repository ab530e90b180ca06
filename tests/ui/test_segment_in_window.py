"""Drive the real window on a real CT with the real LiteMedSAM model.

Box -> preview -> Enter, points, brush + undo/redo, labels and slices: every check is
on the Document's labelmap, which is what the user saves.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from PyQt6.QtCore import Qt
from ui_helpers import ENCODE_TIMEOUT_MS, drag_on_canvas, open_and_wait, press_key, wait_encoded

pytestmark = pytest.mark.slow


def ground_truth_on_volume(seg_path, volume) -> np.ndarray:
    """bool [z, y, x]: a label NRRD resampled (nearest) onto the volume's grid by geometry."""
    reference = sitk.Image([int(v) for v in volume.size_xyz], sitk.sitkUInt8)
    reference.SetSpacing(volume.spacing_xyz)
    reference.SetOrigin(volume.origin_xyz)
    reference.SetDirection(tuple(volume.direction.reshape(-1)))
    segment = sitk.ReadImage(str(seg_path))
    resampled = sitk.Resample(segment, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    return sitk.GetArrayFromImage(resampled) > 0


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.logical_and(a, b).sum() / max(a.sum() + b.sum(), 1)


def box_around_the_liver(qtbot, window, ct_folder, data_root):
    """Open the CT, drag the liver's tight box on the middle slice, wait for its preview.

    Returns (document, liver bool [z, y, x], slice_index, box_xyxy)."""
    document = open_and_wait(qtbot, window, ct_folder)
    liver = ground_truth_on_volume(data_root / "dcmqi" / "liver_seg.nrrd", document.volume)
    slice_index = document.slice_index
    wait_encoded(qtbot, window, slice_index)
    rows, cols = np.nonzero(liver[slice_index])
    box = (int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max()))
    drag_on_canvas(window, box[:2], box[2:])
    qtbot.waitUntil(lambda: window.prompts.preview is not None and tuple(window.prompts.preview.box_xyxy) == box, timeout=30_000)
    return document, liver, slice_index, box


def test_box_drag_then_enter_writes_the_liver_mask(qtbot, window, ct_folder, data_root):
    document = open_and_wait(qtbot, window, ct_folder)
    liver = ground_truth_on_volume(data_root / "dcmqi" / "liver_seg.nrrd", document.volume)
    slice_index = int(np.argmax(liver.sum(axis=(1, 2))))
    window.show_slice(slice_index)
    assert window.slider.value() == slice_index
    wait_encoded(qtbot, window, slice_index)

    rows, cols = np.nonzero(liver[slice_index])
    box = (int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max()))
    with qtbot.waitSignal(window.prompts.preview_changed, timeout=30_000):
        drag_on_canvas(window, box[:2], box[2:])
    qtbot.waitUntil(lambda: window.prompts.preview is not None and window.prompts.box_xyxy == box, timeout=30_000)
    qtbot.waitUntil(lambda: tuple(window.prompts.preview.box_xyxy) == box, timeout=30_000)
    assert document.labels.max() == 0  # a preview is not a label until accepted

    press_key(window, Qt.Key.Key_Return)
    mask = document.labels[slice_index] == document.active_label
    x0, y0, x1, y1 = box
    inside_box = np.zeros_like(mask)
    inside_box[y0 : y1 + 1, x0 : x1 + 1] = True
    assert mask.sum() > 0.3 * inside_box.sum()
    assert (mask & ~inside_box).sum() < 0.02 * mask.sum()
    box_fill_dice = dice(inside_box, liver[slice_index])
    assert dice(mask, liver[slice_index]) > max(0.8, box_fill_dice)
    assert document.is_modified and window.prompts.preview is None
    assert "decoder" in window.decoder_label.text() and "ms" in window.decoder_label.text()

    press_key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert document.labels.max() == 0


def test_shift_enter_replaces_the_label_inside_the_box_so_a_refinement_can_shrink_it(qtbot, window, ct_folder, data_root):
    document, _, slice_index, box = box_around_the_liver(qtbot, window, ct_folder, data_root)
    press_key(window, Qt.Key.Key_Return)
    accepted = (document.labels[slice_index] == document.active_label).copy()
    assert accepted.sum() > 1000

    # a smaller box over the left part of the liver, accepted with Shift+Enter
    x0, y0, x1, y1 = box
    part = (x0, y0, x0 + (x1 - x0) // 2, y1)
    drag_on_canvas(window, part[:2], part[2:])
    qtbot.waitUntil(lambda: window.prompts.preview is not None and tuple(window.prompts.preview.box_xyxy) == part, timeout=30_000)
    refined = window.prompts.preview.mask.copy()
    inside = np.zeros_like(accepted)
    inside[part[1] : part[3] + 1, part[0] : part[2] + 1] = True
    assert (accepted & inside & ~refined).any()  # there is something for the refinement to remove
    press_key(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    now = document.labels[slice_index] == document.active_label
    assert np.array_equal(now[inside], refined[inside])
    assert np.array_equal(now[~inside], (accepted | refined)[~inside])
    assert now.sum() < (accepted | refined).sum()  # it shrank where plain Enter would only add

    press_key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(document.labels[slice_index] == document.active_label, accepted)


def test_box_can_be_moved_and_escape_discards(qtbot, window, ct_folder):
    document = open_and_wait(qtbot, window, ct_folder)
    wait_encoded(qtbot, window, document.slice_index)
    drag_on_canvas(window, (250, 300), (330, 380))
    qtbot.waitUntil(lambda: window.prompts.preview is not None, timeout=30_000)
    drag_on_canvas(window, (290, 340), (300, 330))  # grab inside: move by (+10, -10)
    assert window.prompts.box_xyxy == (260, 290, 340, 370)
    qtbot.waitUntil(lambda: tuple(window.prompts.preview.box_xyxy) == (260, 290, 340, 370), timeout=30_000)
    drag_on_canvas(window, (340, 370), (360, 400))  # grab the bottom-right corner: resize
    assert window.prompts.box_xyxy == (260, 290, 360, 400)
    press_key(window, Qt.Key.Key_Escape)
    assert window.prompts.preview is None and window.prompts.box_xyxy is None
    press_key(window, Qt.Key.Key_Return)
    assert document.labels.max() == 0


def test_point_clicks_refine_the_box_mask(qtbot, window, ct_folder, data_root):
    document, liver, slice_index, box = box_around_the_liver(qtbot, window, ct_folder, data_root)
    box_only_area = int(window.prompts.preview.mask.sum())

    press_key(window, Qt.Key.Key_P)
    assert window.view.tool.name == "points"
    rows, cols = np.nonzero(liver[slice_index])
    inside = (int(np.median(cols)), int(np.median(rows)))
    assert liver[slice_index, inside[1], inside[0]]
    drag_on_canvas(window, inside, inside, button=Qt.MouseButton.RightButton, steps=0)  # right click: negative
    assert window.prompts.point_labels == [0] and window.prompts.box_xyxy == box
    qtbot.waitUntil(lambda: window.prompts.preview is not None and window.prompts.preview is not None
                    and int(window.prompts.preview.mask.sum()) != box_only_area, timeout=30_000)
    refined = window.prompts.preview.mask.copy()
    assert refined.sum() < 0.9 * box_only_area  # the negative click removed part of the mask

    press_key(window, Qt.Key.Key_Return)
    assert np.array_equal(document.labels[slice_index] == document.active_label, refined)


def test_brush_stroke_is_one_step_and_undo_redo_restore_it(qtbot, window, ct_folder):
    document = open_and_wait(qtbot, window, ct_folder)
    slice_index = document.slice_index
    press_key(window, Qt.Key.Key_R)
    assert window.view.tool.name == "brush"
    drag_on_canvas(window, (100, 100), (160, 100), steps=6)
    painted = document.labels[slice_index].copy()
    label = document.active_label
    assert painted[100, 100] == label and painted[100, 130] == label and painted[100, 160] == label
    assert painted[100, 170] == 0 and painted[120, 130] == 0  # radius 5
    assert (painted == label).sum() > 60 * 9

    press_key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert document.labels.max() == 0  # the whole stroke was one undo step
    press_key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(document.labels[slice_index], painted)
    press_key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    press_key(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(document.labels[slice_index], painted)

    press_key(window, Qt.Key.Key_BracketRight)
    assert window.tools.brush_radius > 5
    press_key(window, Qt.Key.Key_E)
    drag_on_canvas(window, (130, 100), (130, 100), steps=0)
    assert document.labels[slice_index, 100, 130] == 0 and document.labels[slice_index, 100, 100] == label


def test_labels_and_slices_switch(qtbot, window, ct_folder):
    document = open_and_wait(qtbot, window, ct_folder)
    first_slice = document.slice_index
    first_label = document.active_label
    press_key(window, Qt.Key.Key_R)
    drag_on_canvas(window, (50, 50), (50, 50), steps=0)

    press_key(window, Qt.Key.Key_N)  # a new label becomes active
    second_label = document.active_label
    assert second_label != first_label and window.labels_panel.list_widget.count() == 2
    press_key(window, Qt.Key.Key_PageDown)
    assert document.slice_index == first_slice + 1 and window.slider.value() == first_slice + 1
    drag_on_canvas(window, (60, 60), (60, 60), steps=0)

    press_key(window, Qt.Key.Key_L)  # cycle back to the first label
    assert document.active_label == first_label
    drag_on_canvas(window, (200, 60), (200, 60), steps=0)
    press_key(window, Qt.Key.Key_PageUp)
    assert document.slice_index == first_slice

    assert document.labels[first_slice, 50, 50] == first_label
    assert document.labels[first_slice + 1, 60, 60] == second_label
    assert document.labels[first_slice + 1, 60, 200] == first_label
    assert document.labels[first_slice, 60, 60] == 0

    # hiding a label hides it in the overlay, not in the labelmap
    window.render()
    before = window.view.overlay_item.pixmap().toImage().pixelColor(50, 50).alpha()
    item = window.labels_panel.list_widget.item(0)
    item.setCheckState(Qt.CheckState.Unchecked)
    after = window.view.overlay_item.pixmap().toImage().pixelColor(50, 50).alpha()
    assert before > 0 and after == 0
    assert document.labels[first_slice, 50, 50] == first_label


def test_encoder_reports_each_slice_and_the_strip_shows_it(qtbot, window, ct_folder):
    document = open_and_wait(qtbot, window, ct_folder)
    count = document.volume.shape_zyx[0]
    qtbot.waitUntil(lambda: all(window.engine.is_encoded(i) for i in range(count)), timeout=ENCODE_TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.state_strip.states == {i: "encoded" for i in range(count)}, timeout=5_000)
    assert window.model_panel.progress_label.text() == f"{count} / {count} slices"
    assert "LiteMedSAM".lower() in window.model_label.text().lower()
