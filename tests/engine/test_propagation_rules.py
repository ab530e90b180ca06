"""Issue 13's per-slice propagation rules on real CT (TotalSegmentator example, bundled
LiteMedSAM): each test fails with its rule switched off.

* ``pixel_intensity_sd``: mask pixels far outside the key object's intensity are dropped,
  so the spill into a neighbour no longer trips the intensity stop inside the organ;
* ``max_intensity_shift`` 0.8 (was 1.0): with the cleaned masks, the stop still ends the
  walk where the object does.
"""

from __future__ import annotations

import numpy as np
import pytest

from medsam_gui.engine.propagate import PropagationSettings, box_of_mask, propagate, segment_boxes

GALLBLADDER, PANCREAS = 4, 7  # TotalSegmentator values in example_seg.nii.gz


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / max(a.sum() + b.sum(), 1))


@pytest.fixture(scope="module")
def ct_case(data_root):
    from medsam_gui.engine import Engine
    from medsam_gui.io.load import open_volume
    from medsam_gui.io.resample import resample_onto

    volume = open_volume(data_root / "totalseg" / "example_ct_sm.nii.gz")
    labels = resample_onto(volume, data_root / "totalseg" / "example_seg.nii.gz")
    engine = Engine.create("litemedsam", device="cpu", disk_cache=False)
    engine.set_volume(volume)
    return engine, labels


def organ_and_key(engine, labels, value):
    """(bool [z, y, x] organ, its slices, the key slice with the largest area, the key mask from its tight box)."""
    organ = labels == value
    present = np.flatnonzero(organ.any(axis=(1, 2)))
    key = int(present[np.argmax(organ[present].sum(axis=(1, 2)))])
    key_mask = segment_boxes(engine, {key: box_of_mask(organ[key])}, organ.shape, encode_inline=True).mask_zyx[key]
    return organ, present, key, key_mask


@pytest.mark.slow
def test_pixel_cleaning_carries_the_gallbladder_to_its_end(ct_case):
    """Going up, the gallbladder's masks spill into brighter neighbours; uncleaned, that
    spill moves the mask's mean past the intensity stop two slices above the key and
    the rest of the organ is lost. Cleaned, the walk reaches the organ's last slice."""
    engine, labels = ct_case
    organ, present, key, key_mask = organ_and_key(engine, labels, GALLBLADDER)
    walk = (key, min(int(present[-1]) + 2, organ.shape[0] - 1))
    cleaned = propagate(engine, key, key_mask, organ.shape[0], PropagationSettings(slice_range=walk),
                        encode_inline=True, direction="up")
    raw = propagate(engine, key, key_mask, organ.shape[0], PropagationSettings(slice_range=walk, pixel_intensity_sd=0),
                    encode_inline=True, direction="up")
    assert raw.last_slice < present[-1] - 2  # without the rule the walk stops inside the organ
    assert abs(cleaned.last_slice - present[-1]) <= 1
    up = slice(key, None)
    assert dice(cleaned.mask_zyx[up], organ[up]) > dice(raw.mask_zyx[up], organ[up]) + 0.1


@pytest.mark.slow
def test_the_intensity_stop_still_ends_the_pancreas_walk_with_cleaned_masks(ct_case):
    """Below the pancreas the cleaned masks drift onto other tissue whose mean lies
    0.8-1.0 key SDs away: the 0.8 SD stop ends the walk inside the organ's extent, the
    old 1.0 SD stop lets it run to the volume's edge."""
    engine, labels = ct_case
    organ, present, key, key_mask = organ_and_key(engine, labels, PANCREAS)
    walk = (max(int(present[0]) - 2, 0), key)
    stopped = propagate(engine, key, key_mask, organ.shape[0], PropagationSettings(slice_range=walk),
                        encode_inline=True, direction="down")
    loose_stop = propagate(engine, key, key_mask, organ.shape[0],
                           PropagationSettings(slice_range=walk, max_intensity_shift=1.0), encode_inline=True,
                           direction="down")
    assert loose_stop.first_slice < present[0]  # the 1.0 SD stop lets the walk leave the pancreas
    assert stopped.first_slice >= present[0] and "intensity" in stopped.stop_reasons["down"]
    down = slice(None, key + 1)
    assert dice(stopped.mask_zyx[down], organ[down]) > dice(loose_stop.mask_zyx[down], organ[down]) + 0.1
