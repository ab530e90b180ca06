"""Shared helpers of the project tests: a folder of real scans (links), painting labels."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

# case id (as a folder scan names it) -> path under the shared data folder
CASE_SOURCES = {
    "breast1_image": "pyradiomics/breast1_image.nrrd",  # NRRD MR
    "ct3": "dcmqi/ct-3slice",  # DICOM CT, 3 slices
    "example_ct_sm": "totalseg/example_ct_sm.nii.gz",  # NIfTI CT, stored with flipped x/y
    "nested_ts_dicom": "totalseg/example_ct_dicom",  # DICOM CT, 20 slices, no SeriesInstanceUID
}
DICOM_CASES = ("ct3", "nested_ts_dicom")
FILE_CASES = ("breast1_image", "example_ct_sm")
SCHEMA_NAMES = ["liver", "spleen", "tumour=5"]


def build_images_folder(root: Path, data_root: Path) -> Path:
    """``root/images`` holding links to the real scans (never copies), a nested DICOM
    series and a text file that is not a scan."""
    images = root / "images"
    (images / "nested").mkdir(parents=True)
    os.symlink(data_root / CASE_SOURCES["breast1_image"], images / "breast1_image.nrrd")
    os.symlink(data_root / CASE_SOURCES["ct3"], images / "ct3", target_is_directory=True)
    os.symlink(data_root / CASE_SOURCES["example_ct_sm"], images / "example_ct_sm.nii.gz")
    os.symlink(data_root / CASE_SOURCES["nested_ts_dicom"], images / "nested" / "ts_dicom", target_is_directory=True)
    (images / "notes.txt").write_text("not a scan\n")
    return images


def paint(shape_zyx: tuple[int, int, int]) -> tuple[np.ndarray, dict[int, list[tuple[int, int, int]]]]:
    """Labels with a liver box (value 1) and a tumour box (value 5) on the middle slice.

    Returns the labels and, per value, a few painted voxel indices ``(z, y, x)``
    (corners of the boxes), chosen off-centre so a flipped axis would miss them.
    """
    z_size, y_size, x_size = shape_zyx
    labels = np.zeros(shape_zyx, dtype=np.uint8)
    z = z_size // 2
    y0, y1, x0, x1 = y_size // 5, y_size // 3, x_size // 6, x_size // 3
    labels[z, y0:y1, x0:x1] = 1
    ty, tx = (y_size * 2) // 3, (x_size * 3) // 4
    labels[z, ty : ty + 3, tx : tx + 4] = 5
    painted = {
        1: [(z, y0, x0), (z, y1 - 1, x1 - 1), (z, y0, x1 - 1)],
        5: [(z, ty, tx), (z, ty + 2, tx + 3)],
    }
    return labels, painted
