"""Case locks: one app instance edits a case at a time, also across machines on a shared drive.

The lock is ``cases/<case_id>/lock.json``, created with ``O_CREAT | O_EXCL`` (the one
file operation that SMB and NFS make exclusive), holding the owner's user, host,
process id, creation time, heartbeat time and a random token. The holder refreshes
the heartbeat (``CaseLock.heartbeat()``, every ``HEARTBEAT_INTERVAL_S``); another
instance that finds the file gets :class:`CaseLocked` ("locked by NAME on HOST since
TIME") and opens the case read-only.

A lock is stale, and is taken over, when its heartbeat is older than
``stale_after_s`` (``LOCK_STALE_S`` by default) or when it was made on this host by
a process that no longer runs. Taking over renames the stale file aside first (an
atomic step only one instance can win) and checks that what it moved is the stale
lock it judged, so a lock created in the meantime is never stolen. An instance
whose lock was taken over learns it at its next heartbeat or save (:class:`LockLost`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.io.atomic import atomic_write_text
from medsam_gui.project.errors import CaseLocked, LockLost, ProjectError, ProjectReadOnly
from medsam_gui.project.layout import from_iso, local_time_text, to_iso

LOCK_STALE_S = 120.0
HEARTBEAT_INTERVAL_S = 30.0
LOCK_FORMAT = "medsam-gui case lock"

_NOT_WRITABLE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS}


@dataclass(frozen=True)
class LockOwner:
    """Who holds a lock: user, host, process id, created and heartbeat times (epoch s), token."""

    user: str
    host: str
    pid: int
    created: float
    heartbeat: float
    token: str

    def describe(self) -> str:
        """'NAME on HOST since 2025-01-31 15:03' (local time)."""
        return f"{self.user} on {self.host} since {local_time_text(self.created)}"

    def to_json(self) -> dict:
        return {
            "format": LOCK_FORMAT,
            "user": self.user,
            "host": self.host,
            "pid": self.pid,
            "created": to_iso(self.created),
            "heartbeat": to_iso(self.heartbeat),
            "token": self.token,
        }

    @classmethod
    def from_json(cls, data: dict) -> "LockOwner":
        created = from_iso(data.get("created")) or 0.0
        return cls(
            user=str(data.get("user") or "unknown"),
            host=str(data.get("host") or "unknown"),
            pid=int(data.get("pid") or 0),
            created=created,
            heartbeat=from_iso(data.get("heartbeat")) or created,
            token=str(data.get("token") or ""),
        )


def this_host() -> str:
    return socket.gethostname() or "unknown"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (True when that cannot be told)."""
    if pid <= 0:
        return False
    if os.name == "nt":
        return _pid_alive_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    except OSError:
        return True
    return True


def _pid_alive_windows(pid: int) -> bool:  # pragma: no cover - exercised on Windows only
    import ctypes

    process_query_limited_information, still_active, access_denied = 0x1000, 259, 5
    kernel32 = ctypes.windll.kernel32
    handle = kernel32.OpenProcess(process_query_limited_information, False, pid)
    if not handle:
        return ctypes.GetLastError() == access_denied
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == still_active
    finally:
        kernel32.CloseHandle(handle)


def read_lock_owner(path: Path) -> LockOwner | None:
    """The owner written in a lock file; None when there is no lock file.

    A damaged or empty file (its writer died between creating and filling it) is
    reported as owned by "unknown" with the file's modification time as heartbeat,
    so it turns stale like any other.
    """
    try:
        text = Path(path).read_bytes().decode("utf-8", errors="replace")
        modified = os.stat(path).st_mtime
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ProjectError(f"cannot read the lock file ({error.strerror})", path) from error
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return LockOwner.from_json(data)
    except (ValueError, TypeError):
        return LockOwner("unknown", "unknown", 0, modified, modified, "")


def stale_reason(owner: LockOwner, stale_after_s: float, now: float, host: str) -> str | None:
    """Why a lock may be taken over ('no heartbeat for 300 s', 'process 123 ended'), or None."""
    if owner.host.casefold() == host.casefold() and owner.pid and not pid_alive(owner.pid):
        return f"process {owner.pid} on {owner.host} has ended"
    silent_for = now - owner.heartbeat
    if silent_for > stale_after_s:
        return f"no heartbeat for {silent_for:.0f} s"
    return None


class CaseLock:
    """A held lock on one case. Call :meth:`heartbeat` periodically and :meth:`release` when done.

    Usable as a context manager (releases on exit).
    """

    def __init__(self, case_id: str, path: Path, owner: LockOwner, took_over_from: LockOwner | None = None) -> None:
        self.case_id = case_id
        self.path = Path(path)
        self.owner = owner
        self.took_over_from = took_over_from
        self.released = False

    def __repr__(self) -> str:
        return f"CaseLock({self.case_id!r}, {self.owner.describe()}, released={self.released})"

    def __enter__(self) -> "CaseLock":
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()

    def verify(self) -> None:
        """Make sure the lock file is still ours.

        A lock file deleted behind our back is created again (exclusively, so nobody
        else's lock is overwritten).

        Raises:
            LockLost: another instance took the lock over.
            ProjectError: the lock was released, or the file cannot be read/written.
        """
        if self.released:
            raise ProjectError(f"the lock on case '{self.case_id}' was released", self.path)
        current = read_lock_owner(self.path)
        if current is None:
            _create_exclusively(self.path, self.owner, self.case_id)
            return
        if current.token != self.owner.token:
            raise LockLost(
                f"case '{self.case_id}' was taken over by {current.describe()} "
                "(this app's lock had gone stale); reopen the case",
                str(self.path),
                self.case_id,
                current,
            )

    def heartbeat(self, now: float | None = None) -> None:
        """Refresh the heartbeat time in the lock file (after :meth:`verify`)."""
        self.verify()
        self.owner = LockOwner(
            self.owner.user, self.owner.host, self.owner.pid, self.owner.created,
            time.time() if now is None else now, self.owner.token,
        )
        try:
            atomic_write_text(self.path, _lock_text(self.owner))
        except MedsamGuiError as error:
            raise ProjectReadOnly(
                f"cannot refresh the lock of case '{self.case_id}': {error.reason}", error.path
            ) from error

    def release(self) -> None:
        """Remove the lock file if it is still ours; calling it again does nothing.

        Raises:
            ProjectError: the file cannot be removed (read-only folder).
        """
        if self.released:
            return
        current = read_lock_owner(self.path)
        self.released = True
        if current is None or current.token != self.owner.token:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        except OSError as error:
            raise ProjectError(f"cannot remove the lock file ({error.strerror})", self.path) from error


def _lock_text(owner: LockOwner) -> str:
    return json.dumps(owner.to_json(), indent=2) + "\n"


def _folder_not_writable(case_id: str, folder: Path, error: OSError) -> ProjectReadOnly:
    return ProjectReadOnly(
        f"cannot lock case '{case_id}': the project folder is not writable ({error.strerror}); open the case read-only",
        str(folder),
    )


def _create_exclusively(path: Path, owner: LockOwner, case_id: str) -> bool:
    """Create the lock file with O_CREAT|O_EXCL and write ``owner``; False when it exists."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    except OSError as error:
        if error.errno in _NOT_WRITABLE_ERRNOS:
            raise _folder_not_writable(case_id, path.parent, error) from error
        raise ProjectError(f"cannot create the lock file ({error.strerror})", path) from error
    try:
        os.write(descriptor, _lock_text(owner).encode("utf-8"))
        os.fsync(descriptor)
    except OSError as error:
        os.close(descriptor)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise ProjectError(f"cannot write the lock file ({error.strerror})", path) from error
    os.close(descriptor)
    return True


def _take_over(path: Path, stale: LockOwner, case_id: str) -> LockOwner | None:
    """Move a stale lock aside; returns None on success, or the owner of a fresh lock found instead."""
    aside = path.with_name(f"{path.name}.stale-{uuid.uuid4().hex[:12]}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return None  # someone else removed it first; try creating again
    except OSError as error:
        if error.errno in _NOT_WRITABLE_ERRNOS:
            raise _folder_not_writable(case_id, path.parent, error) from error
        raise ProjectError(f"cannot take over the stale lock ({error.strerror})", path) from error
    moved = read_lock_owner(aside)
    if moved is not None and moved.token != stale.token:
        # A fresh lock appeared between judging and renaming: put it back, never steal it.
        with contextlib.suppress(OSError):
            os.link(aside, path)
        with contextlib.suppress(OSError):
            os.unlink(aside)
        return moved
    with contextlib.suppress(OSError):
        os.unlink(aside)
    return None


def acquire_lock(
    path: str | Path,
    case_id: str,
    user: str,
    *,
    stale_after_s: float = LOCK_STALE_S,
    host: str | None = None,
    pid: int | None = None,
    clock: Callable[[], float] = time.time,
) -> CaseLock:
    """Lock a case by creating ``path`` exclusively; take over a stale lock.

    Args:
        path: the case's ``lock.json``.
        case_id: the case (for messages).
        user: the user name written into the lock.
        stale_after_s: a lock whose heartbeat is older than this is taken over.
        host, pid, clock: this instance's host name, process id and clock (injectable
            for tests; default: the real ones).

    Raises:
        CaseLocked: held by another live instance (``owner`` says who).
        ProjectReadOnly: the folder cannot be written (open the case read-only).
    """
    path = Path(path)
    host = host or this_host()
    pid = os.getpid() if pid is None else pid
    took_over_from = None
    for _attempt in range(5):
        now = clock()
        owner = LockOwner(user, host, pid, now, now, uuid.uuid4().hex)
        if _create_exclusively(path, owner, case_id):
            return CaseLock(case_id, path, owner, took_over_from)
        current = read_lock_owner(path)
        if current is None:
            continue  # released between our attempt and the read
        reason = stale_reason(current, stale_after_s, clock(), host)
        if reason is None:
            raise CaseLocked(
                f"case '{case_id}' is locked by {current.describe()}; opening it read-only",
                str(path), case_id, current,
            )
        fresh = _take_over(path, current, case_id)
        if fresh is not None:
            raise CaseLocked(
                f"case '{case_id}' is locked by {fresh.describe()}; opening it read-only",
                str(path), case_id, fresh,
            )
        took_over_from = current
    current = read_lock_owner(path)
    raise CaseLocked(
        f"case '{case_id}' could not be locked (other instances keep taking it); try again",
        str(path), case_id, current,
    )
