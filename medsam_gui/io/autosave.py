"""Autosave of the open case and recovery after a crash (Qt-free).

Layout under ``<user data dir>/autosave``:

- ``lock-<pid>.json``: written by :meth:`Autosaver.start`, removed by a clean
  :meth:`Autosaver.close`. A lock whose process is gone means that session crashed.
- ``<case key>.autosave``: the latest autosave of one case (a session file, see
  ``session.py``) with the owning process id. Written atomically, so a kill
  mid-write leaves the previous autosave intact.

The app calls ``save_now`` (or ``save_if_changed``) every minute and on case
switch; at start-up it lists ``find_recoverable()`` and offers ``recover(entry)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.core.paths import user_data_dir
from medsam_gui.io.atomic import atomic_write_text
from medsam_gui.io.session import SessionState, load_session, save_session, state_from_document

AUTOSAVE_SUFFIX = ".autosave"
LOCK_PREFIX = "lock-"
AUTOSAVE_INTERVAL_S = 60


@dataclass(frozen=True)
class RecoveryEntry:
    """An autosave left behind by a session that did not close cleanly.

    Attributes:
        path: the autosave file.
        scan_path: the scan it belongs to; series_uid for DICOM folders.
        saved_at: seconds since the epoch of the autosave.
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
    def saved_at_text(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.saved_at))


def case_key(scan_path: str, series_uid: str | None) -> str:
    """A file-name-safe key for one case (scan path + series)."""
    text = f"{Path(scan_path).resolve() if scan_path else ''}|{series_uid or ''}"
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


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
    """Keeps the latest labels of each open case in the user data folder.

    Args:
        folder: where autosaves live (default ``user_data_dir() / 'autosave'``).
    """

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else user_data_dir() / "autosave"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.pid = os.getpid()
        self._last_checksum: dict[str, int] = {}

    # -- this session ------------------------------------------------------------------
    @property
    def lock_path(self) -> Path:
        return self.folder / f"{LOCK_PREFIX}{self.pid}.json"

    def start(self) -> None:
        """Mark this session as running (the crash marker)."""
        atomic_write_text(self.lock_path, json.dumps({"pid": self.pid, "started_at": time.time()}))

    def autosave_path(self, scan_path: str, series_uid: str | None) -> Path:
        return self.folder / f"{case_key(scan_path, series_uid)}{AUTOSAVE_SUFFIX}"

    def save_now(self, document) -> Path:
        """Autosave ``document``'s labels, table, window and slice now; returns the file.

        Raises MedsamGuiError when the folder cannot be written (the caller shows it).
        """
        state = state_from_document(document)
        return self._write(state)

    def save_if_changed(self, document) -> Path | None:
        """Autosave only when labels or label table changed since this case's last autosave."""
        state = state_from_document(document)
        if self._last_checksum.get(self._key(state)) == _checksum(state):
            return None
        return self._write(state)

    def discard(self, document) -> None:
        """Remove the autosave of ``document``'s case (after the user saved or discarded)."""
        state = state_from_document(document)
        self.autosave_path(state.scan_path, state.series_uid).unlink(missing_ok=True)
        self._last_checksum.pop(self._key(state), None)

    def close(self) -> None:
        """Clean shutdown: remove this session's autosaves and its crash marker."""
        for entry in self._entries():
            if entry.owner_pid == self.pid:
                entry.path.unlink(missing_ok=True)
        self.lock_path.unlink(missing_ok=True)
        self._last_checksum.clear()

    # -- recovery ----------------------------------------------------------------------
    def previous_session_crashed(self) -> bool:
        """True when a crash marker of a process that no longer runs is present."""
        return any(not process_alive(pid) for pid in self._lock_pids())

    def find_recoverable(self) -> list[RecoveryEntry]:
        """Autosaves whose writing process is gone, newest first."""
        entries = [entry for entry in self._entries() if not process_alive(entry.owner_pid)]
        return sorted(entries, key=lambda entry: entry.saved_at, reverse=True)

    def recover(self, entry: RecoveryEntry) -> SessionState:
        """The labels, label table, window and slice of an autosave.

        Raises UnreadableInputError when the autosave is damaged.
        """
        return load_session(entry.path)

    def forget(self, entry: RecoveryEntry) -> None:
        """Delete a recovered (or declined) autosave and crash markers of dead processes."""
        entry.path.unlink(missing_ok=True)
        for pid in self._lock_pids():
            if not process_alive(pid):
                (self.folder / f"{LOCK_PREFIX}{pid}.json").unlink(missing_ok=True)

    # -- internals ---------------------------------------------------------------------
    @staticmethod
    def _key(state: SessionState) -> str:
        return case_key(state.scan_path, state.series_uid)

    def _write(self, state: SessionState) -> Path:
        state.saved_at = time.time()
        state.extra = {"owner_pid": self.pid}
        path = self.autosave_path(state.scan_path, state.series_uid)
        try:
            save_session(state, path)
        except OSError as error:
            raise MedsamGuiError(f"autosave failed ({error.strerror})", path) from error
        self._last_checksum[self._key(state)] = _checksum(state)
        return path

    def _lock_pids(self) -> list[int]:
        pids = []
        for lock in self.folder.glob(f"{LOCK_PREFIX}*.json"):
            try:
                pids.append(int(lock.stem[len(LOCK_PREFIX):]))
            except ValueError:
                continue
        return pids

    def _entries(self) -> list[RecoveryEntry]:
        entries = []
        for path in self.folder.glob(f"*{AUTOSAVE_SUFFIX}"):
            if path.name.startswith("."):
                continue  # a temporary file of an interrupted write
            try:
                state = load_session(path)
            except MedsamGuiError:
                continue  # an unreadable leftover is not offered
            entries.append(
                RecoveryEntry(
                    path=path,
                    scan_path=state.scan_path,
                    series_uid=state.series_uid,
                    saved_at=state.saved_at,
                    label_count=state.label_count,
                    owner_pid=int(state.extra.get("owner_pid", -1)),
                )
            )
        return entries


def _checksum(state: SessionState) -> int:
    table = json.dumps([(l.value, l.name, l.colour, l.visible) for l in state.label_table])
    return zlib.crc32(table.encode("utf-8"), zlib.crc32(state.labels.tobytes()))
