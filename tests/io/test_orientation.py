"""Canonical display orientation: permutations/flips only, physical geometry unchanged."""

from itertools import permutations

import numpy as np
import pytest

from medsam_gui.core.orientation import canonical_source_grid, source_geometry, to_display_orientation
from medsam_gui.core.volume import Volume


def _random_rotation(rng, max_angle_degrees=20.0):
    """A small random rotation (as scanners tilt a little off the main axes)."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = np.radians(rng.uniform(-max_angle_degrees, max_angle_degrees))
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


@pytest.mark.parametrize("seed", range(12))
def test_reorientation_keeps_every_voxel_at_its_physical_position(seed):
    rng = np.random.default_rng(seed)
    permutation = list(permutations(range(3)))[seed % 6]
    signs = rng.choice([-1.0, 1.0], size=3)
    direction = (_random_rotation(rng) @ np.eye(3)[:, permutation]) * signs
    shape_zyx = tuple(int(v) for v in rng.integers(2, 7, size=3))
    spacing = tuple(rng.uniform(0.3, 3.0, size=3))
    origin = tuple(rng.uniform(-200, 200, size=3))
    source_voxels = rng.integers(-1000, 1000, size=shape_zyx).astype(np.int16)
    source = Volume(source_voxels, spacing, origin, direction)

    display_voxels, d_spacing, d_origin, d_direction, grid = to_display_orientation(source_voxels, spacing, origin, direction)
    display = Volume(display_voxels, d_spacing, d_origin, d_direction, source_grid=grid)

    # display direction is the one closest to identity: diagonal dominant and positive
    assert np.all(np.argmax(np.abs(d_direction), axis=0) == [0, 1, 2])
    assert np.all(np.diag(d_direction) > 0)
    # every display voxel holds the value of the source voxel at the same physical point
    z, y, x = np.meshgrid(*[np.arange(n) for n in display_voxels.shape], indexing="ij")
    display_index_xyz = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
    physical = display.index_to_physical(display_index_xyz)
    source_index = np.rint(source.physical_to_index(physical)).astype(int)
    assert np.allclose(source.index_to_physical(source_index), physical, atol=1e-6)
    values_at_source = source_voxels[source_index[:, 2], source_index[:, 1], source_index[:, 0]]
    assert np.array_equal(values_at_source, display_voxels.ravel())
    # the recorded SourceGrid maps back to the file's array and geometry exactly
    assert np.array_equal(grid.to_source(display_voxels), source_voxels)
    back_spacing, back_origin, back_direction = source_geometry(grid, display_voxels.shape, d_spacing, d_origin, d_direction)
    assert np.allclose(back_spacing, spacing) and np.allclose(back_origin, origin) and np.allclose(back_direction, direction)


def test_identity_direction_is_left_alone():
    grid = canonical_source_grid(np.eye(3))
    assert grid.is_identity


def test_flipped_y_is_flipped_back():
    grid = canonical_source_grid(np.diag([1.0, -1.0, 1.0]))
    assert grid.axes_zyx == (0, 1, 2) and grid.flips_zyx == (False, True, False)


def test_single_slice_keeps_its_plane():
    sagittal = np.array([[0, 0, 1], [1, 0, 0], [0, -1, 0]], dtype=float)
    voxels = np.zeros((1, 4, 5), dtype=np.int16)
    out, _, _, direction, grid = to_display_orientation(voxels, (1, 1, 1), (0, 0, 0), sagittal)
    assert out.shape == (1, 4, 5) and grid.is_identity and np.array_equal(direction, sagittal)
