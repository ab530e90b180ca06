"""Volume geometry helpers, SourceGrid round trips and the window functions."""

import numpy as np
import pytest

from medsam_gui.core.volume import SourceGrid, Volume
from medsam_gui.core.window import (
    apply_window,
    default_model_input_preset,
    percentile_window,
    resolve_model_input,
    to_model_input,
)


def test_index_physical_round_trip_with_oblique_direction():
    angle = np.deg2rad(20)
    direction = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    volume = Volume(np.zeros((3, 4, 5), np.int16), spacing_xyz=(0.7, 0.8, 2.5), origin_xyz=(-10, 20, 30), direction=direction)
    index = np.array([[1.0, 2.0, 0.5], [4, 3, 2]])
    physical = volume.index_to_physical(index)
    assert np.allclose(physical[0], np.array([-10, 20, 30]) + direction @ (index[0] * [0.7, 0.8, 2.5]))
    assert np.allclose(volume.physical_to_index(physical), index)


@pytest.mark.parametrize("axes", [(0, 1, 2), (2, 0, 1), (1, 2, 0)])
@pytest.mark.parametrize("flips", [(False, False, False), (True, False, True), (False, True, False)])
def test_source_grid_round_trip(axes, flips):
    grid = SourceGrid(axes, flips)
    source = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    assert (grid.to_source(grid.to_display(source)) == source).all()
    rgb = np.arange(2 * 3 * 4 * 3).reshape(2, 3, 4, 3)
    assert (grid.to_source(grid.to_display(rgb)) == rgb).all()


def test_volume_rejects_bad_shapes():
    with pytest.raises(ValueError):
        Volume(np.zeros((4, 5)))
    with pytest.raises(ValueError):
        Volume(np.zeros((1, 4, 5, 2)))


def test_apply_window_maps_edges_to_0_and_255():
    values = np.array([-160.0, 40.0, 240.0, 1000.0])
    out = apply_window(values, 40, 400)
    assert out.tolist() == [0, 127, 255, 255]


def test_percentile_window_ignores_zero_background():
    values = np.zeros(10000)
    values[:1000] = np.linspace(100, 200, 1000)
    center, width = percentile_window(values)
    assert 100 <= center - width / 2 < 102 and 198 < center + width / 2 <= 200


def test_model_input_is_independent_of_display_window_and_resolved_per_volume():
    voxels = np.random.default_rng(0).normal(300, 50, size=(3, 16, 16)).astype(np.float32)
    preset = resolve_model_input(default_model_input_preset(voxels, "MR"), voxels)
    assert preset.kind == "window"
    image = to_model_input(voxels[1], preset)
    assert image.shape == (16, 16, 3) and image.dtype == np.uint8
    ct_preset = default_model_input_preset(voxels.astype(np.int16), "CT")
    assert (ct_preset.center, ct_preset.width) == (40.0, 400.0)
    with pytest.raises(ValueError):
        to_model_input(voxels[0], default_model_input_preset(voxels, "MR"))
