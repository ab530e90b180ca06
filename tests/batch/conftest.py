"""Batch test fixtures: a small real CT with its organ labels, and a Ray fixture that
always shuts Ray down."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def small_ct(data_root):
    """(volume, labels on its display grid) of totalseg/example_ct_sm (30 x 101 x 122)."""
    from medsam_gui.io.load import open_volume
    from medsam_gui.io.resample import resample_onto

    volume = open_volume(data_root / "totalseg" / "example_ct_sm.nii.gz")
    return volume, resample_onto(volume, data_root / "totalseg" / "example_seg.nii.gz")


@pytest.fixture
def ray_session():
    """The ray module; whatever the test does, Ray is shut down afterwards."""
    ray = pytest.importorskip("ray")
    try:
        yield ray
    finally:
        ray.shutdown()
