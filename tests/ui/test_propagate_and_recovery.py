"""The window's Segment > Propagate action and its crash-recovery offer at start-up."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PyQt6.QtWidgets import QMessageBox
from PyQt6.QtCore import Qt
from ui_helpers import drag_on_canvas, make_window, open_and_wait, press_key

from medsam_gui.core.document import Document
from medsam_gui.io.autosave import Autosaver, process_alive
from medsam_gui.io.load import open_volume
from medsam_gui.io.resample import resample_onto


@pytest.mark.slow
def test_propagate_action_carries_the_label_as_one_undo_step(qtbot, window, ct_folder, data_root):
    document = open_and_wait(qtbot, window, ct_folder)
    liver = resample_onto(document.volume, data_root / "dcmqi" / "liver_seg.nrrd") > 0
    window.show_slice(1)
    value = document.active_label
    document.paint_slice(1, liver[1], value=value, description="accepted mask")
    window.actions_by_id["segment.propagate"].trigger()
    qtbot.waitUntil(lambda: all((document.labels[z] == value).any() for z in (0, 2)), timeout=300_000)
    labelled = document.labels == value
    dice = 2 * (labelled & liver).sum() / (labelled.sum() + liver.sum())
    assert dice > 0.85
    window.actions_by_id["edit.undo"].trigger()
    np.testing.assert_array_equal(document.labels == value, np.isin(np.arange(3), [1])[:, None, None] & liver)


@pytest.mark.slow
def test_key_boxes_interpolated_through_the_volume_as_one_undo_step(qtbot, window, ct_folder, data_root):
    document = open_and_wait(qtbot, window, ct_folder)
    liver = resample_onto(document.volume, data_root / "dcmqi" / "liver_seg.nrrd") > 0
    value = document.active_label
    press_key(window, Qt.Key.Key_B)  # box tool
    for slice_index in (0, 2):  # key boxes on the first and last slice; slice 1 is interpolated
        window.show_slice(slice_index)
        rows, cols = np.nonzero(liver[slice_index])
        drag_on_canvas(window, (cols.min(), rows.min()), (cols.max(), rows.max()))
        press_key(window, Qt.Key.Key_K)
    press_key(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: all((document.labels[z] == value).any() for z in range(3)), timeout=300_000)
    labelled = document.labels == value
    dice = 2 * (labelled & liver).sum() / (labelled.sum() + liver.sum())
    assert dice > 0.85
    window.actions_by_id["edit.undo"].trigger()
    assert not (document.labels == value).any()


def test_start_up_offers_to_recover_a_crashed_session(qtbot, engine, monkeypatch, ct_folder):
    # a session that ended without closing: its process is gone, its autosave and marker remain
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    crashed = Autosaver()
    crashed.pid = finished.pid  # write as that (now gone) process
    lost = Document(open_volume(ct_folder))
    crashed.start()
    journal = crashed.attach(lost)
    mask = np.zeros(lost.labels.shape, dtype=bool)
    mask[:, 200:260, 150:230] = True
    spleen = lost.add_label("spleen")
    lost.paint_volume(mask, value=spleen)
    journal.close(keep_files=True)  # the process died here: its journal stays
    assert not process_alive(finished.pid)

    questions = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: questions.append(args[2]) or QMessageBox.StandardButton.Yes)
    window = make_window(qtbot, engine, monkeypatch)
    try:
        qtbot.waitUntil(lambda: window.document is not None, timeout=60_000)
        assert len(questions) == 1 and str(ct_folder) in questions[0]
        np.testing.assert_array_equal(window.document.labels, lost.labels)
        assert window.document.label_table.get(spleen).name == "spleen"
        assert window.document.is_modified  # recovered work still has to be saved
        assert Autosaver().find_recoverable() == []
    finally:
        window.close()


def test_an_accepted_mask_is_durable_at_once_and_recovered_after_a_crash(qtbot, engine, monkeypatch, ct_folder):
    """No timer is involved: the accept's journal record is on disk as soon as the
    writer thread has fsynced it; the window 'dies' (its journal stays) and a new
    window offers exactly those labels."""
    window = make_window(qtbot, engine, monkeypatch)
    document = open_and_wait(qtbot, window, ct_folder)
    mask = np.zeros(document.labels.shape[1:], dtype=bool)
    mask[200:260, 150:230] = True
    document.paint_slice(1, mask, description="AI mask")
    window.tools.use("brush")
    drag_on_canvas(window, (300, 300), (340, 320))  # a brush stroke: one more journaled step
    writer = window.case_files.autosaver.writer
    qtbot.waitUntil(lambda: writer.durable_seq == writer.last_seq and writer.last_seq >= 2, timeout=30_000)
    expected = document.labels.copy()
    assert (expected == document.active_label).sum() > mask.sum()
    window.case_files.autosaver.close(keep_files=True)  # as if the process had been killed now
    folder, pid = window.case_files.autosaver.folder, window.case_files.autosaver.pid
    window.case_files.autosaver.pid = -1  # its clean close below must not touch the files of the "dead" session
    window.close()
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    for path in folder.glob(f"*-{pid}.*"):  # its journal and its crash marker lock-<pid>.json
        path.rename(path.with_name(path.name.replace(str(pid), str(finished.pid))))

    questions = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: questions.append(args[2]) or QMessageBox.StandardButton.Yes)
    second = make_window(qtbot, engine, monkeypatch)
    try:
        qtbot.waitUntil(lambda: second.document is not None, timeout=60_000)
        assert len(questions) == 1 and "(1 labels)" in questions[0]
        np.testing.assert_array_equal(second.document.labels, expected)
    finally:
        second.close()
