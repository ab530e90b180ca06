"""Sessions, autosave and crash recovery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from medsam_gui.core.document import Document
from medsam_gui.core.errors import UnreadableInputError
from medsam_gui.io.autosave import Autosaver
from medsam_gui.io.load import open_volume
from medsam_gui.io.session import load_session, restore_into_document, save_session, state_from_document

VICTIM = Path(__file__).with_name("autosave_victim.py")


@pytest.fixture()
def ct_document(data_root):
    return Document(open_volume(data_root / "totalseg" / "example_ct_sm.nii.gz"))


def test_session_round_trip_restores_labels_table_window_and_slice(ct_document, tmp_path):
    document = ct_document
    mask = np.zeros(document.labels.shape, dtype=bool)
    mask[3:9, 20:40, 30:70] = True
    document.paint_volume(mask)
    kidney = document.add_label("kidney left", (1, 2, 3))
    document.paint_slice(12, mask[4], value=kidney)
    document.label_table.update(kidney, visible=False)
    document.window_center, document.window_width, document.slice_index = -600.0, 1500.0, 12
    path = save_session(state_from_document(document), tmp_path / "case.medsam-session")

    reopened = Document(open_volume(load_session(path).scan_path))
    restore_into_document(reopened, load_session(path))
    np.testing.assert_array_equal(reopened.labels, document.labels)
    assert [(l.value, l.name, l.colour, l.visible) for l in reopened.label_table] == [
        (l.value, l.name, l.colour, l.visible) for l in document.label_table
    ]
    assert (reopened.window_center, reopened.window_width, reopened.slice_index) == (-600.0, 1500.0, 12)
    assert reopened.active_label == kidney
    assert not reopened.is_modified and not reopened.history.can_undo


def test_damaged_or_foreign_session_files_are_reported(ct_document, tmp_path):
    path = save_session(state_from_document(ct_document), tmp_path / "case.medsam-session")
    damaged = tmp_path / "damaged.medsam-session"
    damaged.write_bytes(path.read_bytes()[:200])
    with pytest.raises(UnreadableInputError, match="damaged.medsam-session"):
        load_session(damaged)
    foreign = tmp_path / "foreign.medsam-session"
    np.savez(foreign.open("wb"), labels=np.zeros((2, 2, 2), np.uint8), meta=np.array("{}"))
    with pytest.raises(UnreadableInputError, match="not a medsam-gui session"):
        load_session(foreign)
    small = Document(open_volume(Path(ct_document.volume.source_path)))
    state = load_session(path)
    state.labels = state.labels[:-1]
    with pytest.raises(UnreadableInputError, match="do not fit"):
        restore_into_document(small, state)


def test_autosave_writes_only_on_change_and_a_clean_close_leaves_nothing(ct_document):
    autosaver = Autosaver()
    autosaver.start()
    first = autosaver.save_if_changed(ct_document)
    assert first is not None and first.is_file()
    assert autosaver.save_if_changed(ct_document) is None
    ct_document.paint_slice(5, np.ones(ct_document.labels.shape[1:], dtype=bool))
    assert autosaver.save_if_changed(ct_document) == first
    assert autosaver.find_recoverable() == []  # this process is alive: nothing to recover
    assert not autosaver.previous_session_crashed()
    autosaver.close()
    assert list(autosaver.folder.iterdir()) == []


def test_killed_session_is_recovered_up_to_its_last_autosave(data_root):
    """SIGKILL an autosaving process mid-loop: the autosave is whole and holds its labels."""
    scan = data_root / "totalseg" / "example_ct_sm.nii.gz"
    victim = subprocess.Popen(
        [sys.executable, str(VICTIM), str(scan)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    try:
        line = victim.stdout.readline()
        assert line.strip() == "autosaved", victim.stderr.read()
        time.sleep(0.7)  # let it rewrite the autosave many times; the kill lands at a random point
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    autosaver = Autosaver()
    assert autosaver.previous_session_crashed()
    entries = autosaver.find_recoverable()
    assert len(entries) == 1
    entry = entries[0]
    assert Path(entry.scan_path) == scan and entry.owner_pid == victim.pid and entry.label_count == 2
    assert time.time() - entry.saved_at < 120
    state = autosaver.recover(entry)
    sys.path.insert(0, str(VICTIM.parent))
    try:
        from autosave_victim import state_a, state_b
    finally:
        sys.path.remove(str(VICTIM.parent))
    shape = state.labels.shape
    spleen = state_a(shape)
    liver_options = [state_a(shape)[:, ::-1], state_b(shape)]
    expected = [np.where(liver, 1, np.where(spleen, 2, 0)) for liver in liver_options]  # liver painted last
    assert any(np.array_equal(state.labels, candidate) for candidate in expected)
    assert [(l.value, l.name) for l in state.label_table] == [(1, "liver"), (2, "spleen")]
    # the recovered state goes into a fresh document of the same scan
    document = Document(open_volume(state.scan_path))
    restore_into_document(document, state)
    assert document.labels.sum() == state.labels.sum()
    autosaver.forget(entry)
    assert autosaver.find_recoverable() == [] and not autosaver.previous_session_crashed()
