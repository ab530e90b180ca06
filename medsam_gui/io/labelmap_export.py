"""Write a labelmap as NIfTI / NRRD / MHA in the geometry of its scan, with colour sidecars.

The file overlays the source scan exactly in 3D Slicer and ITK-SNAP: the voxels are
written with the volume's origin, spacing and direction (display grid) or, on
request, on the voxel grid of the file the scan came from (``source_grid=True``).
Next to it go a Slicer colour table (``.ctbl``) and an ITK-SNAP label description
(``.label.txt``) with the label names and colours.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.core.labelmap import LabelTable
from medsam_gui.core.volume import Volume
from medsam_gui.io.atomic import full_suffix, refuse_source_overwrite
from medsam_gui.io.color_table import write_sidecars

LABELMAP_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".seg.nrrd", ".mha", ".mhd")


def check_labels_fit(labels_zyx: np.ndarray, volume: Volume, path: str | Path) -> None:
    """Raise MedsamGuiError when ``labels_zyx`` is not a ``[z, y, x]`` array on the volume's grid."""
    if labels_zyx.shape != volume.shape_zyx:
        raise MedsamGuiError(f"labels of shape {labels_zyx.shape} do not match the scan {volume.shape_zyx}", path)


def write_labelmap(
    labels_zyx: np.ndarray,
    volume: Volume,
    label_table: LabelTable,
    path: str | Path,
    source_grid: bool = False,
    sidecars: bool = True,
) -> list[Path]:
    """Write ``labels_zyx`` (uint8 ``[z, y, x]`` on the volume's display grid) to ``path``.

    Args:
        labels_zyx: label values per voxel, same shape as ``volume.voxels[..., :3]``.
        volume: the scan whose geometry the file takes.
        label_table: names and colours for the sidecars.
        path: target ending in .nii.gz, .nii, .nrrd, .mha or .mhd.
        source_grid: write on the voxel grid of the scan's own file instead of the
            display grid (same physical space either way).
        sidecars: also write ``<stem>.ctbl`` and ``<stem>.label.txt``.

    Returns:
        The written paths, the labelmap first.

    Raises:
        MedsamGuiError: unknown extension, wrong shape, or the target is the source scan.
    """
    from medsam_gui.io.itk_bridge import write_image

    path = Path(path)
    if full_suffix(path) not in LABELMAP_SUFFIXES:
        raise MedsamGuiError(f"unknown labelmap format; use one of {', '.join(LABELMAP_SUFFIXES)}", path)
    check_labels_fit(labels_zyx, volume, path)
    refuse_source_overwrite(path, [volume.source_path])
    write_image(np.ascontiguousarray(labels_zyx, dtype=np.uint8), volume, path, source_grid=source_grid)
    written = [path]
    if sidecars:
        written.extend(write_sidecars(path, label_table))
    return written
