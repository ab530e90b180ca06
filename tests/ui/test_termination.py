"""SIGTERM closes the window without a question: unsaved labels stay recoverable,
and with nothing unsaved the next start has nothing to offer."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from PyQt6.QtWidgets import QApplication
from ui_helpers import make_window, open_and_wait

from medsam_gui.io.autosave import Autosaver
from medsam_gui.ui.termination import stop_on_sigterm


@pytest.fixture
def restore_sigterm():
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


def sigterm_and_wait(qtbot, window):
    timer = stop_on_sigterm(QApplication.instance(), window)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=30_000)
    finally:
        timer.stop()


def as_dead_process(folder, pid):
    """Files of this process renamed as if it had been another, finished one (pid 2**22 + 1)."""
    dead = 2**22 + 1
    for path in folder.glob(f"*-{pid}.*"):
        path.rename(path.with_name(path.name.replace(str(pid), str(dead))))


def test_sigterm_with_unsaved_labels_keeps_them_for_recovery(qtbot, engine, monkeypatch, ct_folder, restore_sigterm):
    window = make_window(qtbot, engine, monkeypatch)
    document = open_and_wait(qtbot, window, ct_folder)
    mask = np.zeros(document.labels.shape[1:], dtype=bool)
    mask[100:150, 100:180] = True
    document.paint_slice(1, mask)
    sigterm_and_wait(qtbot, window)
    folder = Autosaver().folder
    as_dead_process(folder, os.getpid())
    entries = Autosaver(folder).find_recoverable()
    assert len(entries) == 1 and entries[0].label_count == 1
    np.testing.assert_array_equal(Autosaver(folder).recover(entries[0]).labels, document.labels)


def test_sigterm_with_nothing_unsaved_leaves_nothing_to_recover(qtbot, engine, monkeypatch, ct_folder, restore_sigterm):
    window = make_window(qtbot, engine, monkeypatch)
    document = open_and_wait(qtbot, window, ct_folder)
    mask = np.zeros(document.labels.shape[1:], dtype=bool)
    mask[100:150, 100:180] = True
    document.paint_slice(1, mask)
    document.undo()  # back to the state it opened with
    document.mark_saved()
    sigterm_and_wait(qtbot, window)
    folder = Autosaver().folder
    as_dead_process(folder, os.getpid())
    assert not Autosaver(folder).previous_session_crashed()
    assert Autosaver(folder).find_recoverable() == []
