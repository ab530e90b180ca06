"""Square physical pixels for a plane slice: what a segmentation model is shown, and the
exact way back to the voxel grid. Numpy only.

A coronal or sagittal slice of a CT with 0.7 mm pixels and 5 mm slices has pixels seven
times taller than wide; MedSAM and LiteMedSAM expect natural aspect. :class:`SquarePixelGrid`
maps the displayed plane slice (``[row, column]``, see ``planes.py``) onto a grid of
square pixels whose side is the finer of the two pixel sizes (the longest side capped
at ``max_side``) and back.

Continuous coordinates: voxel pixel ``i`` covers ``[i, i + 1)`` along its axis and
resampled pixel ``j`` covers ``[j / s, (j + 1) / s)`` of the same axis, where ``s`` is the
axis's scale (resampled pixels per voxel pixel). Pixel centres sit at ``+ 0.5``.

- Images go forward by linear interpolation at the resampled pixel centres (edges
  clamped).
- Boxes (inclusive corners) go forward to the resampled pixels whose centres lie in
  the voxel box; points go forward as continuous positions.
- Masks come back by sampling the resampled mask at each voxel centre (nearest). When
  no axis is shrunk (``s >= 1``, i.e. the cap did not bite) this is the exact inverse
  of sampling a voxel mask forward: a voxel-aligned mask comes back voxel for voxel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_SIDE = 1024  # no resampled plane slice is larger along either axis


@dataclass(frozen=True)
class SquarePixelGrid:
    """The resampling of one plane's slices (all slices of a plane share it).

    Attributes:
        source_shape: (rows, columns) of the displayed plane slice (voxel pixels).
        shape: (rows, columns) of the resampled, square-pixel image.
    """

    source_shape: tuple[int, int]
    shape: tuple[int, int]

    @classmethod
    def for_pixels(cls, source_shape: tuple[int, int], pixel_size_mm: tuple[float, float],
                   max_side: int = MAX_SIDE) -> "SquarePixelGrid":
        """The grid for slices of ``source_shape`` whose pixels measure ``pixel_size_mm``
        (row mm, column mm; unknown or non-positive sizes count as square)."""
        rows, columns = (int(v) for v in source_shape)
        row_mm, column_mm = (float(v) for v in pixel_size_mm)
        if not (row_mm > 0 and column_mm > 0 and math.isfinite(row_mm) and math.isfinite(column_mm)):
            row_mm = column_mm = 1.0
        target_mm = min(row_mm, column_mm)
        height_mm, width_mm = rows * row_mm, columns * column_mm
        target_mm = max(target_mm, max(height_mm, width_mm) / max_side)
        shape = (max(int(round(height_mm / target_mm)), 1), max(int(round(width_mm / target_mm)), 1))
        return cls((rows, columns), shape)

    @property
    def is_identity(self) -> bool:
        """True when the slice already has square pixels at the target size (nothing to resample)."""
        return self.shape == self.source_shape

    @property
    def scale_yx(self) -> tuple[float, float]:
        """Resampled pixels per voxel pixel along rows (y) and columns (x)."""
        return self.shape[0] / self.source_shape[0], self.shape[1] / self.source_shape[1]

    # -- images ----------------------------------------------------------------------
    def resample_image(self, image: np.ndarray) -> np.ndarray:
        """The image ``[rows, columns, ...]`` (trailing axes kept, e.g. RGB) on the square
        grid, linearly interpolated (float32); the image itself when :attr:`is_identity`."""
        image = np.asarray(image)
        if image.shape[:2] != self.source_shape:
            raise ValueError(f"image of shape {image.shape[:2]} does not match the plane's {self.source_shape}")
        if self.is_identity:
            return image
        values = image.astype(np.float32, copy=False)
        for axis in (0, 1):
            values = _interpolate_axis(values, axis, self.shape[axis])
        return values

    def resample_mask(self, mask: np.ndarray) -> np.ndarray:
        """bool ``shape``: a voxel mask ``[rows, columns]`` sampled at the resampled pixel centres."""
        mask = np.asarray(mask, dtype=bool)
        rows = self._source_index_of(0)
        columns = self._source_index_of(1)
        return mask[np.ix_(rows, columns)]

    def mask_to_voxels(self, mask: np.ndarray) -> np.ndarray:
        """bool ``source_shape``: a resampled mask ``shape`` sampled at each voxel centre."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != self.shape:
            raise ValueError(f"mask of shape {mask.shape} does not match the resampled {self.shape}")
        if self.is_identity:
            return mask
        rows = self._resampled_index_of(0)
        columns = self._resampled_index_of(1)
        return mask[np.ix_(rows, columns)]

    # -- prompts ---------------------------------------------------------------------
    def box_to_resampled(self, box_xyxy) -> tuple[int, int, int, int]:
        """An inclusive voxel box (x0, y0, x1, y1) as the inclusive box of the resampled
        pixels whose centres lie inside it (never empty: at least the pixel nearest its centre)."""
        x0, y0, x1, y1 = (int(v) for v in box_xyxy)
        scale_y, scale_x = self.scale_yx
        first_x, last_x = _covered(x0, x1, scale_x, self.shape[1])
        first_y, last_y = _covered(y0, y1, scale_y, self.shape[0])
        return first_x, first_y, last_x, last_y

    def points_to_resampled(self, points_xy: np.ndarray) -> np.ndarray:
        """float ``(n, 2)`` (x, y) voxel pixel positions -> the same places in resampled pixels."""
        points = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
        scale_y, scale_x = self.scale_yx
        return (points + 0.5) * np.array([scale_x, scale_y]) - 0.5

    # -- index maps ------------------------------------------------------------------
    def _source_index_of(self, axis: int) -> np.ndarray:
        """For each resampled pixel along ``axis``: the voxel pixel holding its centre."""
        scale = self.shape[axis] / self.source_shape[axis]
        centres = (np.arange(self.shape[axis]) + 0.5) / scale
        return np.minimum(np.floor(centres).astype(np.int64), self.source_shape[axis] - 1)

    def _resampled_index_of(self, axis: int) -> np.ndarray:
        """For each voxel pixel along ``axis``: the resampled pixel holding its centre."""
        scale = self.shape[axis] / self.source_shape[axis]
        centres = (np.arange(self.source_shape[axis]) + 0.5) * scale
        return np.minimum(np.floor(centres).astype(np.int64), self.shape[axis] - 1)


def _covered(first: int, last: int, scale: float, size: int) -> tuple[int, int]:
    """Inclusive range of resampled pixels whose centres lie in voxels ``first..last``."""
    start = math.ceil(first * scale - 0.5)
    stop = math.ceil((last + 1) * scale - 0.5) - 1
    if stop < start:  # a box thinner than one resampled pixel: the pixel at its centre
        start = stop = math.floor((first + last + 1) / 2 * scale)
    return min(max(start, 0), size - 1), min(max(stop, 0), size - 1)


def _interpolate_axis(values: np.ndarray, axis: int, size: int) -> np.ndarray:
    """Linear interpolation of ``values`` along ``axis`` onto ``size`` pixels covering the same extent."""
    count = values.shape[axis]
    if count == size:
        return values
    positions = (np.arange(size) + 0.5) * (count / size) - 0.5  # resampled centres in voxel index units
    positions = np.clip(positions, 0, count - 1)
    lower = np.floor(positions).astype(np.int64)
    upper = np.minimum(lower + 1, count - 1)
    weight = (positions - lower).astype(np.float32)
    shape = [1] * values.ndim
    shape[axis] = size
    weight = weight.reshape(shape)
    low = np.take(values, lower, axis=axis)
    high = np.take(values, upper, axis=axis)
    return low + (high - low) * weight
