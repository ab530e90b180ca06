"""The image volume as the app holds it: voxels plus exact physical geometry.

Axis conventions (used everywhere in the app):

- ``voxels`` is indexed ``[z, y, x]`` (slice, row, column), or ``[z, y, x, c]`` for
  RGB images (``c == 3``). Values are in original units: Hounsfield units for CT
  (after rescale slope/intercept), raw values otherwise.
- Geometry follows ITK / DICOM patient coordinates (LPS, millimetres) and ITK's
  ordering: ``spacing_xyz`` and ``origin_xyz`` list x (column) first;
  ``direction`` is a 3x3 matrix whose *column* ``i`` is the unit vector in patient
  space of index axis ``i`` (x, y, z). The physical position of voxel
  ``(x, y, z)`` is ``origin + direction @ (spacing * (x, y, z))``.

Readers put 3D volumes into a canonical display orientation (see
``orientation.py``): axial slices then show in radiological convention. The
reorientation is recorded in ``source_grid`` so writers can go back to the file's
own voxel grid when a caller wants that; both grids describe the same physical
space, so a mask in either overlays the scan exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class SourceGrid:
    """How the display grid relates to the voxel grid of the file it came from.

    ``display = np.flip(np.transpose(source, axes_zyx), flips_zyx)`` where both
    arrays are ``[z, y, x]``; ``axes_zyx[i]`` is the source axis that became display
    axis ``i`` and ``flips_zyx[i]`` says whether display axis ``i`` is reversed.
    Identity for a file that was already in display orientation.
    """

    axes_zyx: tuple[int, int, int] = (0, 1, 2)
    flips_zyx: tuple[bool, bool, bool] = (False, False, False)

    @property
    def is_identity(self) -> bool:
        return self.axes_zyx == (0, 1, 2) and not any(self.flips_zyx)

    def to_display(self, source_zyx: np.ndarray) -> np.ndarray:
        """Map a source-grid array ``[z, y, x, ...]`` to the display grid."""
        axes = list(self.axes_zyx) + list(range(3, source_zyx.ndim))
        out = np.transpose(source_zyx, axes)
        flip_axes = [i for i, flipped in enumerate(self.flips_zyx) if flipped]
        return np.flip(out, flip_axes) if flip_axes else out

    def to_source(self, display_zyx: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_display` for an array ``[z, y, x, ...]``."""
        flip_axes = [i for i, flipped in enumerate(self.flips_zyx) if flipped]
        out = np.flip(display_zyx, flip_axes) if flip_axes else display_zyx
        inverse = list(np.argsort(self.axes_zyx)) + list(range(3, display_zyx.ndim))
        return np.transpose(out, inverse)


@dataclass(frozen=True)
class DicomReference:
    """What a DICOM SEG needs to point back at the series it segments.

    ``sop_instance_uids`` and ``file_paths`` hold one entry per display slice
    (index z of ``Volume.voxels``). For a multi-frame file every entry is the same
    instance and ``frame_numbers`` gives the 1-based frame per slice.
    """

    study_instance_uid: str
    series_instance_uid: str
    frame_of_reference_uid: str
    sop_class_uid: str
    sop_instance_uids: tuple[str, ...]
    file_paths: tuple[str, ...]
    frame_numbers: tuple[int, ...] | None = None


@dataclass
class Volume:
    """A scan: voxels ``[z, y, x]`` (or ``[z, y, x, 3]`` for RGB) and geometry.

    Attributes:
        voxels: array ``[z, y, x]`` or ``[z, y, x, 3]``; int16/uint8/uint16/float32.
        spacing_xyz: voxel size in mm along index axes x, y, z.
        origin_xyz: patient position (LPS, mm) of voxel (0, 0, 0)'s centre.
        direction: 3x3 float64, column i = direction of index axis i (LPS).
        modality: DICOM-style modality ('CT', 'MR', 'OT' for photos/unknown, ...).
        default_window: (center, width) from the file (DICOM tags), or None.
        source_path: the file or folder the volume was read from.
        source_grid: how the display grid maps to the file's own voxel grid.
        dicom: the referenced DICOM series, for DICOM sources only.
        warnings: human-readable notes from reading (gantry tilt, gaps, NaN voxels replaced...).
        description: short text for lists (series description, file name).
    """

    voxels: np.ndarray
    spacing_xyz: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin_xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    modality: str = "OT"
    default_window: tuple[float, float] | None = None
    source_path: str = ""
    source_grid: SourceGrid = field(default_factory=SourceGrid)
    dicom: DicomReference | None = None
    warnings: list[str] = field(default_factory=list)
    description: str = ""

    def __post_init__(self) -> None:
        if self.voxels.ndim not in (3, 4) or (self.voxels.ndim == 4 and self.voxels.shape[3] != 3):
            raise ValueError(f"voxels must be [z, y, x] or [z, y, x, 3], got shape {self.voxels.shape}")
        self.direction = np.asarray(self.direction, dtype=np.float64).reshape(3, 3)
        self.spacing_xyz = tuple(float(v) for v in self.spacing_xyz)
        self.origin_xyz = tuple(float(v) for v in self.origin_xyz)

    @property
    def shape_zyx(self) -> tuple[int, int, int]:
        """(number of slices, rows, columns)."""
        return tuple(int(v) for v in self.voxels.shape[:3])

    @property
    def size_xyz(self) -> tuple[int, int, int]:
        """(columns, rows, slices), ITK's size order."""
        z, y, x = self.shape_zyx
        return (x, y, z)

    @property
    def is_rgb(self) -> bool:
        return self.voxels.ndim == 4

    @property
    def is_2d(self) -> bool:
        return self.shape_zyx[0] == 1

    def slice(self, slice_index: int) -> np.ndarray:
        """Axial slice ``[y, x]`` (or ``[y, x, 3]``) at display index z."""
        return self.voxels[slice_index]

    def index_to_physical(self, index_xyz) -> np.ndarray:
        """Patient position (LPS mm) of continuous voxel index ``(x, y, z)``.

        Accepts shape (3,) or (n, 3); returns the same shape.
        """
        index = np.asarray(index_xyz, dtype=np.float64)
        scaled = index * np.asarray(self.spacing_xyz)
        return scaled @ self.direction.T + np.asarray(self.origin_xyz)

    def physical_to_index(self, point_xyz) -> np.ndarray:
        """Continuous voxel index ``(x, y, z)`` of a patient position; inverse of above."""
        point = np.asarray(point_xyz, dtype=np.float64) - np.asarray(self.origin_xyz)
        return (point @ np.linalg.inv(self.direction).T) / np.asarray(self.spacing_xyz)

    def same_grid(self, other: "Volume", tolerance_mm: float = 1e-3) -> bool:
        """True when ``other`` has the same size and geometry within ``tolerance_mm``."""
        return (
            self.shape_zyx == other.shape_zyx
            and np.allclose(self.spacing_xyz, other.spacing_xyz, atol=tolerance_mm)
            and np.allclose(self.origin_xyz, other.origin_xyz, atol=tolerance_mm)
            and np.allclose(self.direction, other.direction, atol=1e-5)
        )
