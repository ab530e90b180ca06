"""Where the app keeps its user files: cache, data (autosaves), config.

Each folder can be overridden by an environment variable (tests and portable
installs use this): MEDSAM_GUI_CACHE_DIR, MEDSAM_GUI_DATA_DIR, MEDSAM_GUI_CONFIG_DIR.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "medsam-gui"


def _folder(env_name: str, default: str) -> Path:
    path = Path(os.environ.get(env_name) or default)
    path.mkdir(parents=True, exist_ok=True)
    return path


def user_cache_dir() -> Path:
    """Embedding cache and downloaded model weights."""
    return _folder("MEDSAM_GUI_CACHE_DIR", platformdirs.user_cache_dir(APP_NAME))


def user_data_dir() -> Path:
    """Autosaves and recovery files."""
    return _folder("MEDSAM_GUI_DATA_DIR", platformdirs.user_data_dir(APP_NAME))


def user_config_dir() -> Path:
    """Settings (recent files, chosen model, cache size)."""
    return _folder("MEDSAM_GUI_CONFIG_DIR", platformdirs.user_config_dir(APP_NAME))
