"""Atomic file writes: write a temporary file next to the target, then rename it over.

A crash (or SIGKILL) mid-write leaves the previous file untouched: ``os.replace`` is
atomic on the same file system, and the temporary file lives in the target's own
folder so it is always on the same file system. Every writer in ``medsam_gui.io``
that produces a user file goes through :func:`atomic_output`.

The file gets the permissions a plain ``open(target, "w")`` would give a new file,
``0o666`` less the process umask (``tempfile.mkstemp`` would make it ``0o600``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from medsam_gui.core.errors import MedsamGuiError


def full_suffix(path: str | os.PathLike) -> str:
    """The suffix including double extensions: '.nii.gz', '.seg.nrrd', '.dcm'."""
    name = Path(path).name.lower()
    for double in (".nii.gz", ".seg.nrrd", ".label.txt", ".tar.gz"):
        if name.endswith(double):
            return double
    return Path(name).suffix


def refuse_source_overwrite(target: str | os.PathLike, source_paths) -> None:
    """Raise MedsamGuiError when ``target`` is (or lies inside) one of the source scan paths.

    Args:
        target: the file about to be written.
        source_paths: iterable of files or folders the scan was read from (empty strings ignored).
    """
    target_path = Path(target).resolve()
    for source in source_paths:
        if not source:
            continue
        source_path = Path(source).resolve()
        if target_path == source_path:
            raise MedsamGuiError("refusing to overwrite the source scan; choose another file name", target)
        if source_path.is_dir() and source_path in target_path.parents and full_suffix(target_path) == ".dcm":
            raise MedsamGuiError(
                "refusing to write a DICOM file into the source series folder; choose another folder", target
            )


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it to ``target``.

    The temporary name keeps the target's suffix (so writers that pick the format
    by extension still work). On an exception the temporary file is removed and the
    target is left as it was. Raises MedsamGuiError when the folder is not writable.
    """
    target_path = Path(target)
    folder = target_path.parent if str(target_path.parent) else Path(".")
    if not folder.is_dir():
        raise MedsamGuiError("the folder does not exist", folder)
    suffix = full_suffix(target_path)
    try:
        temporary_path = _create_new_file(folder, prefix=f".{target_path.name}.", suffix=f".tmp{suffix}")
    except OSError as error:
        raise MedsamGuiError(f"cannot write in this folder ({error.strerror})", folder) from error
    try:
        yield temporary_path
        _fsync_file(temporary_path)
        os.replace(temporary_path, target_path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary_path.unlink()
        raise
    _fsync_folder(folder)


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically; returns the target path."""
    with atomic_output(target) as temporary_path:
        temporary_path.write_bytes(data)
    return Path(target)


def atomic_write_text(target: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``target`` atomically; returns the target path."""
    return atomic_write_bytes(target, text.encode("utf-8"))


def _create_new_file(folder: Path, prefix: str, suffix: str, attempts: int = 100) -> Path:
    """Create an empty file with an unused random name in ``folder``; returns its path.

    Like ``tempfile.mkstemp`` (``O_EXCL``, so never an existing file) but with mode
    ``0o666`` filtered by the umask, as ``open()`` would create it. Raises OSError.
    """
    for _ in range(attempts):
        candidate = folder / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        os.close(descriptor)
        return candidate
    raise FileExistsError(errno.EEXIST, "no unused temporary file name", str(folder))


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_folder(folder: Path) -> None:
    """Persist the rename itself (POSIX); a no-op where folders cannot be opened."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
