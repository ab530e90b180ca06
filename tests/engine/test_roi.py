"""ROI-zoom crop policy: when to zoom, containment, quantisation."""

from __future__ import annotations

import numpy as np

from medsam_gui.engine.roi import RoiPolicy


def test_crops_contain_the_box_with_context_and_stay_inside_the_slice():
    policy = RoiPolicy()
    rng = np.random.default_rng(0)
    for _ in range(500):
        rows, cols = int(rng.integers(200, 700)), int(rng.integers(200, 700))
        width, height = int(rng.integers(4, 60)), int(rng.integers(4, 60))
        x0, y0 = int(rng.integers(0, cols - width)), int(rng.integers(0, rows - height))
        box = (x0, y0, x0 + width - 1, y0 + height - 1)
        x_start, y_start, x_stop, y_stop = policy.crop_for(box, (rows, cols))
        assert 0 <= x_start <= box[0] and box[2] < x_stop <= cols
        assert 0 <= y_start <= box[1] and box[3] < y_stop <= rows
        if (x_stop - x_start, y_stop - y_start) != (cols, rows):
            assert (x_stop - x_start) % policy.quantum == 0 or x_stop - x_start == cols


def test_large_boxes_and_barely_magnifying_crops_use_the_whole_slice():
    policy = RoiPolicy(switch_fraction=0.3)  # default min_zoom 1.5
    assert policy.crop_for((100, 100, 300, 300), (512, 512)) == (0, 0, 512, 512)
    assert policy.crop_for((40, 40, 60, 60), (120, 120)) == (0, 0, 120, 120)  # crop 96: zoom 1.25 < 1.5
    x_start, y_start, x_stop, y_stop = policy.crop_for((40, 40, 60, 60), (160, 160))
    assert (x_stop - x_start, y_stop - y_start) == (96, 96)  # zoom 1.67: worth a second pass
    assert RoiPolicy(min_zoom=1.0).crop_for((40, 40, 60, 60), (120, 120)) != (0, 0, 120, 120)
    assert RoiPolicy(min_zoom=1.0).crop_for((40, 40, 60, 60), (96, 96)) == (0, 0, 96, 96)  # the crop would be the slice
    assert RoiPolicy(switch_fraction=0.0).crop_for((10, 10, 20, 20), (512, 512)) == (0, 0, 512, 512)


def test_narrow_slice_gets_a_rectangular_crop_and_small_drags_reuse_the_crop():
    policy = RoiPolicy()
    crop = policy.crop_for((21, 64, 29, 75), (120, 45))
    assert crop[0] == 0 and crop[2] == 45 and crop[3] - crop[1] < 120
    first = policy.crop_for((200, 200, 230, 240), (512, 512))
    dragged = (202, 203, 232, 243)
    assert policy.crop_for(dragged, (512, 512)) != first  # crosses a snapping boundary...
    assert policy.crop_for(dragged, (512, 512), previous=first) == first  # ...but the last crop still fits
    far = (300, 300, 330, 340)
    assert policy.crop_for(far, (512, 512), previous=first) == policy.crop_for(far, (512, 512))
