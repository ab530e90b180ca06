"""The edit journal: every change is durable at once, recovery is exact, kills lose nothing
that was acknowledged, a torn record is dropped."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medsam_gui.core.document import Document
from medsam_gui.io.autosave import Autosaver
from medsam_gui.io.journal import read_journal
from medsam_gui.io.load import open_volume

sys.path.insert(0, str(Path(__file__).parent))
from journal_victim import scripted_action  # noqa: E402

VICTIM = Path(__file__).with_name("journal_victim.py")
DURABLE_TIMEOUT_S = 60


def table_of(table):
    return [(label.value, label.name, label.colour, label.visible) for label in table]


@pytest.fixture()
def ct_scan(data_root):
    return data_root / "totalseg" / "example_ct_sm.nii.gz"


def scripted_document(scan, seed, actions):
    """A Document after ``actions`` scripted actions of ``seed`` (no journal)."""
    document = Document(open_volume(scan))
    rng = np.random.default_rng(seed)
    for _ in range(actions):
        scripted_action(document, rng)
    return document


def crash(autosaver: Autosaver) -> None:
    """Leave the journal as a killed process would: files on disk, writer stopped."""
    writer = autosaver.writer
    autosaver._document.remove_change_listener(writer.record)
    writer.close(keep_files=True)
    autosaver.pid = -1  # recover as another process would (pid -1 never runs)


def recover_only_entry(folder) -> tuple:
    entries = Autosaver(folder).find_recoverable()
    assert len(entries) == 1
    return entries[0], Autosaver(folder).recover(entries[0])


def rename_owner(folder: Path, pid: int, new_pid: int) -> None:
    for path in folder.glob(f"*-{pid}.*"):
        path.rename(path.with_name(path.name.replace(f"-{pid}.", f"-{new_pid}.")))


def test_every_kind_of_change_is_recovered_exactly(ct_scan, tmp_path):
    document = Document(open_volume(ct_scan))
    autosaver = Autosaver(tmp_path, compact_bytes=1 << 30)
    writer = autosaver.attach(document)
    scripted = np.random.default_rng(7)
    for _ in range(120):
        scripted_action(document, scripted)
    document.merge_labels([document.label_table.get(document.active_label)])  # an import's table merge
    document.slice_index, document.window_center = 11, -300.0
    document.update_label(document.active_label, visible=False)
    assert writer.wait_durable(writer.last_seq, DURABLE_TIMEOUT_S)
    assert writer.last_seq > 100 and document.labels.any()
    writer.close(keep_files=True)
    rename_owner(tmp_path, autosaver.pid, 999_999_999)  # a process that never ran

    entry, state = recover_only_entry(tmp_path)
    np.testing.assert_array_equal(state.labels, document.labels)
    assert table_of(state.label_table) == table_of(document.label_table)
    assert (state.slice_index, state.window_center, state.active_label) == (11, -300.0, document.active_label)
    assert Path(entry.scan_path) == ct_scan and entry.label_count > 0


def test_compaction_folds_the_journal_into_the_snapshot(ct_scan, tmp_path):
    document = Document(open_volume(ct_scan))
    autosaver = Autosaver(tmp_path, compact_bytes=20_000)
    writer = autosaver.attach(document)
    rng = np.random.default_rng(3)
    for _ in range(80):
        scripted_action(document, rng)
        writer.wait_durable(writer.last_seq, DURABLE_TIMEOUT_S)
    autosaver.compact()
    assert writer.wait_durable(writer.last_seq, DURABLE_TIMEOUT_S)
    writer.close(keep_files=True)
    records, _ = read_journal(writer.journal_path)
    assert records == []  # the explicit compaction left an empty journal
    rename_owner(tmp_path, autosaver.pid, 999_999_999)
    _entry, state = recover_only_entry(tmp_path)
    np.testing.assert_array_equal(state.labels, document.labels)
    assert table_of(state.label_table) == table_of(document.label_table)


def test_a_torn_last_record_is_dropped_and_the_rest_recovered(ct_scan, tmp_path):
    document = Document(open_volume(ct_scan))
    autosaver = Autosaver(tmp_path, compact_bytes=1 << 30)
    writer = autosaver.attach(document)
    mask = np.zeros(document.labels.shape[1:], dtype=bool)
    mask[20:40, 30:60] = True
    document.paint_slice(5, mask)
    after_first = document.labels.copy()
    mask[50:70, 60:90] = True
    document.paint_slice(6, mask)
    writer.close(keep_files=True)
    journal = writer.journal_path
    whole = journal.read_bytes()
    records, end = read_journal(journal)
    assert len(records) == 2 and end == len(whole)
    rename_owner(tmp_path, autosaver.pid, 999_999_999)
    journal = next(tmp_path.glob("*.journal"))
    for torn in (whole[:-7], whole[:-1] + bytes([whole[-1] ^ 0xFF]), whole + b"MSJ1\x10"):
        journal.write_bytes(torn)
        _entry, state = recover_only_entry(tmp_path)
        expected = document.labels if torn.startswith(whole) else after_first
        np.testing.assert_array_equal(state.labels, expected)


def test_saving_empties_the_journal_and_nothing_empty_is_offered(ct_scan, tmp_path):
    document = Document(open_volume(ct_scan))
    autosaver = Autosaver(tmp_path)
    writer = autosaver.attach(document)
    mask = np.zeros(document.labels.shape[1:], dtype=bool)
    mask[10:30, 10:30] = True
    document.paint_slice(3, mask)
    assert writer.wait_durable(writer.last_seq, DURABLE_TIMEOUT_S) and writer.snapshot_path.exists()
    document.mark_saved()
    assert writer.wait_durable(writer.last_seq, DURABLE_TIMEOUT_S)
    assert not writer.snapshot_path.exists() and not writer.journal_path.exists()
    document.paint_slice(4, mask)  # after a save the journal starts again from the saved labels
    writer.close(keep_files=True)
    rename_owner(tmp_path, autosaver.pid, 999_999_999)
    _entry, state = recover_only_entry(tmp_path)
    np.testing.assert_array_equal(state.labels, document.labels)

    # a crashed session that left only empty labels (a clean SIGTERM with nothing done) is not offered
    empty = Document(open_volume(ct_scan))
    other = Autosaver(tmp_path / "empty")
    writer = other.attach(empty)
    empty.paint_slice(3, mask)
    empty.undo()
    writer.close(keep_files=True)
    rename_owner(other.folder, other.pid, 999_999_998)
    assert Autosaver(other.folder).find_recoverable() == []
    assert list(other.folder.glob("*.snapshot")) == []


def test_a_clean_close_leaves_nothing_and_a_live_session_is_not_offered(ct_scan, tmp_path):
    document = Document(open_volume(ct_scan))
    autosaver = Autosaver(tmp_path)
    autosaver.start()
    writer = autosaver.attach(document)
    document.paint_slice(3, np.ones(document.labels.shape[1:], dtype=bool))
    assert writer.wait_durable(writer.last_seq, DURABLE_TIMEOUT_S)
    assert autosaver.find_recoverable() == []  # this process is alive
    assert not autosaver.previous_session_crashed()
    autosaver.close()
    assert list(tmp_path.iterdir()) == []


def test_kill_9_at_random_moments_loses_no_acknowledged_edit(ct_scan):
    """SIGKILL a journaling process at random points of a 240-action script, four times
    (with frequent compactions in two runs): the recovered labels and table equal the
    state after the last action it acknowledged as durable, or after the one in flight."""
    actions = 240
    chooser = random.Random(2026)
    for run, compact_bytes in enumerate((1 << 30, 30_000, 1 << 30, 8_000)):
        seed = 100 + run
        kill_after = chooser.randint(5, actions - 5)
        victim = subprocess.Popen(
            [sys.executable, str(VICTIM), str(ct_scan), str(seed), str(actions), str(compact_bytes)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
        )
        acknowledged = 0
        try:
            for line in victim.stdout:
                if line.startswith("durable"):
                    acknowledged = int(line.split()[1])
                if acknowledged >= kill_after or line.strip() == "done":
                    break
        finally:
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=30)
        for line in victim.stdout.read().splitlines():  # printed before the kill landed
            if line.startswith("durable"):
                acknowledged = int(line.split()[1])
        assert acknowledged >= kill_after, victim.stderr.read()

        autosaver = Autosaver()
        assert autosaver.previous_session_crashed()
        state = autosaver.recover(recover_only_entry(autosaver.folder)[0])
        candidates = [scripted_document(ct_scan, seed, acknowledged + extra) for extra in (0, 1)]
        assert any(np.array_equal(state.labels, c.labels) and table_of(state.label_table) == table_of(c.label_table)
                   for c in candidates), f"run {run}: recovery differs after action {acknowledged}"
        for entry in autosaver.find_recoverable():
            autosaver.forget(entry)
