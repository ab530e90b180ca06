"""The three viewing planes of a volume: which 2D image each shows and how its pixels map to voxels.

Volumes are held in the canonical display orientation (``orientation.py``): index x runs
towards patient Left, y towards Posterior, z towards Superior. A plane slice is a 2D
array ``[row, column]``:

=========  ===============  ======  =======  ===============================
plane      slice index      rows    columns  array
=========  ===============  ======  =======  ===============================
axial      z                y       x        ``voxels[z]``
coronal    y                z       x        ``voxels[:, y, :]``, rows flipped
sagittal   x                z       y        ``voxels[:, :, x]``, rows flipped
=========  ===============  ======  =======  ===============================

For coronal and sagittal slices the rows are z; they are flipped (top row = highest z)
when the z axis points superior, so that up on the screen is superior; a volume whose
z axis points inferior keeps its row order (up is then superior too). Numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PLANES = ("axial", "coronal", "sagittal")
MIN_SLICES_FOR_PLANES = 8  # fewer axial slices: coronal/sagittal are not offered

# array axis (of [z, y, x]) that each plane slices along, and the axes of its rows/columns
_SLICE_AXIS = {"axial": 0, "coronal": 1, "sagittal": 2}
_ROW_AXIS = {"axial": 1, "coronal": 0, "sagittal": 0}
_COLUMN_AXIS = {"axial": 2, "coronal": 2, "sagittal": 1}


def check_plane(plane: str) -> str:
    """``plane`` if it is one of :data:`PLANES`, else ValueError."""
    if plane not in _SLICE_AXIS:
        raise ValueError(f"unknown plane '{plane}': use one of {', '.join(PLANES)}")
    return plane


def slice_axis(plane: str) -> int:
    """The array axis of ``[z, y, x]`` that ``plane``'s slice index runs along (0, 1 or 2)."""
    return _SLICE_AXIS[check_plane(plane)]


def offers_other_planes(shape_zyx: tuple[int, int, int]) -> bool:
    """True when coronal and sagittal views are worth showing (>= 8 axial slices)."""
    return int(shape_zyx[0]) >= MIN_SLICES_FOR_PLANES


@dataclass(frozen=True)
class PlaneGeometry:
    """How one plane of a volume with shape ``shape_zyx`` is cut and displayed.

    Attributes:
        plane: 'axial', 'coronal' or 'sagittal'.
        shape_zyx: (slices, rows, columns) of the volume.
        spacing_xyz: voxel size in mm along x, y, z.
        direction: 3x3, column i = LPS unit vector of index axis i (x, y, z).
        flip_rows: the 2D image's rows run against the array axis (coronal/sagittal
            with z pointing superior: the top row is the highest z).
    """

    plane: str
    shape_zyx: tuple[int, int, int]
    spacing_xyz: tuple[float, float, float]
    direction: np.ndarray
    flip_rows: bool

    @classmethod
    def of(cls, volume, plane: str) -> "PlaneGeometry":
        """The geometry of ``plane`` for a Volume (voxels ``[z, y, x]``)."""
        return cls.for_grid(volume.shape_zyx, volume.spacing_xyz, volume.direction, plane)

    @classmethod
    def for_grid(cls, shape_zyx, spacing_xyz, direction, plane: str) -> "PlaneGeometry":
        check_plane(plane)
        direction = np.asarray(direction, dtype=np.float64).reshape(3, 3)
        # z's superior component: >= 0 means higher z is more superior, so flip to put it on top
        flip_rows = plane != "axial" and direction[2, 2] >= 0
        return cls(plane, tuple(int(v) for v in shape_zyx[:3]), tuple(float(v) for v in spacing_xyz),
                   direction, bool(flip_rows))

    # -- sizes -----------------------------------------------------------------------
    @property
    def slice_count(self) -> int:
        """Number of slices of this plane (z for axial, y for coronal, x for sagittal)."""
        return self.shape_zyx[_SLICE_AXIS[self.plane]]

    @property
    def image_shape(self) -> tuple[int, int]:
        """(rows, columns) of one slice of this plane."""
        return self.shape_zyx[_ROW_AXIS[self.plane]], self.shape_zyx[_COLUMN_AXIS[self.plane]]

    @property
    def pixel_size_mm(self) -> tuple[float, float]:
        """(row mm, column mm): the physical height and width of one displayed pixel."""
        spacing_zyx = self.spacing_xyz[::-1]
        return spacing_zyx[_ROW_AXIS[self.plane]], spacing_zyx[_COLUMN_AXIS[self.plane]]

    @property
    def row_aspect(self) -> float:
        """Row mm / column mm (how much taller than wide a pixel is shown); 1 if unknown."""
        row_mm, column_mm = self.pixel_size_mm
        return row_mm / column_mm if row_mm > 0 and column_mm > 0 else 1.0

    # -- images ----------------------------------------------------------------------
    def take(self, array_zyx: np.ndarray, index: int) -> np.ndarray:
        """The 2D slice ``[row, column]`` (trailing axes kept, e.g. RGB) at ``index``.

        A view into ``array_zyx`` (no copy); may be non-contiguous.
        """
        index = self._check_index(index)
        if self.plane == "axial":
            image = array_zyx[index]
        elif self.plane == "coronal":
            image = array_zyx[:, index, :]
        else:
            image = array_zyx[:, :, index]
        return image[::-1] if self.flip_rows else image

    def to_array_rows(self, image: np.ndarray) -> np.ndarray:
        """Undo the display flip of a 2D image ``[row, column]``: rows in array order."""
        return image[::-1] if self.flip_rows else image

    def block(self, image: np.ndarray, index: int) -> tuple[np.ndarray, tuple[int, int, int]]:
        """A 2D image ``[row, column]`` of this plane as a 3D block ``[dz, dy, dx]`` and its
        (z, y, x) offset in the volume (one voxel thick along the slice axis)."""
        index = self._check_index(index)
        image = self.to_array_rows(np.asarray(image))
        if self.plane == "axial":
            return image[None, :, :], (index, 0, 0)
        if self.plane == "coronal":
            return image[:, None, :], (0, index, 0)
        return image[:, :, None], (0, 0, index)

    # -- coordinates -----------------------------------------------------------------
    def to_volume(self, index: int, row: int, column: int) -> tuple[int, int, int]:
        """(z, y, x) of pixel (row, column) of slice ``index`` of this plane."""
        array_row = self.shape_zyx[_ROW_AXIS[self.plane]] - 1 - row if self.flip_rows else row
        zyx = [0, 0, 0]
        zyx[_SLICE_AXIS[self.plane]] = int(index)
        zyx[_ROW_AXIS[self.plane]] = int(array_row)
        zyx[_COLUMN_AXIS[self.plane]] = int(column)
        return tuple(zyx)

    def from_volume(self, z: int, y: int, x: int) -> tuple[int, int, int]:
        """(slice index, row, column) of voxel (z, y, x) in this plane; inverse of :meth:`to_volume`."""
        zyx = (int(z), int(y), int(x))
        array_row = zyx[_ROW_AXIS[self.plane]]
        row = self.shape_zyx[_ROW_AXIS[self.plane]] - 1 - array_row if self.flip_rows else array_row
        return zyx[_SLICE_AXIS[self.plane]], row, zyx[_COLUMN_AXIS[self.plane]]

    def screen_directions_lps(self) -> tuple[np.ndarray, np.ndarray]:
        """(towards screen right, towards screen down): LPS unit vectors of the
        column and row directions of the displayed image."""
        axis_xyz = {0: 2, 1: 1, 2: 0}  # array axis (z, y, x order) -> column of ``direction``
        column = self.direction[:, axis_xyz[_COLUMN_AXIS[self.plane]]]
        row = self.direction[:, axis_xyz[_ROW_AXIS[self.plane]]]
        return column.copy(), (-row if self.flip_rows else row.copy())

    def _check_index(self, index: int) -> int:
        index = int(index)
        if not 0 <= index < self.slice_count:
            raise IndexError(f"{self.plane} slice {index} outside 0-{self.slice_count - 1}")
        return index


def plane_slice(volume, plane: str, index: int) -> np.ndarray:
    """The displayed 2D image ``[row, column]`` of ``volume`` in ``plane`` at ``index``."""
    return PlaneGeometry.of(volume, plane).take(volume.voxels, index)


def plane_labels(labels_zyx: np.ndarray, volume, plane: str, index: int) -> np.ndarray:
    """The 2D labelmap ``[row, column]`` of a plane slice, as displayed (a view)."""
    return PlaneGeometry.of(volume, plane).take(labels_zyx, index)


def slice_counts(shape_zyx: tuple[int, int, int]) -> dict[str, int]:
    """Slices per plane: {'axial': z, 'coronal': y, 'sagittal': x}."""
    return {plane: int(shape_zyx[_SLICE_AXIS[plane]]) for plane in PLANES}
