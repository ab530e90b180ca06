"""Shared fixtures: where the real test data lives, and a headless Qt platform."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = Path(os.environ.get("MEDSAM_GUI_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared real-data folder; tests using it skip (with the reason) when absent."""
    if not DATA_ROOT.is_dir():
        pytest.skip(f"shared test data not found at {DATA_ROOT} (set MEDSAM_GUI_DATA)")
    return DATA_ROOT


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Keep caches, settings and autosaves of every test out of the real user folders."""
    base = tmp_path_factory.mktemp("userdirs")
    monkeypatch.setenv("MEDSAM_GUI_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("MEDSAM_GUI_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("MEDSAM_GUI_CONFIG_DIR", str(base / "config"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield base
