"""Real ground-truth cases for the quality benchmark, grouped as in REFERENCE.md.

Each case: (group, Volume, slice_index, bool mask [rows, cols]) on the volume's
display grid. Data from ``MEDSAM_GUI_DATA`` (default ../shared/data).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from medsam_gui.core.volume import Volume

DATA_ROOT = Path(os.environ.get("MEDSAM_GUI_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def sammed2d_cases():
    from PIL import Image

    folder = DATA_ROOT / "sammed2d"
    for image_path in sorted((folder / "images").glob("*.png")):
        volume = Volume(np.asarray(Image.open(image_path).convert("RGB"))[None], description=image_path.name)
        for mask_path in sorted((folder / "masks").glob(f"{image_path.stem}_*.png")):
            mask = np.asarray(Image.open(mask_path).convert("L")) > 0
            if mask.any():
                yield "sammed2d", volume, 0, mask


def dcmqi_cases():
    from medsam_gui.io.load import open_volume
    from medsam_gui.io.resample import resample_onto

    volume = open_volume(DATA_ROOT / "dcmqi" / "ct-3slice")
    for organ in ("liver", "spine", "heart"):
        labels = resample_onto(volume, DATA_ROOT / "dcmqi" / f"{organ}_seg.nrrd") > 0
        for slice_index in range(volume.shape_zyx[0]):
            if labels[slice_index].sum() >= 20:
                yield f"dcmqi {organ}", volume, slice_index, labels[slice_index]


def totalseg_cases(min_pixels: int = 60):
    """Each organ label of example_ct_sm at its largest axial cross-section."""
    from medsam_gui.io.load import open_volume
    from medsam_gui.io.resample import resample_onto

    volume = open_volume(DATA_ROOT / "totalseg" / "example_ct_sm.nii.gz")
    labels = resample_onto(volume, DATA_ROOT / "totalseg" / "example_seg.nii.gz")
    for value in np.unique(labels):
        if value == 0:
            continue
        areas = (labels == value).sum(axis=(1, 2))
        slice_index = int(areas.argmax())
        if areas[slice_index] >= min_pixels:
            yield "totalseg organs", volume, slice_index, labels[slice_index] == value


def breast_cases():
    """The breast1 lesion on its three largest slices."""
    from medsam_gui.io.load import open_volume
    from medsam_gui.io.resample import resample_onto

    volume = open_volume(DATA_ROOT / "pyradiomics" / "breast1_image.nrrd")
    lesion = resample_onto(volume, DATA_ROOT / "pyradiomics" / "breast1_label.nrrd") > 0
    areas = lesion.sum(axis=(1, 2))
    for slice_index in np.argsort(areas)[::-1][:3]:
        if areas[slice_index] > 0:
            yield "breast1 lesion", volume, int(slice_index), lesion[slice_index]


def organ_volumes(min_voxels: int = 200, largest: int | None = None):
    """(group, Volume, organ name, bool mask ``[z, y, x]``) for each CT organ with 3D ground
    truth: the labels of example_ct_sm (30 slices, 3 mm isotropic), of the TotalSegmentator
    DICOM CT (20 slices of 2 mm, 0.98 mm pixels) and the dcmqi masks (3 slices); with
    ``largest``, only that many of each scan's largest organs (in label order)."""
    from medsam_gui.io.load import open_volume
    from medsam_gui.io.resample import resample_onto

    for group, scan, segmentation in (("totalseg organs", "example_ct_sm.nii.gz", "example_seg.nii.gz"),
                                      ("totalseg DICOM CT", "example_ct_dicom", "example_seg_dicom.nii.gz")):
        volume = open_volume(DATA_ROOT / "totalseg" / scan)
        labels = resample_onto(volume, DATA_ROOT / "totalseg" / segmentation)
        values, counts = np.unique(labels[labels != 0], return_counts=True)
        kept = values[counts >= min_voxels]
        if largest is not None:
            kept = np.sort(kept[np.argsort(counts[counts >= min_voxels])[::-1][:largest]])
        for value in kept:
            yield group, volume, f"label {value}", labels == value
    volume = open_volume(DATA_ROOT / "dcmqi" / "ct-3slice")
    for organ in ("liver", "spine", "heart"):
        mask = resample_onto(volume, DATA_ROOT / "dcmqi" / f"{organ}_seg.nrrd") > 0
        if mask.sum() >= min_voxels:
            yield f"dcmqi {organ}", volume, organ, mask


def all_cases():
    for source in (sammed2d_cases, dcmqi_cases, totalseg_cases, breast_cases):
        yield from source()
