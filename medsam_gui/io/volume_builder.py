"""Turn a reader's source-grid array and geometry into a display :class:`Volume`.

Every reader ends here, so the checks that apply to all formats (finite values,
a usable direction matrix) and the canonical display orientation are done once.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from medsam_gui.core.errors import UnreadableInputError
from medsam_gui.core.orientation import to_display_orientation
from medsam_gui.core.volume import DicomReference, Volume


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

    Raises:
        UnreadableInputError: NaN/infinite voxels, zero spacing, singular direction.
    """
    if source_voxels.dtype.kind == "f" and not np.all(np.isfinite(source_voxels)):
        bad = int(np.count_nonzero(~np.isfinite(source_voxels)))
        raise UnreadableInputError(f"the image contains {bad} NaN or infinite voxel values", source_path)
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
        warnings=list(warnings or []),
        description=description,
    )
