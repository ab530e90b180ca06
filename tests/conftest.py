"""Shared fixtures: where the real test data lives, a headless Qt platform, and the
models several test folders use (a tiny random-weight SAM, the bundled LiteMedSAM)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent / "engine"))  # engine_testkit, for the model fixtures

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


@pytest.fixture(scope="session")
def tiny_sam_folder(tmp_path_factory):
    """A random-weight tiny MedSAM-style model saved with save_pretrained."""
    import torch
    from engine_testkit import randomise, tiny_sam_config
    from transformers import SamModel

    torch.manual_seed(0)
    model = SamModel(tiny_sam_config())
    randomise(model, seed=3)
    folder = tmp_path_factory.mktemp("models") / "tiny-medsam"
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def litemedsam_backend():
    """The bundled LiteMedSAM on the torch CPU path (real weights, loaded once)."""
    from medsam_gui.engine.models import load_backend

    return load_backend("litemedsam", device="cpu")
