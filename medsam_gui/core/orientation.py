"""Canonical display orientation for 3D volumes (numpy only).

A file stores its voxels in whatever index order the scanner or converter chose.
For display, the app permutes and flips the index axes so that the direction
matrix is as close as possible to the identity in LPS patient coordinates:

- index x (column) runs towards patient Left  -> patient left on screen right,
- index y (row)    runs towards Posterior     -> anterior at the top,
- index z (slice)  runs towards Superior.

Only whole-axis permutations and flips are used, so no voxel is interpolated and
the physical position of every voxel is unchanged: origin, spacing and direction
are rewritten to match. The change is recorded as a :class:`SourceGrid`, whose
``axes_zyx`` / ``flips_zyx`` are in ``[z, y, x]`` array order.
"""

from __future__ import annotations

from itertools import permutations

import numpy as np

from medsam_gui.core.volume import SourceGrid


def _zyx_axis(xyz_axis: int) -> int:
    """Array axis (z, y, x order) of an index axis given in x, y, z order."""
    return 2 - xyz_axis


def canonical_source_grid(direction: np.ndarray) -> SourceGrid:
    """The permutation/flips that bring ``direction`` closest to the identity.

    Args:
        direction: 3x3, column i = LPS unit vector of source index axis i (x, y, z).

    Returns:
        SourceGrid such that ``display = grid.to_display(source_voxels_zyx)``.
    """
    direction = np.asarray(direction, dtype=np.float64).reshape(3, 3)
    best_score = -np.inf
    best_sources = (0, 1, 2)
    # display xyz axis a takes source xyz axis sources[a]; score = alignment with e_a
    for sources in permutations(range(3)):
        score = sum(abs(direction[a, sources[a]]) for a in range(3))
        if score > best_score + 1e-9:
            best_score = score
            best_sources = sources
    flips_xyz = [direction[a, best_sources[a]] < 0 for a in range(3)]
    axes_zyx = tuple(_zyx_axis(best_sources[_zyx_axis(i)]) for i in range(3))
    flips_zyx = tuple(bool(flips_xyz[_zyx_axis(i)]) for i in range(3))
    return SourceGrid(axes_zyx=axes_zyx, flips_zyx=flips_zyx)


def _display_axis_sources(grid: SourceGrid) -> tuple[list[int], list[bool]]:
    """For each display xyz axis: the source xyz axis it comes from, and its flip."""
    sources = [_zyx_axis(grid.axes_zyx[_zyx_axis(a)]) for a in range(3)]
    flips = [grid.flips_zyx[_zyx_axis(a)] for a in range(3)]
    return sources, flips


def display_geometry(
    grid: SourceGrid,
    source_shape_zyx: tuple[int, int, int],
    spacing_xyz,
    origin_xyz,
    direction: np.ndarray,
) -> tuple[tuple[float, float, float], tuple[float, float, float], np.ndarray]:
    """Geometry of the display grid, from the source grid's geometry.

    Returns (spacing_xyz, origin_xyz, direction) such that each display voxel sits
    at the same physical position as the source voxel it was taken from.
    """
    spacing = np.asarray(spacing_xyz, dtype=np.float64)
    origin = np.asarray(origin_xyz, dtype=np.float64)
    direction = np.asarray(direction, dtype=np.float64).reshape(3, 3)
    size_xyz = [source_shape_zyx[2], source_shape_zyx[1], source_shape_zyx[0]]
    sources, flips = _display_axis_sources(grid)
    first_voxel_source_index = np.zeros(3)
    new_direction = np.zeros((3, 3))
    new_spacing = np.zeros(3)
    for axis, (source, flipped) in enumerate(zip(sources, flips)):
        new_spacing[axis] = spacing[source]
        new_direction[:, axis] = -direction[:, source] if flipped else direction[:, source]
        if flipped:
            first_voxel_source_index[source] = size_xyz[source] - 1
    new_origin = origin + direction @ (spacing * first_voxel_source_index)
    return tuple(new_spacing), tuple(new_origin), new_direction


def source_geometry(
    grid: SourceGrid,
    display_shape_zyx: tuple[int, int, int],
    spacing_xyz,
    origin_xyz,
    direction: np.ndarray,
) -> tuple[tuple[float, float, float], tuple[float, float, float], np.ndarray]:
    """Inverse of :func:`display_geometry`: the file's own grid from the display grid."""
    spacing = np.asarray(spacing_xyz, dtype=np.float64)
    origin = np.asarray(origin_xyz, dtype=np.float64)
    direction = np.asarray(direction, dtype=np.float64).reshape(3, 3)
    display_size_xyz = [display_shape_zyx[2], display_shape_zyx[1], display_shape_zyx[0]]
    sources, flips = _display_axis_sources(grid)
    source_spacing = np.zeros(3)
    source_direction = np.zeros((3, 3))
    first_voxel_display_index = np.zeros(3)
    for axis, (source, flipped) in enumerate(zip(sources, flips)):
        source_spacing[source] = spacing[axis]
        source_direction[:, source] = -direction[:, axis] if flipped else direction[:, axis]
        if flipped:
            first_voxel_display_index[axis] = display_size_xyz[axis] - 1
    source_origin = origin + direction @ (spacing * first_voxel_display_index)
    return tuple(source_spacing), tuple(source_origin), source_direction


def to_display_orientation(
    voxels_zyx: np.ndarray,
    spacing_xyz,
    origin_xyz,
    direction: np.ndarray,
) -> tuple[np.ndarray, tuple, tuple, np.ndarray, SourceGrid]:
    """Reorient a source array ``[z, y, x, ...]`` and its geometry for display.

    Single-slice images (z == 1) keep their own grid: their slice plane is what
    the user wants to see.

    Returns (display_voxels, spacing_xyz, origin_xyz, direction, source_grid);
    ``display_voxels`` is a contiguous copy when anything changed.
    """
    if voxels_zyx.shape[0] == 1:
        grid = SourceGrid()
    else:
        grid = canonical_source_grid(direction)
    if grid.is_identity:
        return voxels_zyx, tuple(spacing_xyz), tuple(origin_xyz), np.asarray(direction, dtype=np.float64), grid
    spacing, origin, new_direction = display_geometry(grid, voxels_zyx.shape[:3], spacing_xyz, origin_xyz, direction)
    display_voxels = np.ascontiguousarray(grid.to_display(voxels_zyx))
    return display_voxels, spacing, origin, new_direction, grid
