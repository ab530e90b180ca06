"""Engine test fixtures: tiny random-weight SAM models (fast, real code paths) and
the bundled LiteMedSAM backend (real weights, loaded once per session)."""

from __future__ import annotations

import pytest
import torch
from engine_testkit import randomise, tiny_sam_config


@pytest.fixture(scope="session")
def tiny_sam_folder(tmp_path_factory):
    """A random-weight tiny MedSAM-style model saved with save_pretrained."""
    from transformers import SamModel

    torch.manual_seed(0)
    model = SamModel(tiny_sam_config())
    randomise(model, seed=3)
    folder = tmp_path_factory.mktemp("models") / "tiny-medsam"
    model.save_pretrained(folder)
    return folder


@pytest.fixture
def tiny_backend(tiny_sam_folder):
    from medsam_gui.engine.models import load_backend

    return load_backend(str(tiny_sam_folder), device="cpu")


@pytest.fixture(scope="session")
def litemedsam_backend():
    from medsam_gui.engine.models import load_backend

    return load_backend("litemedsam", device="cpu")
