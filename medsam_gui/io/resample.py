"""Bring a labelmap stored on any grid onto a volume's display grid, by geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from medsam_gui.core.errors import UnreadableInputError
from medsam_gui.core.volume import Volume
from medsam_gui.io.itk_bridge import array_to_sitk
from medsam_gui.io.itk_reader import read_itk_image


def resample_onto(volume: Volume, label_image: str | Path | sitk.Image) -> np.ndarray:
    """Nearest-neighbour resampling of a labelmap onto ``volume``'s display grid.

    Each display voxel takes the label found at its physical (LPS) position in the
    labelmap, so a file stored with another axis order, flipped axes or another
    spacing still lands on the right voxels; outside the labelmap it is 0.

    Args:
        volume: the scan whose grid the result lies on.
        label_image: a NIfTI/NRRD/MHA path or a scalar SimpleITK image (2D or 3D).

    Returns:
        ``[z, y, x]`` array of ``volume.shape_zyx`` with the labelmap's integer dtype.
    """
    if isinstance(label_image, sitk.Image):
        labels, name = label_image, "labelmap"
    else:
        labels, name = read_itk_image(label_image), str(label_image)
    if labels.GetNumberOfComponentsPerPixel() != 1:
        raise UnreadableInputError("a labelmap must have one value per voxel", name)
    if labels.GetDimension() == 2:
        labels = sitk.JoinSeries(labels)
    if labels.GetDimension() != 3:
        raise UnreadableInputError(f"a {labels.GetDimension()}D labelmap is not supported", name)
    reference = array_to_sitk(np.zeros(volume.shape_zyx, dtype=np.uint8), volume.spacing_xyz, volume.origin_xyz, volume.direction)
    resampled = sitk.Resample(labels, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0, labels.GetPixelID())
    return sitk.GetArrayFromImage(resampled)
