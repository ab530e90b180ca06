"""The recent-files list, kept as JSON in the user config folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

from medsam_gui.core.paths import user_config_dir

MAX_RECENT = 10


def _store() -> Path:
    return user_config_dir() / "recent_files.json"


def load_recent() -> list[str]:
    """Recent paths, newest first (an unreadable store is an empty list)."""
    try:
        entries = json.loads(_store().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [str(entry) for entry in entries if isinstance(entry, str)][:MAX_RECENT]


def remember(path: str) -> list[str]:
    """Put ``path`` first in the list, save it atomically, return the new list."""
    path = os.path.abspath(path)
    entries = [path] + [entry for entry in load_recent() if entry != path]
    entries = entries[:MAX_RECENT]
    store = _store()
    temporary = store.with_suffix(".tmp")
    temporary.write_text(json.dumps(entries, indent=1), encoding="utf-8")
    os.replace(temporary, store)
    return entries
