"""Crash safety for open cases: an edit journal per case, and recovery after a crash (Qt-free).

Layout under ``<user data dir>/autosave``:

- ``lock-<pid>.json``: written by :meth:`Autosaver.start`, removed by a clean
  :meth:`Autosaver.close`. A lock whose process is gone means that session crashed.
- ``<case key>-<pid>.snapshot`` and ``<case key>-<pid>.journal``: the edit journal of
  one case opened by process ``pid`` (``journal.py``). Every change of the labels or
  the label table is on disk within moments of being made; saving the case (a session
  file, a project) deletes them, and so does a clean exit.

The app calls ``attach(document)`` when a case opens, ``detach()`` when it leaves it,
``compact()`` now and then; at start-up it lists ``find_recoverable()`` and offers
``recover(entry)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import time
from dataclasses import dataclass
from pathlib import Path

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.core.paths import user_data_dir
from medsam_gui.io.atomic import atomic_write_text
from medsam_gui.io.journal import (
    DEFAULT_COMPACT_BYTES,
    JOURNAL_SUFFIX,
    SNAPSHOT_SUFFIX,
    CaseIdentity,
    JournalWriter,
    recover,
)
from medsam_gui.io.session import SessionState

LOCK_PREFIX = "lock-"
COMPACT_INTERVAL_S = 60


@dataclass(frozen=True)
class RecoveryEntry:
    """The journal of a case left behind by a session that did not close cleanly.

    Attributes:
        path: its snapshot file (the journal lies beside it).
        scan_path: the scan it belongs to; series_uid for DICOM folders.
        saved_at: seconds since the epoch of its last durable change.
        label_count: how many labels have voxels in it.
        owner_pid: the process that wrote it.
    """

    path: Path
    scan_path: str
    series_uid: str | None
    saved_at: float
    label_count: int
    owner_pid: int

    @property
    def journal_path(self) -> Path:
        return self.path.with_suffix(JOURNAL_SUFFIX)

    @property
    def saved_at_text(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.saved_at))


def case_key(scan_path: str, series_uid: str | None) -> str:
    """A file-name-safe key for one case (scan path + series)."""
    text = f"{Path(scan_path).resolve() if scan_path else ''}|{series_uid or ''}"
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def document_identity(document) -> CaseIdentity:
    """The scan path and series of a Document's volume."""
    volume = document.volume
    return CaseIdentity(str(volume.source_path), volume.dicom.series_instance_uid if volume.dicom is not None else None)


def process_alive(pid: int) -> bool:
    """True when a process with this id runs (the current one always does)."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    if os.name == "nt":
        import ctypes

        synchronize = 0x00100000
        handle = ctypes.windll.kernel32.OpenProcess(synchronize, False, pid)
        if not handle:
            return False
        still_running = ctypes.windll.kernel32.WaitForSingleObject(handle, 0) == 0x102  # WAIT_TIMEOUT
        ctypes.windll.kernel32.CloseHandle(handle)
        return bool(still_running)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Autosaver:
    """Journals the open case into the user data folder and finds what crashed sessions left.

    Args:
        folder: where journals live (default ``user_data_dir() / 'autosave'``).
        compact_bytes: a journal past this size is compacted into its snapshot.

    Attributes:
        errors: messages of failed journal writes (filled by writer threads; the UI
            drains and shows them).
    """

    def __init__(self, folder: str | Path | None = None, compact_bytes: int = DEFAULT_COMPACT_BYTES) -> None:
        self.folder = Path(folder) if folder is not None else user_data_dir() / "autosave"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.pid = os.getpid()
        self.compact_bytes = compact_bytes
        self.errors: queue.Queue[str] = queue.Queue()
        self._writer: JournalWriter | None = None
        self._document = None
        self._closing: list[JournalWriter] = []  # detached writers still finishing their writes

    # -- this session ------------------------------------------------------------------
    @property
    def lock_path(self) -> Path:
        return self.folder / f"{LOCK_PREFIX}{self.pid}.json"

    def start(self) -> None:
        """Mark this session as running (the crash marker)."""
        atomic_write_text(self.lock_path, json.dumps({"pid": self.pid, "started_at": time.time()}))

    @property
    def writer(self) -> JournalWriter | None:
        """The journal of the attached case (None when no case is attached)."""
        return self._writer

    def attach(self, document) -> JournalWriter:
        """Journal every later change of ``document`` (the case being opened). Only one
        case is journaled at a time: the previous one is detached first."""
        self.detach()
        identity = document_identity(document)
        base = self.folder / f"{case_key(identity.scan_path, identity.series_uid)}-{self.pid}"
        for closing in [w for w in self._closing if w.snapshot_path.name.startswith(base.name + ".")]:
            closing.join()  # the same case left a moment ago: its last writes come first
        self._closing = [w for w in self._closing if w.is_running]
        self._writer = JournalWriter(base, identity, document.labels, document.label_table, document.view_state(),
                                     extra={"owner_pid": self.pid}, compact_bytes=self.compact_bytes,
                                     on_error=self.errors.put)
        self._document = document
        document.add_change_listener(self._writer.record)
        return self._writer

    def detach(self) -> None:
        """Stop journaling the attached case. Its files stay until a clean exit when it
        has unsaved changes (so leaving a case never loses them); otherwise they go."""
        if self._writer is None:
            return
        self._document.remove_change_listener(self._writer.record)
        self._writer.close(keep_files=self._document.is_modified, wait=False)  # the UI never waits on the disk
        self._closing.append(self._writer)
        self._writer, self._document = None, None

    def compact(self) -> None:
        """Fold the attached case's journal into its snapshot (off the calling thread)."""
        if self._writer is not None:
            self._writer.compact()

    def close(self, keep_files: bool = False) -> None:
        """Shutdown. ``keep_files=False`` (a clean exit: the user saved or discarded)
        removes this session's journals and its crash marker; ``True`` (a signal to
        stop with unsaved work) keeps both, so the next start offers recovery."""
        if self._writer is not None:
            self._document.remove_change_listener(self._writer.record)
            self._writer.close(keep_files=keep_files)
            self._writer, self._document = None, None
        for closing in self._closing:
            closing.join()
        self._closing = []
        if keep_files:
            return
        for suffix in (SNAPSHOT_SUFFIX, JOURNAL_SUFFIX):
            for path in self.folder.glob(f"*-{self.pid}{suffix}"):
                path.unlink(missing_ok=True)
        self.lock_path.unlink(missing_ok=True)

    # -- recovery ----------------------------------------------------------------------
    def previous_session_crashed(self) -> bool:
        """True when a crash marker of a process that no longer runs is present."""
        return any(not process_alive(pid) for pid in self._lock_pids())

    def find_recoverable(self) -> list[RecoveryEntry]:
        """Journals whose writing process is gone and that hold labels, newest first.

        Journals of dead processes with no labels in them (nothing to recover) are
        deleted here, so they are never offered.
        """
        entries = []
        for snapshot in self.folder.glob(f"*{SNAPSHOT_SUFFIX}"):
            if snapshot.name.startswith("."):
                continue  # a temporary file of an interrupted write
            owner_pid = _owner_pid(snapshot)
            if owner_pid is None or process_alive(owner_pid):
                continue
            try:
                state = recover(snapshot, snapshot.with_suffix(JOURNAL_SUFFIX))
            except MedsamGuiError:
                continue  # an unreadable leftover is not offered
            entry = RecoveryEntry(
                path=snapshot, scan_path=state.scan_path, series_uid=state.series_uid,
                saved_at=max(p.stat().st_mtime for p in (snapshot, snapshot.with_suffix(JOURNAL_SUFFIX)) if p.exists()),
                label_count=state.label_count, owner_pid=owner_pid,
            )
            if entry.label_count == 0:
                self.forget(entry)
            else:
                entries.append(entry)
        return sorted(entries, key=lambda entry: entry.saved_at, reverse=True)

    def recover(self, entry: RecoveryEntry) -> SessionState:
        """The labels, label table, window and slice of the entry's last durable change.

        Raises UnreadableInputError when the snapshot is damaged.
        """
        return recover(entry.path, entry.journal_path)

    def forget(self, entry: RecoveryEntry) -> None:
        """Delete a recovered (or declined) journal and crash markers of dead processes."""
        entry.path.unlink(missing_ok=True)
        entry.journal_path.unlink(missing_ok=True)
        for pid in self._lock_pids():
            if not process_alive(pid):
                (self.folder / f"{LOCK_PREFIX}{pid}.json").unlink(missing_ok=True)

    # -- internals ---------------------------------------------------------------------
    def _lock_pids(self) -> list[int]:
        pids = []
        for lock in self.folder.glob(f"{LOCK_PREFIX}*.json"):
            try:
                pids.append(int(lock.stem[len(LOCK_PREFIX):]))
            except ValueError:
                continue
        return pids


def _owner_pid(snapshot: Path) -> int | None:
    """The process id in a journal file name ``<key>-<pid>.snapshot`` (None: not ours)."""
    try:
        return int(snapshot.stem.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return None
