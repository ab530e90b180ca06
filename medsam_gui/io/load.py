"""Open any supported scan as a :class:`Volume`: the public reading API.

    open_volume(path, series_uid=None) -> Volume
    list_series(folder) -> list[SeriesInfo]

``path`` may be a DICOM folder (searched recursively), a single DICOM file, a
NIfTI/NRRD/MHA/MHD file, or a 2D picture. Every failure is an
:class:`UnreadableInputError` (or :class:`AmbiguousSeriesError` for a folder with
several series and no ``series_uid``) whose text names the file and the reason.

A series of a folder is chosen by its identifier, ``SeriesInfo.series_id``: its
SeriesInstanceUID, or ``no-series-uid`` for the files that carry none.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

from medsam_gui.core.errors import AmbiguousSeriesError, MedsamGuiError, UnreadableInputError
from medsam_gui.core.volume import Volume
from medsam_gui.io.dicom_scan import (
    SERIES_WITHOUT_UID,
    DicomHeader,
    FolderScan,
    group_by_series,
    non_image_reason,
    read_header,
    scan_folder,
)
from medsam_gui.io.dicom_series import read_series
from medsam_gui.io.image2d import has_picture_suffix, read_picture
from medsam_gui.io.itk_reader import has_itk_suffix, read_itk_volume


@dataclass(frozen=True)
class SeriesInfo:
    """One image series found in a DICOM folder.

    ``series_id`` is what ``open_volume(folder, series_uid=...)`` and ``--series``
    take: the SeriesInstanceUID, or ``no-series-uid`` when the files carry none
    (``series_instance_uid`` is then ""). ``size_xyz`` is (columns, rows, slices or
    frames) as stored in the files.
    """

    series_id: str
    series_instance_uid: str
    description: str
    modality: str
    size_xyz: tuple[int, int, int]
    file_count: int
    first_file: str


def open_volume(path: str | Path, series_uid: str | None = None) -> Volume:
    """Read a scan into a display-oriented Volume (see ``core.volume``).

    ``series_uid`` picks a series of a DICOM folder by its ``SeriesInfo.series_id``;
    "" (what a session stores for a series without a SeriesInstanceUID) means
    ``no-series-uid`` too.

    Raises:
        UnreadableInputError: missing path, unsupported or damaged file, empty folder...
        AmbiguousSeriesError: a folder with several series and no ``series_uid``.
    """
    path = Path(path)
    try:
        if not path.exists():
            raise UnreadableInputError("no such file or folder", path)
        if path.is_dir():
            return _open_dicom_folder(path, series_uid)
        return _open_file(path)
    except MedsamGuiError:
        raise
    except MemoryError as error:
        raise UnreadableInputError("not enough memory to read this image", path) from error
    except Exception as error:  # a damaged file can fail deep inside a decoder: report, never crash
        raise UnreadableInputError(f"cannot read the image ({type(error).__name__}: {error})", path) from error


def list_series(folder: str | Path) -> list[SeriesInfo]:
    """The image series under ``folder`` (recursively), largest first."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UnreadableInputError("not a folder", folder)
    return _series_infos(scan_folder(folder))


def _series_infos(scan: FolderScan) -> list[SeriesInfo]:
    infos = []
    for series_id, headers in group_by_series(scan.images).items():
        first = headers[0].dataset
        slices = sum(h.number_of_frames for h in headers)
        infos.append(
            SeriesInfo(
                series_id=series_id,
                series_instance_uid=headers[0].series_instance_uid,
                description=str(first.get("SeriesDescription", "") or ""),
                modality=str(first.get("Modality", "") or ""),
                size_xyz=(int(first.get("Columns", 0)), int(first.get("Rows", 0)), slices),
                file_count=len(headers),
                first_file=headers[0].path,
            )
        )
    return sorted(infos, key=lambda info: -info.size_xyz[2])


def _open_dicom_folder(folder: Path, series_uid: str | None) -> Volume:
    scan = scan_folder(folder)
    series = group_by_series(scan.images)
    if not series:
        raise UnreadableInputError(_empty_folder_reason(scan), folder)
    if series_uid is not None:
        series_id = series_uid or SERIES_WITHOUT_UID
        if series_id not in series:
            available = ", ".join(series) or "none"
            if series_id == SERIES_WITHOUT_UID:
                raise UnreadableInputError(f"no series without a SeriesInstanceUID (found: {available})", folder)
            raise UnreadableInputError(f"no series with SeriesInstanceUID {series_id} (found: {available})", folder)
        return read_series(series[series_id], str(folder))
    if len(series) > 1:
        infos = _series_infos(scan)
        without_uid = f" ({SERIES_WITHOUT_UID} for the files without one)" if SERIES_WITHOUT_UID in series else ""
        raise AmbiguousSeriesError(
            f"the folder holds {len(infos)} image series; choose one by its SeriesInstanceUID{without_uid}",
            str(folder),
            infos,
        )
    return read_series(next(iter(series.values())), str(folder))


def _empty_folder_reason(scan: FolderScan) -> str:
    if not scan.skipped:
        return "the folder is empty (no files found, sub-folders included)"
    reasons: dict[str, int] = {}
    for reason in scan.skipped.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    summary = "; ".join(f"{count} file(s): {reason}" for reason, count in reasons.items())
    return f"no DICOM image series found ({summary})"


def _read_dicom_header_leniently(path: Path):
    """Header of a DICOM file, also one written without preamble/file meta.

    The lenient read is accepted only when it finds a SOP Class UID, so random
    bytes or text are not mistaken for DICOM.
    """
    not_recognised = "not a recognised image file (not DICOM, NIfTI, NRRD, MHA/MHD, or a PNG/JPEG/BMP/TIFF picture)"
    try:
        return read_header(path)
    except InvalidDicomError:
        pass
    except (EOFError, ValueError, TypeError, AttributeError, KeyError) as error:
        raise UnreadableInputError(not_recognised, path) from error
    try:
        header = pydicom.dcmread(str(path), stop_before_pixels=True, force=True)
        if "SOPClassUID" in header and str(header.SOPClassUID).startswith("1.2.840.10008."):
            return header
    except Exception:  # garbage read leniently fails in many ways; all mean "not DICOM"
        pass
    raise UnreadableInputError(not_recognised, path)


def _open_file(path: Path) -> Volume:
    if has_itk_suffix(path):
        return read_itk_volume(path)
    if has_picture_suffix(path):
        return read_picture(path)
    header = _read_dicom_header_leniently(path)
    reason = non_image_reason(header)
    if reason is not None:
        raise UnreadableInputError(f"this file is {reason}", path)
    return read_series([DicomHeader(str(path), header)], str(path))
