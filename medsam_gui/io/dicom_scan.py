"""Find DICOM image instances under a folder and group them into series.

Only headers are read here (no pixel data), so listing a large folder is fast.
Files that are not DICOM, DICOMDIR indexes and non-image objects (SEG, RTSTRUCT,
structured reports, ...) are left out of the image series and remembered, so an
empty result can say why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

# SOP classes that carry no image to display (or whose pixels are not an image).
SEGMENTATION_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
RT_STRUCTURE_SET_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
MEDIA_STORAGE_DIRECTORY_SOP_CLASS = "1.2.840.10008.1.3.10"

NON_IMAGE_REASONS = {
    SEGMENTATION_SOP_CLASS: "a DICOM Segmentation (SEG) object, not an image; open the series it segments",
    RT_STRUCTURE_SET_SOP_CLASS: "an RT Structure Set (contours), not an image; open the series it refers to",
    MEDIA_STORAGE_DIRECTORY_SOP_CLASS: "a DICOMDIR index, not an image",
}

# The series identifier of the image files that carry no SeriesInstanceUID (anonymised
# or hand-made files); a real UID holds only digits and dots, so it cannot clash.
SERIES_WITHOUT_UID = "no-series-uid"


@dataclass(frozen=True)
class DicomHeader:
    """The header of one DICOM image file (no pixel data)."""

    path: str
    dataset: pydicom.Dataset

    @property
    def series_instance_uid(self) -> str:
        return str(self.dataset.get("SeriesInstanceUID", "") or "")

    @property
    def series_id(self) -> str:
        """The SeriesInstanceUID, or :data:`SERIES_WITHOUT_UID` when the file has none."""
        return self.series_instance_uid or SERIES_WITHOUT_UID

    @property
    def number_of_frames(self) -> int:
        try:
            return max(int(self.dataset.get("NumberOfFrames", 1) or 1), 1)
        except (TypeError, ValueError):
            return 1


@dataclass
class FolderScan:
    """Image headers found under a folder, plus what was skipped and why."""

    images: list[DicomHeader] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # path -> reason


def read_header(path: str | Path) -> pydicom.Dataset:
    """Read one file's DICOM header; raises InvalidDicomError / OSError on failure."""
    return pydicom.dcmread(str(path), stop_before_pixels=True)


def non_image_reason(dataset: pydicom.Dataset) -> str | None:
    """Why a DICOM dataset is not a displayable image, or None when it is one."""
    sop_class = str(dataset.get("SOPClassUID", "") or "")
    if not sop_class and hasattr(dataset, "file_meta"):
        sop_class = str(dataset.file_meta.get("MediaStorageSOPClassUID", "") or "")
    if sop_class in NON_IMAGE_REASONS:
        return NON_IMAGE_REASONS[sop_class]
    if "DirectoryRecordSequence" in dataset:
        return NON_IMAGE_REASONS[MEDIA_STORAGE_DIRECTORY_SOP_CLASS]
    if "Rows" not in dataset or "Columns" not in dataset:
        modality = dataset.get("Modality", "unknown")
        return f"a DICOM object without pixel data (modality {modality}), not an image"
    return None


def scan_folder(folder: str | Path) -> FolderScan:
    """Read the header of every file under ``folder`` (recursively, sorted paths)."""
    scan = FolderScan()
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            try:
                dataset = read_header(path)
            except (InvalidDicomError, OSError, ValueError, EOFError, TypeError, AttributeError, KeyError) as error:
                scan.skipped[path] = f"not a readable DICOM file ({type(error).__name__})"
                continue
            reason = non_image_reason(dataset)
            if reason is not None:
                scan.skipped[path] = reason
                continue
            scan.images.append(DicomHeader(path, dataset))
    return scan


def group_by_series(images: list[DicomHeader]) -> dict[str, list[DicomHeader]]:
    """Headers grouped by series identifier (:attr:`DicomHeader.series_id`), in first-seen order.

    All files without a SeriesInstanceUID form one series, :data:`SERIES_WITHOUT_UID`.
    """
    series: dict[str, list[DicomHeader]] = {}
    for header in images:
        series.setdefault(header.series_id, []).append(header)
    return series
