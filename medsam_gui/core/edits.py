"""LabelEdit: one reversible change to a labelmap, stored compactly.

An edit keeps only the bounding box of what changed, a bit-packed mask of the
changed voxels inside it and their old and new values, so undoing an organ on 300
slices costs a few MB, not a copy of the volume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medsam_gui.core.planes import PlaneGeometry

BoxZYX = tuple[int, int, int, int, int, int]  # z0, z1, y0, y1, x0, x1 (end exclusive)


@dataclass(frozen=True)
class LabelEdit:
    """A change of ``labels[box]`` at the voxels set in ``changed``.

    Attributes:
        box_zyx: (z0, z1, y0, y1, x0, x1), end-exclusive bounds of the change.
        block_shape: shape (dz, dy, dx) of that box.
        changed_bits: ``np.packbits`` of the changed-voxel mask ``[dz, dy, dx]`` (C order).
        old_values: uint8 ``(n,)`` values before the edit at the changed voxels (C order).
        new_values: uint8 ``(n,)`` values after it, or ``(1,)`` when they are all equal
            (the usual case: a mask painted with one label), broadcast on apply.
        description: what the user did, for the Edit menu ('AI mask', 'brush'...).
    """

    box_zyx: BoxZYX
    block_shape: tuple[int, int, int]
    changed_bits: np.ndarray
    old_values: np.ndarray
    new_values: np.ndarray
    description: str = ""

    @property
    def voxel_count(self) -> int:
        return int(self.old_values.size)

    @property
    def nbytes(self) -> int:
        return int(self.changed_bits.nbytes + self.old_values.nbytes + self.new_values.nbytes)

    @property
    def slice_range(self) -> tuple[int, int]:
        """(first, last + 1) slice indices the edit touches."""
        return self.box_zyx[0], self.box_zyx[1]

    def _region(self) -> tuple[slice, slice, slice]:
        z0, z1, y0, y1, x0, x1 = self.box_zyx
        return np.s_[z0:z1, y0:y1, x0:x1]

    def changed_mask(self) -> np.ndarray:
        """bool ``[dz, dy, dx]``: which voxels of the box this edit changes."""
        count = int(np.prod(self.block_shape))
        return np.unpackbits(self.changed_bits, count=count).astype(bool).reshape(self.block_shape)

    def apply(self, labels: np.ndarray) -> None:
        """Write the new values into ``labels`` ``[z, y, x]`` in place."""
        block = labels[self._region()]
        block[self.changed_mask()] = self.new_values

    def revert(self, labels: np.ndarray) -> None:
        """Write the old values back into ``labels`` in place."""
        block = labels[self._region()]
        block[self.changed_mask()] = self.old_values


def _bounding_box(mask_zyx: np.ndarray) -> BoxZYX | None:
    """End-exclusive bounds of the true voxels of a bool ``[z, y, x]`` mask, or None."""
    bounds = []
    for axis in range(3):
        other_axes = tuple(a for a in range(3) if a != axis)
        present = np.flatnonzero(mask_zyx.any(axis=other_axes))
        if present.size == 0:
            return None
        bounds.extend([int(present[0]), int(present[-1]) + 1])
    return tuple(bounds)


def edit_from_new_values(
    labels: np.ndarray,
    new_block: np.ndarray,
    offset_zyx: tuple[int, int, int] = (0, 0, 0),
    description: str = "",
) -> LabelEdit | None:
    """The edit that turns ``labels`` into ``new_block`` at ``offset_zyx``.

    Args:
        labels: current labelmap ``[z, y, x]`` uint8 (not modified).
        new_block: the wanted values ``[dz, dy, dx]`` for the region starting at offset.
        offset_zyx: (z, y, x) of ``new_block[0, 0, 0]`` in ``labels``.
    Returns:
        The edit (not yet applied), or None when nothing would change.
    """
    z, y, x = offset_zyx
    dz, dy, dx = new_block.shape
    current = labels[z : z + dz, y : y + dy, x : x + dx]
    if current.shape != new_block.shape:
        raise ValueError(f"block of shape {new_block.shape} at {offset_zyx} does not fit labels {labels.shape}")
    changed = current != new_block
    box = _bounding_box(changed)
    if box is None:
        return None
    bz0, bz1, by0, by1, bx0, bx1 = box
    changed = changed[bz0:bz1, by0:by1, bx0:bx1]
    old = current[bz0:bz1, by0:by1, bx0:bx1][changed]
    new = new_block[bz0:bz1, by0:by1, bx0:bx1][changed].astype(labels.dtype)
    if new.size > 1 and (new == new[0]).all():
        new = new[:1]
    return LabelEdit(
        box_zyx=(z + bz0, z + bz1, y + by0, y + by1, x + bx0, x + bx1),
        block_shape=changed.shape,
        changed_bits=np.packbits(changed.reshape(-1)),
        old_values=np.ascontiguousarray(old),
        new_values=np.ascontiguousarray(new),
        description=description,
    )


def painted(current_yx: np.ndarray, mask_yx: np.ndarray, value: int, mode: str = "add",
            within_yx: np.ndarray | None = None) -> np.ndarray:
    """The new values of a 2D label image ``current_yx`` after writing ``mask_yx`` into it.

    Modes:
        'add': voxels under the mask become ``value`` (paints over other labels).
        'erase': voxels under the mask that hold ``value`` become 0 (``value`` 0: any label).
        'replace': inside ``within_yx`` (bool ``[y, x]``; default the whole slice) the
            ``value`` object becomes exactly the mask; ``value`` voxels outside the
            mask there become 0, those outside ``within_yx`` stay.
    """
    mask = np.asarray(mask_yx, dtype=bool)
    if mask.shape != current_yx.shape:
        raise ValueError(f"mask shape {mask.shape} differs from slice shape {current_yx.shape}")
    within = np.ones_like(mask) if within_yx is None else np.asarray(within_yx, dtype=bool)
    if within.shape != current_yx.shape:
        raise ValueError(f"region shape {within.shape} differs from slice shape {current_yx.shape}")
    if mode == "add":
        return np.where(mask, np.uint8(value), current_yx)
    if mode == "erase":
        hit = mask if value == 0 else mask & (current_yx == value)
        return np.where(hit, np.uint8(0), current_yx)
    if mode == "replace":
        new = np.where((current_yx == value) & within, np.uint8(0), current_yx)
        return np.where(mask, np.uint8(value), new)
    raise ValueError(f"unknown paint mode '{mode}'")


def edit_paint_slice(
    labels: np.ndarray, slice_index: int, mask_yx: np.ndarray, value: int, mode: str = "add", description: str = "",
    within_yx: np.ndarray | None = None,
) -> LabelEdit | None:
    """The edit for writing a 2D mask ``[y, x]`` into axial slice ``slice_index``
    (modes: see :func:`painted`)."""
    new = painted(labels[slice_index], mask_yx, value, mode, within_yx)
    return edit_from_new_values(labels, new[None], (slice_index, 0, 0), description)


def edit_paint_plane(
    labels: np.ndarray, geometry: PlaneGeometry, index: int, mask_2d: np.ndarray, value: int, mode: str = "add",
    description: str = "", within_2d: np.ndarray | None = None,
) -> LabelEdit | None:
    """The edit for writing a 2D mask ``[row, column]``, as the plane is displayed
    (``PlaneGeometry.take``), into slice ``index`` of ``geometry.plane`` (modes: see
    :func:`painted`). Only that one-voxel-thick slab of ``labels`` ``[z, y, x]`` can change.
    """
    new = painted(geometry.take(labels, index), mask_2d, value, mode, within_2d)
    block, offset_zyx = geometry.block(new, index)
    return edit_from_new_values(labels, block, offset_zyx, description)


def edit_paint_volume(labels: np.ndarray, mask_zyx: np.ndarray, value: int, description: str = "") -> LabelEdit | None:
    """The edit for painting a 3D mask ``[z, y, x]`` with ``value`` (e.g. a propagation).

    Only the mask's bounding box is compared, so a small object in a big volume is cheap.
    """
    box = _bounding_box(np.asarray(mask_zyx, dtype=bool))
    if box is None:
        return None
    z0, z1, y0, y1, x0, x1 = box
    sub_mask = mask_zyx[z0:z1, y0:y1, x0:x1].astype(bool)
    current = labels[z0:z1, y0:y1, x0:x1]
    new = np.where(sub_mask, np.uint8(value), current)
    return edit_from_new_values(labels, new, (z0, y0, x0), description)


def edit_relabel(labels: np.ndarray, old_value: int, new_value: int, description: str = "") -> LabelEdit | None:
    """The edit that turns every voxel of ``old_value`` into ``new_value`` (0 deletes it)."""
    box = _bounding_box(labels == old_value)
    if box is None:
        return None
    z0, z1, y0, y1, x0, x1 = box
    current = labels[z0:z1, y0:y1, x0:x1]
    new = np.where(current == old_value, np.uint8(new_value), current)
    return edit_from_new_values(labels, new, (z0, y0, x0), description)
