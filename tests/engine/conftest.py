"""Engine test fixtures: a backend on the tiny random-weight SAM model (fast, real code
paths). The model itself and the bundled LiteMedSAM backend are session fixtures of
tests/conftest.py, shared with the encoder-service tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def tiny_backend(tiny_sam_folder):
    from medsam_gui.engine.models import load_backend

    return load_backend(str(tiny_sam_folder), device="cpu")
