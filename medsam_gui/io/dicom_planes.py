"""Map the pixel grid of one DICOM plane (an instance or a SEG frame) onto a volume's voxels.

A plane is given by ImagePositionPatient (centre of its first pixel), the six
ImageOrientationPatient cosines (row direction = towards increasing column, then
column direction = towards increasing row) and PixelSpacing (between rows, between
columns). When the plane lies on the volume's grid, each of its pixels is exactly
one voxel, found by geometry alone - never by array order - so flipped or
reordered files land where they belong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medsam_gui.core.volume import Volume

GRID_TOLERANCE_VOXELS = 0.05


@dataclass(frozen=True)
class PlaneOnGrid:
    """Voxel indices of every pixel of a plane: three int arrays ``[rows, columns]``.

    ``z``, ``y``, ``x`` index ``volume.voxels``; ``inside`` is a bool ``[rows, columns]``
    telling which pixels fall inside the volume.
    """

    z: np.ndarray
    y: np.ndarray
    x: np.ndarray
    inside: np.ndarray

    def read(self, values_zyx: np.ndarray, fill=0) -> np.ndarray:
        """The plane's pixels ``[rows, columns]`` taken from a ``[z, y, x]`` array."""
        out = np.full(self.inside.shape, fill, dtype=values_zyx.dtype)
        out[self.inside] = values_zyx[self.z[self.inside], self.y[self.inside], self.x[self.inside]]
        return out

    def write(self, values_zyx: np.ndarray, plane_rc: np.ndarray, where: np.ndarray | None = None) -> None:
        """Write ``plane_rc`` ``[rows, columns]`` into ``values_zyx`` in place (only ``where`` if given)."""
        selected = self.inside if where is None else self.inside & where
        values_zyx[self.z[selected], self.y[selected], self.x[selected]] = plane_rc[selected]


def plane_on_grid(
    volume: Volume, image_position, image_orientation, pixel_spacing_rc, rows: int, columns: int
) -> PlaneOnGrid | None:
    """Voxel indices of a plane's pixels, or None when the plane is not on the volume's grid.

    Args:
        volume: the grid (display orientation, geometry in LPS mm).
        image_position: ImagePositionPatient (3 floats, mm).
        image_orientation: ImageOrientationPatient (6 cosines).
        pixel_spacing_rc: PixelSpacing (between rows, between columns) in mm.
        rows, columns: plane size in pixels.
    Returns:
        PlaneOnGrid, or None when a pixel step is not one whole voxel step along one
        axis (oblique, different spacing) or the plane falls between slices.
    """
    orientation = np.asarray([float(v) for v in image_orientation], dtype=np.float64)
    position = np.asarray([float(v) for v in image_position], dtype=np.float64)
    spacing_between_rows, spacing_between_columns = (float(v) for v in pixel_spacing_rc)
    start = volume.physical_to_index(position)
    column_step = volume.physical_to_index(position + orientation[:3] * spacing_between_columns) - start
    row_step = volume.physical_to_index(position + orientation[3:6] * spacing_between_rows) - start
    for vector in (start, column_step, row_step):
        if np.any(np.abs(vector - np.round(vector)) > GRID_TOLERANCE_VOXELS):
            return None
    start, column_step, row_step = (np.round(v).astype(np.int64) for v in (start, column_step, row_step))
    if np.abs(column_step).sum() != 1 or np.abs(row_step).sum() != 1:
        return None
    row_index, column_index = np.mgrid[0:rows, 0:columns]
    index_xyz = [start[a] + row_index * row_step[a] + column_index * column_step[a] for a in range(3)]
    size_xyz = volume.size_xyz
    inside = np.ones((rows, columns), dtype=bool)
    for axis in range(3):
        inside &= (index_xyz[axis] >= 0) & (index_xyz[axis] < size_xyz[axis])
    return PlaneOnGrid(z=index_xyz[2], y=index_xyz[1], x=index_xyz[0], inside=inside)
