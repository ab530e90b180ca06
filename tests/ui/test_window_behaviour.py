"""The window without the model's output: actions, shortcuts, viewing, files, errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pydicom.data
import pytest
from PyQt6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PyQt6.QtGui import QAction, QDragEnterEvent, QDropEvent, QKeySequence, QPainter, QWheelEvent
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QApplication, QMessageBox
from ui_helpers import drag_on_canvas, open_and_wait, press_key

from medsam_gui.ui import recent_files
from medsam_gui.ui.actions import ACTIONS, shortcut_rows
from medsam_gui.ui.dialogs import SeriesChooser, ShortcutsDialog


def test_every_action_is_built_with_its_id_and_no_shortcut_is_used_twice(window):
    seen = {}
    for spec in ACTIONS:
        action = window.findChild(QAction, spec.action_id)
        assert action is not None, spec.action_id
        assert [s.toString() for s in action.shortcuts()] == [QKeySequence(s).toString() for s in spec.shortcuts]
        for shortcut in spec.shortcuts:
            key = QKeySequence(shortcut).toString()
            assert key not in seen, f"{shortcut} used by {seen.get(key)} and {spec.action_id}"
            seen[key] = spec.action_id


def test_shortcuts_dialog_lists_the_action_table(qtbot, window):
    window.actions_by_id["help.shortcuts"].trigger()
    dialog = window.findChild(ShortcutsDialog, "shortcuts_dialog")
    assert dialog is not None and dialog.isVisible()
    texts = {dialog.table.item(row, 1).text() for row in range(dialog.table.rowCount())}
    assert {text for _menu, text, _keys in shortcut_rows()} <= texts
    assert "Accept mask" in texts and "Undo" in texts
    dialog.close()


def test_about_names_version_model_licence_and_device(qtbot, window):
    from PyQt6.QtWidgets import QMessageBox

    from medsam_gui import __version__

    qtbot.waitUntil(lambda: window.engine is not None, timeout=60000)
    window.actions_by_id["help.about"].trigger()
    box = window.findChild(QMessageBox, "about_box")
    assert box is not None and box.isVisible()
    text = box.text()
    assert __version__ in text and "LiteMedSAM" in text and "Apache-2.0" in text and "Device: cpu" in text
    box.close()


def test_slices_window_presets_zoom_and_readout(qtbot, window, ct_folder):
    document = open_and_wait(qtbot, window, ct_folder)
    assert window.slider.maximum() == document.volume.shape_zyx[0] - 1
    assert window.view.edge_letters == {"left": "R", "right": "L", "top": "A", "bottom": "P"}

    press_key(window, Qt.Key.Key_3)
    assert (document.window_center, document.window_width) == (400.0, 1800.0)
    press_key(window, Qt.Key.Key_2)
    assert (document.window_center, document.window_width) == (-600.0, 1500.0)
    drag_on_canvas(window, (200, 200), (260, 200), button=Qt.MouseButton.RightButton)
    assert document.window_width > 1500.0 and document.window_center == -600.0
    press_key(window, Qt.Key.Key_0)
    low, high = np.percentile(document.volume.voxels[document.volume.voxels != 0], [0.5, 99.5])
    assert document.window_width == pytest.approx(high - low)  # MR-style auto window
    assert document.window_center == pytest.approx((low + high) / 2)

    start = document.slice_index
    QTest.keyClick(window.view, Qt.Key.Key_PageUp)
    assert document.slice_index == start - 1
    window.show_slice(999)
    assert document.slice_index == document.volume.shape_zyx[0] - 1

    fitted_zoom = window.view.zoom
    press_key(window, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert window.view.zoom > fitted_zoom
    press_key(window, Qt.Key.Key_F)
    assert window.view.zoom == pytest.approx(fitted_zoom)

    x, y = 120, 300
    QTest.mouseMove(window.view.viewport(), window.view.widget_position(x + 0.5, y + 0.5))
    text = window.readout_label.text()
    z = document.slice_index
    physical = document.volume.index_to_physical((x, y, z))
    assert f"x {x} y {y} z {z}" in text
    assert f"{physical[0]:.1f}, {physical[1]:.1f}, {physical[2]:.1f}" in text
    assert f"{document.volume.voxels[z, y, x]} HU" in text


def test_unreadable_file_is_reported_in_words_and_the_app_goes_on(qtbot, window, tmp_path, ct_folder):
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"this is not a scan")
    window.open_path(str(bad))
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "error_box") is not None, timeout=30_000)
    error_text = window.findChild(QMessageBox, "error_box").text()
    assert str(bad) in error_text and error_text == window.statusBar().currentMessage()
    assert window.document is None
    assert not window.progress_bar.isVisible()
    document = open_and_wait(qtbot, window, ct_folder)
    assert document.volume.shape_zyx == (3, 512, 512)


def test_opening_can_be_cancelled_and_the_open_case_stays(qtbot, window, ct_folder, data_root):
    from PyQt6.QtCore import Qt

    document = open_and_wait(qtbot, window, ct_folder)
    other = data_root / "totalseg" / "example_ct_dicom"
    window.open_path(str(other))
    assert window.cancel_open_button.isVisible()
    qtbot.mouseClick(window.cancel_open_button, Qt.MouseButton.LeftButton)
    assert not window.progress_bar.isVisible() and not window.cancel_open_button.isVisible()
    qtbot.waitUntil(lambda: all(not loader.isRunning() for loader in window.opening.abandoned_loaders), timeout=60_000)
    qtbot.wait(200)  # let a result that was already queued arrive, if it were still wanted
    assert window.document is document  # the cancelled open never replaced the case
    window.open_path(str(other))  # and opening it again works
    qtbot.waitUntil(lambda: window.document is not document, timeout=60_000)
    assert window.document.volume.shape_zyx == (20, 512, 512)


def test_folder_with_two_series_asks_which_one(qtbot, window, tmp_path, ct_folder):
    folder = tmp_path / "two_series"
    folder.mkdir()
    for path in ct_folder.glob("*.dcm"):
        shutil.copy(path, folder / path.name)
    shutil.copy(pydicom.data.get_testdata_file("CT_small.dcm"), folder / "other.dcm")
    window.open_path(str(folder))
    qtbot.waitUntil(lambda: window.findChild(SeriesChooser, "series_chooser") is not None, timeout=60_000)
    chooser = window.findChild(SeriesChooser, "series_chooser")
    assert chooser.table.rowCount() == 2
    sizes = [chooser.table.item(row, 2).text() for row in range(2)]
    row = sizes.index("512 x 512 x 3")
    chooser.table.selectRow(row)
    chooser.accept()
    qtbot.waitUntil(lambda: window.document is not None, timeout=60_000)
    assert window.document.volume.shape_zyx == (3, 512, 512)
    assert recent_files.load_recent()[0] == str(folder)


def test_recent_files_menu_reopens(qtbot, window, ct_folder):
    open_and_wait(qtbot, window, ct_folder)
    actions = window.recent_menu.actions()
    assert [a.text() for a in actions] == [str(ct_folder)]
    window.document = None
    actions[0].trigger()
    qtbot.waitUntil(lambda: window.document is not None, timeout=60_000)


def test_closing_with_unsaved_labels_asks_first(qtbot, window, ct_folder, monkeypatch):
    document = open_and_wait(qtbot, window, ct_folder)
    document.paint_slice(document.slice_index, np.ones(document.labels.shape[1:], dtype=bool))
    questions = []
    monkeypatch.setattr(window, "ask_save_changes", lambda: questions.append("asked") or "cancel")
    window.close()
    assert questions == ["asked"] and window.isVisible()
    monkeypatch.setattr(window, "ask_save_changes", lambda: questions.append("asked") or "discard")
    window.close()
    assert questions == ["asked", "asked"] and not window.isVisible()
    assert not window.encoder.isRunning() and not window.decoder.isRunning()


def _wheel(view, widget_pos, modifiers):
    event = QWheelEvent(
        QPointF(widget_pos), QPointF(view.viewport().mapToGlobal(widget_pos)), QPoint(0, 0), QPoint(0, 120),
        Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False,
    )
    QApplication.sendEvent(view.viewport(), event)


def test_ctrl_wheel_zooms_about_the_cursor_and_middle_drag_pans(qtbot, window, ct_folder):
    document = open_and_wait(qtbot, window, ct_folder)
    view = window.view
    target = (150.5, 200.5)
    under_cursor = view.widget_position(*target)
    zoom_before = view.zoom
    for _ in range(4):
        _wheel(view, under_cursor, Qt.KeyboardModifier.ControlModifier)
    assert view.zoom == pytest.approx(zoom_before * 1.25**4)
    after = view.image_position(under_cursor)
    assert abs(after.x() - target[0]) < 1.5 and abs(after.y() - target[1]) < 1.5  # the point stayed put
    assert not view.renderHints() & QPainter.RenderHint.SmoothPixmapTransform  # exact pixels

    start = view.image_position(QPoint(200, 200))
    QTest.mousePress(view.viewport(), Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, QPoint(200, 200))
    QTest.mouseMove(view.viewport(), QPoint(260, 230))
    QTest.mouseRelease(view.viewport(), Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, QPoint(260, 230))
    moved = view.image_position(QPoint(260, 230))
    assert abs(moved.x() - start.x()) < 1.0 and abs(moved.y() - start.y()) < 1.0  # the image followed the mouse

    slice_before = document.slice_index
    _wheel(view, under_cursor, Qt.KeyboardModifier.NoModifier)
    assert document.slice_index == slice_before + 1


def test_dropping_a_folder_opens_it(qtbot, window, ct_folder):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(ct_folder))])
    position = QPointF(100, 100)
    enter = QDragEnterEvent(position.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window.view.viewport(), enter)
    drop = QDropEvent(position, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window.view.viewport(), drop)
    qtbot.waitUntil(lambda: window.document is not None, timeout=60_000)
    assert window.document.volume.shape_zyx == (3, 512, 512)


APP_PROBE = """
import sys
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from medsam_gui import cli
from medsam_gui.ui.main_window import MainWindow

def check():
    windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
    if windows and windows[0].document is not None and windows[0].engine is not None:
        print("opened", windows[0].document.volume.shape_zyx, windows[0].model_label.text(), flush=True)
        windows[0].close()
    else:
        QTimer.singleShot(100, check)

QTimer.singleShot(100, check)
sys.exit(cli.main(sys.argv[1:]))
"""


def test_command_line_path_opens_in_the_app(ct_folder, isolated_user_dirs):
    # a process of its own: the app's event loop ends the way it does for a user
    result = subprocess.run(
        [sys.executable, "-c", APP_PROBE, str(ct_folder)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "opened (3, 512, 512) LiteMedSAM" in result.stdout


def test_fill_erase_and_overlay_toggles_on_the_active_label(qtbot, window, ct_folder):
    document = open_and_wait(qtbot, window, ct_folder)
    z = document.slice_index
    ring = np.zeros(document.labels.shape[1:], dtype=bool)
    ring[100:140, 100:140] = True
    ring[110:130, 110:130] = False
    document.paint_slice(z, ring)
    other = document.add_label()
    document.paint_slice(z, np.pad(np.ones((5, 5), bool), ((300, 207), (300, 207))))
    window.labels_panel.select_label(1)

    press_key(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)  # fill holes
    assert (document.labels[z, 100:140, 100:140] == 1).all()
    press_key(window, Qt.Key.Key_Delete)  # erase the active label on this slice only
    assert not (document.labels[z] == 1).any() and (document.labels[z] == other).sum() == 25

    window.labels_panel.select_label(other)
    assert window.view.overlay_item.pixmap().toImage().pixelColor(302, 302).alpha() > 0
    press_key(window, Qt.Key.Key_O)
    assert window.view.overlay_item.pixmap().isNull()
    press_key(window, Qt.Key.Key_O)
    press_key(window, Qt.Key.Key_O, Qt.KeyboardModifier.ShiftModifier)  # outline only: the centre is clear
    image = window.view.overlay_item.pixmap().toImage()
    assert image.pixelColor(302, 302).alpha() == 0 and image.pixelColor(300, 300).alpha() == 255


def test_label_rename_and_delete_in_the_panel_are_undone_with_ctrl_z(qtbot, window, ct_folder, monkeypatch):
    from PyQt6.QtWidgets import QInputDialog, QMessageBox

    document = open_and_wait(qtbot, window, ct_folder)
    panel = window.labels_panel
    value = document.active_label
    original_name = document.label_table.get(value).name
    press_key(window, Qt.Key.Key_R)
    drag_on_canvas(window, (100, 100), (140, 100), steps=4)
    painted = document.labels.copy()
    assert (painted == value).any()

    def shown_names():
        return [panel.list_widget.item(row).text() for row in range(panel.list_widget.count())]

    monkeypatch.setattr(QInputDialog, "getText", lambda *args, **kwargs: ("hepatic lesion", True))
    panel.rename_current()
    assert f"{value}  hepatic lesion" in shown_names()
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    panel.delete_current()
    assert f"{value}  hepatic lesion" not in shown_names() and not (document.labels == value).any()

    press_key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the delete
    assert f"{value}  hepatic lesion" in shown_names()
    assert np.array_equal(document.labels, painted)
    press_key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the rename
    assert f"{value}  {original_name}" in shown_names()
    press_key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the stroke
    assert document.labels.max() == 0 and not document.is_modified
