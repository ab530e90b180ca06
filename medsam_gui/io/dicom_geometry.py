"""Geometry of a stack of DICOM slices: order, spacing, gaps and gantry tilt.

Slices are ordered by their position along the slice normal
(``normal = row_direction x column_direction``; ``distance = normal . position``),
never by file name or InstanceNumber.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from medsam_gui.core.errors import UnreadableInputError

DUPLICATE_POSITION_MM = 1e-3
TILT_DEGREES = 0.1


@dataclass
class StackGeometry:
    """Geometry of a sorted stack.

    Attributes:
        order: indices into the input slice list, sorted along the normal.
        spacing_xyz, origin_xyz, direction: the grid of the sorted stack (LPS mm).
        in_plane_shift_px: per sorted slice (n, 2) shift (rows, columns) that puts a
            gantry-tilted slice onto the orthogonal grid; None when not tilted.
        warnings: sentences for the user (uneven spacing, tilt).
    """

    order: list[int]
    spacing_xyz: tuple[float, float, float]
    origin_xyz: tuple[float, float, float]
    direction: np.ndarray
    in_plane_shift_px: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)


def orientation_axes(image_orientation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row direction, column direction, normal) unit vectors from ImageOrientationPatient."""
    values = np.asarray([float(v) for v in image_orientation], dtype=np.float64)
    row_direction = values[:3] / np.linalg.norm(values[:3])
    column_direction = values[3:6] / np.linalg.norm(values[3:6])
    normal = np.cross(row_direction, column_direction)
    return row_direction, column_direction, normal / np.linalg.norm(normal)


def stack_geometry(
    positions: np.ndarray,
    image_orientation,
    pixel_spacing_row_column,
    path: str,
    fallback_slice_spacing: float = 1.0,
) -> StackGeometry:
    """Sort slices along the normal and describe the resulting grid.

    Args:
        positions: (n, 3) ImagePositionPatient per slice (LPS mm), input order.
        image_orientation: the 6 ImageOrientationPatient values shared by the stack.
        pixel_spacing_row_column: PixelSpacing (between rows, between columns) in mm.
        path: folder or file named in errors.
        fallback_slice_spacing: used for a single slice (SpacingBetweenSlices or thickness).

    Raises:
        UnreadableInputError: two slices at the same position.
    """
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    row_direction, column_direction, normal = orientation_axes(image_orientation)
    direction = np.stack([row_direction, column_direction, normal], axis=1)
    spacing_x, spacing_y = float(pixel_spacing_row_column[1]), float(pixel_spacing_row_column[0])
    distances = positions @ normal
    order = [int(i) for i in np.argsort(distances, kind="stable")]
    sorted_positions = positions[order]
    sorted_distances = distances[order]
    if len(order) == 1:
        return StackGeometry(order, (spacing_x, spacing_y, fallback_slice_spacing), tuple(positions[0]), direction)
    steps = np.diff(sorted_distances)
    if np.any(steps < DUPLICATE_POSITION_MM):
        first = int(np.argmax(steps < DUPLICATE_POSITION_MM))
        raise UnreadableInputError(
            f"{int(np.sum(steps < DUPLICATE_POSITION_MM)) + 1} slices share a position "
            f"(e.g. {sorted_distances[first]:.2f} mm along the normal): several echoes, phases or "
            "time points in one series cannot be shown as one volume",
            path,
        )
    slice_spacing = float(np.median(steps))
    geometry = StackGeometry(order, (spacing_x, spacing_y, slice_spacing), tuple(sorted_positions[0]), direction)
    _check_spacing(steps, sorted_distances, slice_spacing, geometry)
    _check_tilt(sorted_positions, sorted_distances, normal, row_direction, column_direction, (spacing_y, spacing_x), geometry)
    return geometry


def _check_spacing(steps: np.ndarray, distances: np.ndarray, slice_spacing: float, geometry: StackGeometry) -> None:
    tolerance = max(0.02 * slice_spacing, 0.01)
    uneven = np.nonzero(np.abs(steps - slice_spacing) > tolerance)[0]
    if uneven.size == 0:
        return
    details = ", ".join(
        f"{steps[i]:.2f} mm between slices {i} and {i + 1} (at {distances[i]:.2f} and {distances[i + 1]:.2f} mm)"
        for i in uneven[:5]
    )
    more = f" and {uneven.size - 5} more" if uneven.size > 5 else ""
    geometry.warnings.append(
        f"uneven slice spacing (missing slices?): usual spacing {slice_spacing:.2f} mm, but {details}{more}; "
        f"the volume uses {slice_spacing:.2f} mm throughout, so slices after a gap are misplaced"
    )


def _check_tilt(
    positions: np.ndarray,
    distances: np.ndarray,
    normal: np.ndarray,
    row_direction: np.ndarray,
    column_direction: np.ndarray,
    spacing_yx: tuple[float, float],
    geometry: StackGeometry,
) -> None:
    along_normal = (distances - distances[0])[:, None] * normal[None, :]
    shear = positions - positions[0] - along_normal  # in-plane offset of each slice origin
    extent = distances[-1] - distances[0]
    tilt_degrees = float(np.degrees(np.arctan2(np.linalg.norm(shear[-1]), extent)))
    if tilt_degrees < TILT_DEGREES:
        return
    # output slice k at origin p0 + d_k n samples slice k at in-plane offset -shear_k
    shift_rows = -(shear @ column_direction) / spacing_yx[0]
    shift_columns = -(shear @ row_direction) / spacing_yx[1]
    geometry.in_plane_shift_px = np.stack([shift_rows, shift_columns], axis=1)
    geometry.warnings.append(
        f"gantry tilt of {tilt_degrees:.1f} degrees: slices were shifted in-plane (up to "
        f"{np.abs(geometry.in_plane_shift_px).max():.1f} pixels, linear interpolation) onto an "
        "orthogonal grid so every voxel keeps its true position"
    )


def untilt_slices(voxels_zyx: np.ndarray, in_plane_shift_px: np.ndarray) -> np.ndarray:
    """Shift each slice ``[y, x]`` of a tilted stack by (rows, columns) pixels.

    Output voxel (k, j, i) takes the value of input slice k at (j + shift_rows_k,
    i + shift_columns_k); outside the slice it is the stack's minimum. Returns float32.
    """
    fill = float(voxels_zyx.min(initial=0))
    out = np.empty(voxels_zyx.shape, dtype=np.float32)
    for slice_index, (shift_rows, shift_columns) in enumerate(in_plane_shift_px):
        out[slice_index] = ndimage.shift(
            voxels_zyx[slice_index].astype(np.float32), (-shift_rows, -shift_columns), order=1, mode="constant", cval=fill
        )
    return out
