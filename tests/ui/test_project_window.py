"""An annotator works through a project's cases in the real window (real scans, real LiteMedSAM).

A project is created from a folder holding two real cases (links to the shared data):
a 3-slice DICOM CT and a small NIfTI CT. Every check is on what the user keeps: the
labels and records in the project folder (read back through a second ``Project``),
the labels on screen, the case table and the status bar.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QApplication, QMessageBox
from ui_helpers import ENCODE_TIMEOUT_MS, drag_on_canvas, press_key, wait_encoded

from medsam_gui.project import Project
from medsam_gui.project.records import CaseStatus
from medsam_gui.ui.panels.cases import STATUS_COLUMN
from medsam_gui.ui.project_controller import ActiveTimeCounter

pytestmark = pytest.mark.slow

CT3_CASE, SMALL_CT_CASE = "ct3", "small_ct"
LABEL_NAMES = ["liver", "spleen"]


@pytest.fixture
def images(tmp_path, data_root):
    """A folder of two real cases (links, never copies): 'ct3' (DICOM) and 'small_ct' (NIfTI)."""
    folder = tmp_path / "images"
    folder.mkdir()
    os.symlink(data_root / "dcmqi" / "ct-3slice", folder / CT3_CASE, target_is_directory=True)
    os.symlink(data_root / "totalseg" / "example_ct_sm.nii.gz", folder / f"{SMALL_CT_CASE}.nii.gz")
    return folder


@pytest.fixture
def project_folder(qtbot, window, images, tmp_path):
    """The window with a new project of the two cases, created through the controller."""
    folder = tmp_path / "project"
    controller = window.project_controller
    assert controller.create_project(folder, images, LABEL_NAMES)
    qtbot.waitUntil(lambda: controller.project is not None, timeout=60_000)
    assert sorted(controller.project.case_ids) == sorted([CT3_CASE, SMALL_CT_CASE])
    window.activateWindow()  # the progress dialog has gone: the window takes the keys again
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    return folder


def open_case(qtbot, window, case_id):
    """Double-click the case's row in the Cases panel and wait until it is on screen."""
    panel = window.cases_panel
    row = panel.case_ids_in_view().index(case_id)
    rect = panel.table.visualRect(panel.proxy.index(row, 0))
    for click in (QTest.mouseClick, QTest.mouseDClick):  # Qt's double-click event alone is no double-click to a view
        click(panel.table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())
    wait_for_case(qtbot, window, case_id)
    return window.document


def wait_for_case(qtbot, window, case_id):
    controller = window.project_controller
    qtbot.waitUntil(lambda: controller.case is not None and controller.case.case_id == case_id, timeout=60_000)


def box_and_accept(qtbot, window):
    """Drag a box on the middle of the slice on screen, wait for the mask, press Enter."""
    document = window.document
    wait_encoded(qtbot, window, document.slice_index)
    _z, rows, cols = document.labels.shape
    box = (cols // 3, rows // 3, (2 * cols) // 3, (2 * rows) // 3)
    drag_on_canvas(window, box[:2], box[2:])
    qtbot.waitUntil(lambda: window.prompts.preview is not None and window.prompts.box_xyxy == box, timeout=ENCODE_TIMEOUT_MS)
    press_key(window, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(document.labels.any()), timeout=5_000)
    return document.labels.copy()


def error_box_shown(window) -> bool:
    box = window.findChild(QMessageBox, "error_box")
    return box is not None and box.isVisible()


def reader(project_folder, user="reader"):
    """A second instance's view of the project folder (what is on disk)."""
    return Project.open(project_folder, user=user)


def test_accepted_mask_is_saved_when_leaving_the_case_and_back(qtbot, window, project_folder):
    document = open_case(qtbot, window, CT3_CASE)
    assert [label.name for label in document.label_table] == LABEL_NAMES
    accepted = box_and_accept(qtbot, window)
    assert accepted.any()

    press_key(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    wait_for_case(qtbot, window, SMALL_CT_CASE)
    press_key(window, Qt.Key.Key_Left, Qt.KeyboardModifier.ControlModifier)
    wait_for_case(qtbot, window, CT3_CASE)

    np.testing.assert_array_equal(window.document.labels, accepted)
    on_disk = reader(project_folder)
    saved, view_state = on_disk.load_case_labels(CT3_CASE, window.document.volume)
    np.testing.assert_array_equal(saved, accepted)
    assert view_state.slice_index == window.document.slice_index
    record = on_disk.record(CT3_CASE)
    assert record.status is CaseStatus.IN_PROGRESS
    assert record.last_editor == window.project_controller.project.user
    assert record.label_count == 1
    assert on_disk.record(SMALL_CT_CASE).status is CaseStatus.TO_DO  # visited, nothing drawn
    assert window.cases_panel.row_texts(CT3_CASE)[STATUS_COLUMN] == "in progress"
    assert not window.document.is_modified


def test_case_locked_by_another_annotator_opens_read_only(qtbot, window, project_folder):
    other = reader(project_folder, user="other-annotator")
    other.acquire_lock(CT3_CASE)
    try:
        document = open_case(qtbot, window, CT3_CASE)
        assert document.read_only
        assert "locked by other-annotator" in window.statusBar().currentMessage()

        press_key(window, Qt.Key.Key_R)  # brush
        _z, rows, cols = document.labels.shape
        drag_on_canvas(window, (cols // 2, rows // 2), (cols // 2 + 20, rows // 2))
        assert not document.labels.any()
        assert window.statusBar().currentMessage().startswith("read-only: locked by other-annotator")
        window.actions_by_id["project.mark_done"].trigger()
        assert reader(project_folder).record(CT3_CASE).status is CaseStatus.TO_DO
    finally:
        other.release_all_locks()


def test_approved_case_is_read_only_until_reopened(qtbot, window, project_folder):
    document = open_case(qtbot, window, CT3_CASE)
    window.actions_by_id["project.approve"].trigger()
    assert reader(project_folder).record(CT3_CASE).status is CaseStatus.APPROVED
    assert document.read_only
    assert window.cases_panel.row_texts(CT3_CASE)[STATUS_COLUMN] == "approved"

    press_key(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    wait_for_case(qtbot, window, SMALL_CT_CASE)
    document = open_case(qtbot, window, CT3_CASE)
    assert document.read_only
    assert "approved" in window.statusBar().currentMessage()
    assert not document.paint_slice(document.slice_index, np.ones(document.labels.shape[1:], dtype=bool))
    assert window.statusBar().currentMessage().startswith("read-only: approved")

    window.actions_by_id["project.reopen"].trigger()
    assert not document.read_only
    assert reader(project_folder).record(CT3_CASE).status is CaseStatus.NEEDS_FIX
    box_and_accept(qtbot, window)
    window.actions_by_id["project.mark_done"].trigger()
    record = reader(project_folder).record(CT3_CASE)
    assert record.status is CaseStatus.DONE and record.label_count == 1
    assert [change.user for change in record.history][-3:] == [window.project_controller.project.user] * 3


def test_needs_fix_and_comment_are_recorded_and_shown(qtbot, window, project_folder):
    open_case(qtbot, window, SMALL_CT_CASE)
    window.project_controller.mark_needs_fix("left lobe missing")
    window.project_controller.edit_comment("checked by the reviewer")
    record = reader(project_folder).record(SMALL_CT_CASE)
    assert record.status is CaseStatus.NEEDS_FIX
    assert record.history[-1].comment == "left lobe missing"
    assert record.comment == "checked by the reviewer"
    assert window.cases_panel.row_texts(SMALL_CT_CASE)[STATUS_COLUMN] == "needs fix"


def test_filter_search_and_sort_decide_the_next_case(qtbot, window, project_folder):
    panel = window.cases_panel
    open_case(qtbot, window, SMALL_CT_CASE)
    window.actions_by_id["project.mark_done"].trigger()

    panel.set_status_filter(CaseStatus.DONE)
    assert panel.case_ids_in_view() == [SMALL_CT_CASE]
    panel.set_status_filter(None)
    qtbot.keyClicks(panel.search_box, "CT3")
    assert panel.case_ids_in_view() == [CT3_CASE]
    panel.search_box.clear()
    assert sorted(panel.case_ids_in_view()) == sorted([CT3_CASE, SMALL_CT_CASE])

    panel.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert panel.case_ids_in_view() == [SMALL_CT_CASE, CT3_CASE]
    press_key(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    wait_for_case(qtbot, window, CT3_CASE)
    press_key(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)  # the last row: stays
    assert window.project_controller.case.case_id == CT3_CASE
    assert "No further case" in window.statusBar().currentMessage()


def test_case_with_deleted_scan_shows_the_error_and_the_open_case_keeps_working(qtbot, window, project_folder, images):
    (images / f"{SMALL_CT_CASE}.nii.gz").unlink()
    document = open_case(qtbot, window, CT3_CASE)
    accepted = box_and_accept(qtbot, window)

    window.project_controller.open_case(SMALL_CT_CASE)
    qtbot.waitUntil(lambda: error_box_shown(window), timeout=30_000)
    box = window.findChild(QMessageBox, "error_box")
    assert f"{SMALL_CT_CASE}.nii.gz" in box.text()
    box.close()

    assert window.project_controller.case.case_id == CT3_CASE and window.document is document
    assert not document.read_only
    assert window.project_controller.save_case()
    saved, _view = reader(project_folder).load_case_labels(CT3_CASE, document.volume)
    np.testing.assert_array_equal(saved, accepted)


def test_failed_save_keeps_the_case_open_with_its_labels(qtbot, window, project_folder):
    document = open_case(qtbot, window, CT3_CASE)
    accepted = box_and_accept(qtbot, window)
    labels_path = window.project_controller.project.labels_path(CT3_CASE)
    labels_path.mkdir()  # the labels file cannot be written (a folder is in the way)
    try:
        press_key(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: error_box_shown(window), timeout=60_000)
        assert "not saved" in window.findChild(QMessageBox, "error_box").text()
        assert window.project_controller.case.case_id == CT3_CASE and window.document is document
        assert document.is_modified
        np.testing.assert_array_equal(document.labels, accepted)
    finally:
        shutil.rmtree(labels_path)
    window.findChild(QMessageBox, "error_box").close()
    press_key(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    wait_for_case(qtbot, window, SMALL_CT_CASE)
    saved, _view = reader(project_folder).load_case_labels(CT3_CASE, document.volume)
    np.testing.assert_array_equal(saved, accepted)


def test_labels_panel_adds_only_missing_project_labels(qtbot, window, project_folder, monkeypatch):
    document = open_case(qtbot, window, CT3_CASE)
    add_button = window.labels_panel.buttons["labels.add_button"]
    assert not add_button.isEnabled()  # the table holds every project label
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    window.labels_panel.select_label(2)
    window.labels_panel.delete_current()
    assert [label.name for label in document.label_table] == ["liver"]
    assert add_button.isEnabled()
    add_button.click()
    assert [(label.value, label.name) for label in document.label_table] == [(1, "liver"), (2, "spleen")]
    assert document.active_label == 2 and not add_button.isEnabled()


def test_active_time_leaves_out_an_idle_gap(qtbot, window, project_folder):
    now = [1000.0]
    window.project_controller.active_time.clock = lambda: now[0]
    open_case(qtbot, window, CT3_CASE)
    viewport = window.view.viewport()
    centre = viewport.rect().center()
    for seconds in (0, 10, 20, 200, 210):  # 20 s, a 180 s pause, then 10 s
        now[0] = 1000.0 + seconds
        QTest.mouseMove(viewport, QPoint(centre.x() + seconds % 7, centre.y()))
    press_key(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    wait_for_case(qtbot, window, SMALL_CT_CASE)
    assert reader(project_folder).record(CT3_CASE).active_seconds == pytest.approx(30.0)
    assert window.cases_panel.row_texts(CT3_CASE)[3] == "0:00"


def test_active_time_counter_counts_inputs_within_the_gap():
    now = [0.0]
    counter = ActiveTimeCounter(clock=lambda: now[0], idle_gap_s=120.0)
    for seconds in (0, 60, 180, 301, 302):  # 60 + 120 counted, 121 not, 1 counted
        now[0] = seconds
        counter.note_input()
    assert counter.take_seconds() == pytest.approx(181.0)
    assert counter.take_seconds() == 0.0


def test_the_next_case_opens_with_its_first_slice_already_encoded(qtbot, window, project_folder):
    """While case 1 is worked on, case 2's scan is read and the slice it opens at is
    encoded into the cache (the encoder had nothing else to do): 'next case' then
    needs no encoder pass for the first box."""
    engine = window.engine
    engine.cache.clear_memory()  # the module's shared engine may hold case 2's slices from an earlier test
    open_case(qtbot, window, CT3_CASE)
    qtbot.waitUntil(lambda: all(engine.is_encoded(z) for z in range(3)), timeout=120_000)  # case 1's own slices
    controller = window.project_controller
    qtbot.waitUntil(lambda: controller._prefetched is not None and engine.prefetch_pending == 0, timeout=120_000)
    press_key(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    wait_for_case(qtbot, window, SMALL_CT_CASE)
    assert engine.is_encoded(window.document.slice_index)  # a cache hit: no encoder pass needed
