"""The first minutes of a new user (issue 10): a box drawn while the model loads, the
status bar at the default size, the read-out, 0-based slice numbers, the start screen,
neutral label names, export file names and the Save / Discard / Cancel quit prompt."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QFileDialog, QMessageBox
from ui_helpers import ENCODE_TIMEOUT_MS, drag_on_canvas, make_window, open_and_wait, press_key

from medsam_gui.core.labelmap import DEFAULT_COLOURS
from medsam_gui.io.resample import resample_onto
from medsam_gui.io.session import SESSION_SUFFIX, load_session
from medsam_gui.ui import recent_files
from medsam_gui.ui.case_files import EXPORT_FILTERS, SESSION_FILTER
from medsam_gui.ui.export_names import case_name, export_path_for, filter_suffix, suggested_export_name


def liver_box(data_root, document) -> tuple[int, int, int, int]:
    """The liver's tight box (inclusive x0, y0, x1, y1) on the document's current slice."""
    liver = resample_onto(document.volume, data_root / "dcmqi" / "liver_seg.nrrd") > 0
    rows, cols = np.nonzero(liver[document.slice_index])
    return int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max())


def error_box_shown(window) -> bool:
    box = window.findChild(QMessageBox, "error_box")
    return box is not None and box.isVisible()


def paint_a_square(document) -> None:
    square = np.zeros(document.labels.shape[1:], dtype=bool)
    square[200:240, 200:240] = True
    document.paint_slice(document.slice_index, square)


# -- 1. a box drawn while the model loads -------------------------------------------------
def test_a_box_drawn_while_the_model_loads_stays_and_is_segmented_when_it_arrives(
        qtbot, engine, monkeypatch, ct_folder, data_root):
    window = make_window(qtbot, None, monkeypatch, load_model=False)
    try:
        document = open_and_wait(qtbot, window, ct_folder)
        assert window.engine is None and "loading" in window.model_label.text()
        box = liver_box(data_root, document)
        drag_on_canvas(window, box[:2], box[2:])
        assert not error_box_shown(window)
        assert window.prompts.box_xyxy == box  # the box as dragged, not a stub from the first move
        assert window.view.box_item.isVisible()
        assert "when the model is loaded" in window.statusBar().currentMessage()

        window.attach_engine(engine)
        qtbot.waitUntil(lambda: window.prompts.preview is not None, timeout=ENCODE_TIMEOUT_MS)
        preview = window.prompts.preview
        assert tuple(preview.box_xyxy) == box and preview.slice_index == document.slice_index
        x0, y0, x1, y1 = box
        inside_box = np.zeros(preview.mask.shape, dtype=bool)
        inside_box[y0 : y1 + 1, x0 : x1 + 1] = True
        assert preview.mask.sum() > 0.3 * inside_box.sum()  # the liver, not a speck of air
        assert not (preview.mask & ~inside_box).any()
        assert not window.view.preview_item.pixmap().isNull()
        assert not error_box_shown(window)
    finally:
        window.close()


# -- 2. the status bar at the default size ----------------------------------------------------
def message_area_width(window) -> int:
    """Width QStatusBar gives its temporary message: from x = 6 to 2 px before the first
    visible permanent widget."""
    permanent = (window.readout_label, window.progress_bar, window.cancel_open_button, window.tool_label,
                 window.model_label, window.decoder_label)
    return min(widget.x() for widget in permanent if widget.isVisible()) - 2 - 6


def test_the_preview_hint_fits_the_status_bar_at_the_default_size(qtbot, window, ct_folder, data_root):
    assert (window.width(), window.height()) == (1200, 820)
    document = open_and_wait(qtbot, window, ct_folder)
    qtbot.waitUntil(lambda: window.engine.is_encoded(document.slice_index), timeout=ENCODE_TIMEOUT_MS)
    box = liver_box(data_root, document)
    drag_on_canvas(window, box[:2], box[2:])  # ends with the mouse on the image: the read-out is filled
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("IoU"), timeout=30_000)
    bar = window.statusBar()
    message = bar.currentMessage()
    assert "Enter" in message and "Esc" in message
    assert bar.fontMetrics().horizontalAdvance(message) <= message_area_width(window)
    readout = window.readout_label
    assert readout.text().startswith(f"x {box[2]} y {box[3]} z {document.slice_index}")
    assert readout.text() == readout.toolTip()  # the whole read-out shows, nothing elided


# -- 3. the read-out follows the slice -------------------------------------------------------
def test_the_readout_follows_a_slice_change_without_a_mouse_move(qtbot, window, ct_folder):
    document = open_and_wait(qtbot, window, ct_folder)
    x, y = 140, 320
    QTest.mouseMove(window.view.viewport(), window.view.widget_position(x + 0.5, y + 0.5))
    z = document.slice_index
    assert window.readout_label.text().startswith(f"x {x} y {y} z {z} | {document.volume.voxels[z, y, x]} HU")
    press_key(window, Qt.Key.Key_PageDown)
    assert document.slice_index == z + 1
    assert window.readout_label.text().startswith(f"x {x} y {y} z {z + 1} | {document.volume.voxels[z + 1, y, x]} HU")


# -- 4. slice numbers are the 0-based voxel index -----------------------------------------------
def test_slice_numbers_are_the_0_based_index_the_command_line_takes(qtbot, window, ct_folder):
    open_and_wait(qtbot, window, ct_folder)
    window.show_slice(0)
    assert window.slice_label.text() == "slice 0 of 0-2"
    drag_on_canvas(window, (100, 100), (200, 200))
    press_key(window, Qt.Key.Key_K)
    window.show_slice(2)
    assert window.slice_label.text() == "slice 2 of 0-2"
    drag_on_canvas(window, (100, 100), (200, 200))
    press_key(window, Qt.Key.Key_K)
    assert window.statusBar().currentMessage() == "Key boxes on slices 0, 2"


# -- 5. the start screen -------------------------------------------------------------------
def test_the_start_screen_says_what_to_do_and_reopens_a_recent_scan(qtbot, engine, monkeypatch, ct_folder):
    recent_files.remember(str(ct_folder))
    window = make_window(qtbot, engine, monkeypatch)
    try:
        hint = window.start_hint
        assert hint.isVisible()
        assert "File > Open file (Ctrl+O)" in hint.hint_label.text() and "drop a file or folder here" in hint.hint_label.text()
        centre_offset = hint.geometry().center() - window.view.viewport().rect().center()
        assert abs(centre_offset.x()) <= 2 and abs(centre_offset.y()) <= 2
        assert [button.toolTip() for button in hint.recent_buttons] == [str(ct_folder)]
        qtbot.mouseClick(hint.recent_buttons[0], Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.document is not None, timeout=60_000)
        assert window.document.volume.shape_zyx == (3, 512, 512)
        assert not hint.isVisible()
    finally:
        window.close()


# -- 6. neutral label names --------------------------------------------------------------------
def test_new_labels_are_numbered_not_named_after_organs(qtbot, window, ct_folder):
    document = open_and_wait(qtbot, window, ct_folder)
    press_key(window, Qt.Key.Key_N)
    assert [(label.name, label.colour) for label in document.label_table] == [
        ("label 1", DEFAULT_COLOURS[0]), ("label 2", DEFAULT_COLOURS[1])]
    panel = window.labels_panel.list_widget
    assert [panel.item(row).text() for row in range(panel.count())] == ["1  label 1", "2  label 2"]


# -- 7. export file names -----------------------------------------------------------------------
@pytest.mark.parametrize("typed, selected, expected", [
    ("/out/liver", "NIfTI labelmap (*.nii.gz)", "/out/liver.nii.gz"),
    ("/out/liver", "NRRD labelmap (*.nrrd)", "/out/liver.nrrd"),
    ("/out/liver.nrrd", "NIfTI labelmap (*.nii.gz)", "/out/liver.nrrd"),  # a known extension wins
    ("/out/liver.nii", "DICOM SEG (*.dcm)", "/out/liver.nii"),
    ("/out/case.v2", "COCO JSON (*.json)", "/out/case.v2.json"),
])
def test_a_bare_export_name_gets_the_selected_filters_extension(typed, selected, expected):
    assert export_path_for(typed, selected, EXPORT_FILTERS) == expected


def test_the_suggested_export_name_is_made_of_the_case_and_the_label():
    assert filter_suffix(EXPORT_FILTERS[0]) == ".nii.gz"
    assert case_name("", "/data/CT_abdomen.nii.gz") == "CT_abdomen"
    assert case_name("", "/data/dicom/ct-3slice/") == "ct-3slice"
    assert case_name("CT abdomen 1.5 mm", "/data/dicom/series") == "CT abdomen 1.5 mm"
    assert suggested_export_name("CT_abdomen", "label 1", ".nii.gz") == "CT_abdomen_label-1.nii.gz"
    assert suggested_export_name("CT abdomen/1.5 mm", "liver: segment 8", ".nrrd") == "CT-abdomen-1.5-mm_liver-segment-8.nrrd"


def test_export_with_a_bare_name_writes_the_selected_format(qtbot, window, ct_folder, tmp_path, monkeypatch):
    document = open_and_wait(qtbot, window, ct_folder)
    paint_a_square(document)
    asked = []

    def save_dialog(parent, caption, suggestion, filters, initial_filter):
        asked.append((suggestion, initial_filter))
        return str(tmp_path / "labels"), initial_filter

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_dialog)
    window.actions_by_id["file.export_labels"].trigger()
    assert asked == [("ct-3slice_label-1.nii.gz", "NIfTI labelmap (*.nii.gz)")]
    assert (tmp_path / "labels.nii.gz").is_file()
    assert not error_box_shown(window)


# -- 8. Save / Discard / Cancel on quit ------------------------------------------------------------
def test_quit_offers_save_which_writes_the_known_session_file(qtbot, window, ct_folder, tmp_path, monkeypatch):
    document = open_and_wait(qtbot, window, ct_folder)
    session_path = tmp_path / f"case{SESSION_SUFFIX}"
    window.case_files.save_session(str(session_path))
    paint_a_square(document)

    monkeypatch.setattr(window, "ask_save_changes", lambda: "cancel")
    window.close()
    assert window.isVisible() and document.is_modified

    monkeypatch.setattr(window, "ask_save_changes", lambda: "save")
    window.close()
    assert not window.isVisible() and not document.is_modified
    np.testing.assert_array_equal(load_session(session_path).labels, document.labels)


def test_save_on_quit_asks_where_and_a_cancelled_dialog_keeps_the_window(qtbot, window, ct_folder, tmp_path, monkeypatch):
    document = open_and_wait(qtbot, window, ct_folder)
    paint_a_square(document)
    monkeypatch.setattr(window, "ask_save_changes", lambda: "save")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: ("", ""))
    window.close()
    assert window.isVisible() and document.is_modified

    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(tmp_path / "case"), SESSION_FILTER))
    window.close()
    assert not window.isVisible()
    np.testing.assert_array_equal(load_session(tmp_path / f"case{SESSION_SUFFIX}").labels, document.labels)


def test_the_quit_question_offers_save_discard_and_cancel(window, monkeypatch):
    from medsam_gui.ui.main_window import MainWindow

    buttons = QMessageBox.StandardButton
    offered = []
    for button, answer in ((buttons.Save, "save"), (buttons.Discard, "discard"), (buttons.Cancel, "cancel")):
        monkeypatch.setattr(QMessageBox, "question", lambda *args, chosen=button: offered.append(args[3]) or chosen)
        assert MainWindow.ask_save_changes(window) == answer  # the window fixture stubs the method itself
    assert offered[0] == buttons.Save | buttons.Discard | buttons.Cancel
