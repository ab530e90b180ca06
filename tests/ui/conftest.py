"""Fixtures for the UI tests: the real LiteMedSAM engine and a real MainWindow.

The engine is shared by the tests of a module (its memory cache then spares repeated
encoder passes); it never writes a disk cache. Each window is closed at the end of
its test, which stops its worker threads.
"""

from __future__ import annotations

import pytest
from ui_helpers import make_window


@pytest.fixture(scope="module")
def engine():
    from medsam_gui.engine import Engine

    return Engine.create(model_name="litemedsam", device="cpu", memory_cache_mb=256, disk_cache=False)


@pytest.fixture
def ct_folder(data_root):
    """A real 3-slice CT DICOM series (512 x 512)."""
    return data_root / "dcmqi" / "ct-3slice"


@pytest.fixture
def window(qtbot, engine, monkeypatch):
    """A shown MainWindow on the real engine (unsaved labels never block its closing)."""
    window = make_window(qtbot, engine, monkeypatch)
    yield window
    window.close()


