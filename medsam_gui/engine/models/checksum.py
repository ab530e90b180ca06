"""Verify a weights file's SHA-256 once, and remember it by size and mtime."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.core.paths import user_cache_dir


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _record_path(expected_sha256: str) -> Path:
    folder = user_cache_dir() / "verified"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{expected_sha256[:32]}.json"


def verify_once(path: Path, expected_sha256: str) -> bool:
    """Check ``path`` against ``expected_sha256``; return True if it was hashed now.

    A successful check is remembered (file path, size, mtime) in the user cache, so
    later starts skip the hash until the file changes. Raises MedsamGuiError on a
    mismatch or a missing file.
    """
    path = Path(path)
    if not path.is_file():
        raise MedsamGuiError("model weights not found", path)
    stat = path.stat()
    stamp = {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    record = _record_path(expected_sha256)
    try:
        if json.loads(record.read_text()) == stamp:
            return False
    except (OSError, ValueError):
        pass
    actual = file_sha256(path)
    if actual != expected_sha256:
        raise MedsamGuiError(f"weights checksum mismatch (SHA-256 {actual}, expected {expected_sha256})", path)
    temporary = record.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(stamp))
    os.replace(temporary, record)
    return True
