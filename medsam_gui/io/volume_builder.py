"""Turn a reader's source-grid array and geometry into a display :class:`Volume`.

Every reader ends here, so the checks that apply to all formats (finite values,
a usable direction matrix) and the canonical display orientation are done once.
NaN and infinite voxels are not refused: they become the lowest finite value of the
image and the Volume carries a warning saying how many there were.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from medsam_gui.core.errors import UnreadableInputError
from medsam_gui.core.orientation import to_display_orientation
from medsam_gui.core.volume import DicomReference, Volume
from medsam_gui.io.dicom_pixels import compact_dtype


def build_volume(
    source_voxels: np.ndarray,
    spacing_xyz,
    origin_xyz,
    direction,
    *,
    source_path: str,
    modality: str = "OT",
    default_window: tuple[float, float] | None = None,
    dicom: DicomReference | None = None,
    warnings: list[str] | None = None,
    description: str = "",
) -> Volume:
    """A display-oriented Volume from voxels ``[z, y, x]`` / ``[z, y, x, 3]`` on the file's grid.

    ``dicom`` lists instances in source z order; it is reordered to display z order
    when the display z axis is the source slice axis (possibly reversed). When the
    slice axis moved (e.g. a sagittal stack shown axially) it stays in source order.

    NaN/infinite voxels are replaced (see :func:`replace_non_finite`) and the
    replacement is added to ``warnings``.

    Raises:
        UnreadableInputError: zero spacing, singular direction.
    """
    warnings = list(warnings or [])
    source_voxels, non_finite_warning = replace_non_finite(source_voxels)
    if non_finite_warning is not None:
        warnings.append(non_finite_warning)
    spacing = np.asarray(spacing_xyz, dtype=np.float64)
    if spacing.shape != (3,) or not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise UnreadableInputError(f"invalid voxel spacing {tuple(spacing)}", source_path)
    direction = np.asarray(direction, dtype=np.float64).reshape(3, 3)
    if not np.all(np.isfinite(direction)) or abs(np.linalg.det(direction)) < 1e-6:
        raise UnreadableInputError("invalid (singular) direction matrix", source_path)
    voxels, spacing_out, origin_out, direction_out, grid = to_display_orientation(
        source_voxels, spacing, origin_xyz, direction
    )
    if dicom is not None and grid.axes_zyx[0] == 0 and grid.flips_zyx[0]:
        dicom = replace(
            dicom,
            sop_instance_uids=dicom.sop_instance_uids[::-1],
            file_paths=dicom.file_paths[::-1],
            frame_numbers=dicom.frame_numbers[::-1] if dicom.frame_numbers is not None else None,
        )
    return Volume(
        voxels=voxels,
        spacing_xyz=spacing_out,
        origin_xyz=origin_out,
        direction=direction_out,
        modality=modality or "OT",
        default_window=default_window,
        source_path=str(source_path),
        source_grid=grid,
        dicom=dicom,
        warnings=warnings,
        description=description,
    )


def replace_non_finite(voxels: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Voxels with every NaN/infinite value replaced, and a warning for the user (None if none).

    Args:
        voxels: ``[z, y, x]`` or ``[z, y, x, 3]``, any dtype (only float can hold NaN/inf).
    Returns:
        (voxels, warning): the input itself when every value is finite; otherwise a
        copy in which NaN, +inf and -inf all became the lowest finite value of the
        image (0 when no value is finite), in the compact dtype of the result (see
        ``compact_dtype``: int16/uint16 for whole numbers in range, else float32),
        and a sentence giving the count and the replacement value.
    """
    if voxels.dtype.kind != "f":
        return voxels, None
    finite = np.isfinite(voxels)
    non_finite_count = int(finite.size - np.count_nonzero(finite))
    if non_finite_count == 0:
        return voxels, None
    lowest_finite = float(np.min(voxels, where=finite, initial=np.inf))
    if np.isfinite(lowest_finite):
        replacement, replacement_text = lowest_finite, f"{lowest_finite:g}, the lowest finite value of the image"
    else:
        replacement, replacement_text = 0.0, "0 (no voxel has a finite value)"
    replaced = compact_dtype(np.where(finite, voxels, np.asarray(replacement, dtype=voxels.dtype)))
    share = 100.0 * non_finite_count / finite.size
    warning = (
        f"{non_finite_count} of {finite.size} voxels ({share:.3g}%) are NaN or infinite in the file; "
        f"they were replaced with {replacement_text}"
    )
    return replaced, warning
