"""Finding the cases of a project: a folder of scans or a CSV/JSON manifest, headers only.

A folder is searched recursively. Every NIfTI/NRRD/MHA/MHD file is one case, checked
by reading its header only (SimpleITK ``ReadImageInformation``); every DICOM image
series is one case (headers read with ``stop_before_pixels``; series grouped by
SeriesInstanceUID, files without one by folder). Pictures, non-image DICOM objects
(SEG, RTSTRUCT, DICOMDIR) and other files are not cases and are only counted.
Case ids come from the path below the folder searched (``patient1/ct.nii.gz`` ->
``patient1_ct``), made safe and unique without regard to case.

A manifest has one row per case: ``path`` (or ``image``), optionally ``case_id`` and
``series_uid``, paths relative to the manifest's folder; a row may also name a 2D
picture. A folder row must hold one series, or give its ``series_uid``. CSV needs a
header row; JSON is a list of such objects or ``{"cases": [...]}``.

Nothing here reads voxels. Scans that cannot be used (missing path, unreadable
header, 4D image, a folder with several series and no ``series_uid``...) are listed
in :attr:`IndexResult.unreadable` with the reason; they never stop the others.
"""

from __future__ import annotations

import contextlib
import csv
import fnmatch
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

from medsam_gui.io.dicom_scan import non_image_reason
from medsam_gui.io.image2d import PICTURE_SUFFIXES, has_picture_suffix
from medsam_gui.io.itk_reader import has_itk_suffix
from medsam_gui.io.atomic import atomic_write_text
from medsam_gui.project.errors import ProjectError
from medsam_gui.project.layout import (
    CASE_INDEX_FILE,
    json_text,
    read_json,
    relative_to_project,
    safe_case_id,
    unique_case_id,
)
from medsam_gui.project.progress import ProgressCallback, ProgressReporter

MANIFEST_SUFFIXES = (".csv", ".json")
INDEX_FORMAT = "medsam-gui case index"
INDEX_VERSION = 1
DICOM_HEADER_TAGS = [
    "SOPClassUID", "SeriesInstanceUID", "SeriesNumber", "SeriesDescription", "Modality",
    "Rows", "Columns", "NumberOfFrames", "DirectoryRecordSequence",
]
# Companion data files of detached headers (.nhdr/.mhd) and obvious non-scans: not even tried as DICOM.
SKIPPED_SUFFIXES = (".raw", ".raw.gz", ".zraw", ".txt", ".md", ".json", ".csv", ".ctbl", ".py", ".xml", ".html", ".gif")


# Naming the reader spares ITK asking every reader whether it can read the file (about 1 ms).
_ITK_IO_BY_SUFFIX = (
    (".nii.gz", "NiftiImageIO"), (".nii", "NiftiImageIO"), (".nrrd", "NrrdImageIO"), (".nhdr", "NrrdImageIO"),
    (".mha", "MetaImageIO"), (".mhd", "MetaImageIO"),
)


@dataclass(frozen=True)
class CaseEntry:
    """One case of the index (written once at init, and when cases are added).

    Attributes:
        case_id: unique (also without regard to case), ``A-Z a-z 0-9 _ -`` only.
        image: the scan's path relative to the project folder, ``/``-separated: a file,
            or the folder holding a DICOM series.
        series_uid: SeriesInstanceUID of a DICOM case (None: a file, or a series without UID).
        kind: 'dicom' or 'file'.
        modality: from the DICOM header; '' when the header does not say (NIfTI, NRRD).
        size_xyz: (columns, rows, slices) from the header, or None.
        description: series description or file name, for lists.
    """

    case_id: str
    image: str
    series_uid: str | None = None
    kind: str = "file"
    modality: str = ""
    size_xyz: tuple[int, int, int] | None = None
    description: str = ""

    def to_json(self) -> dict:
        return {
            "case_id": self.case_id,
            "image": self.image,
            "series_uid": self.series_uid,
            "kind": self.kind,
            "modality": self.modality,
            "size_xyz": list(self.size_xyz) if self.size_xyz else None,
            "description": self.description,
        }

    @classmethod
    def from_json(cls, data: dict) -> "CaseEntry":
        size = data.get("size_xyz")
        return cls(
            case_id=str(data["case_id"]),
            image=str(data["image"]),
            series_uid=data.get("series_uid") or None,
            kind=str(data.get("kind") or "file"),
            modality=str(data.get("modality") or ""),
            size_xyz=tuple(int(v) for v in size) if size else None,
            description=str(data.get("description") or ""),
        )


@dataclass(frozen=True)
class UnreadableCase:
    """A would-be case left out: ``path`` (relative to the project folder) and why."""

    path: str
    reason: str

    def to_json(self) -> dict:
        return {"path": self.path, "reason": self.reason}


@dataclass
class IndexResult:
    """What indexing found: ``cases`` in order, ``unreadable`` ones with reasons, ``ignored_files`` counted."""

    cases: list[CaseEntry] = field(default_factory=list)
    unreadable: list[UnreadableCase] = field(default_factory=list)
    ignored_files: int = 0


@dataclass
class CaseIndex:
    """The content of ``cases.json``: the cases in project order and the scans left out."""

    cases: list[CaseEntry] = field(default_factory=list)
    unreadable: list[UnreadableCase] = field(default_factory=list)


def read_case_index(project_folder: Path) -> CaseIndex:
    """Read ``cases.json``; ProjectError naming it when missing or damaged."""
    path = Path(project_folder) / CASE_INDEX_FILE
    try:
        data = read_json(path, "case index")
    except FileNotFoundError as error:
        raise ProjectError("the case index is missing (deleted outside the app?)", path) from error
    if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT:
        raise ProjectError("not a medsam-gui case index", path)
    if int(data.get("version", 0)) > INDEX_VERSION:
        raise ProjectError(f"written by a newer medsam-gui (case index format {data['version']})", path)
    try:
        cases = [CaseEntry.from_json(entry) for entry in data.get("cases") or []]
        unreadable = [UnreadableCase(str(e["path"]), str(e["reason"])) for e in data.get("unreadable") or []]
    except (KeyError, TypeError, ValueError) as error:
        raise ProjectError(f"the case index is damaged ({type(error).__name__}: {error})", path) from error
    return CaseIndex(cases, unreadable)


def write_case_index(project_folder: Path, index: CaseIndex) -> None:
    """Write ``cases.json`` atomically (MedsamGuiError naming the folder when it cannot be written)."""
    data = {
        "format": INDEX_FORMAT,
        "version": INDEX_VERSION,
        "cases": [entry.to_json() for entry in index.cases],
        "unreadable": [item.to_json() for item in index.unreadable],
    }
    atomic_write_text(Path(project_folder) / CASE_INDEX_FILE, json_text(data))


@dataclass
class _Candidate:
    """A case found, before it gets its id: absolute path, id wish, header facts."""

    path: str
    id_hint: str
    series_uid: str | None
    kind: str
    modality: str = ""
    size_xyz: tuple[int, int, int] | None = None
    description: str = ""
    given_id: bool = False


@dataclass
class _Series:
    files: list[str] = field(default_factory=list)
    uid: str | None = None
    modality: str = ""
    description: str = ""
    number: str = ""
    columns: int = 0
    rows: int = 0
    slices: int = 0


def index_images(
    source: str | Path,
    project_folder: str | Path,
    *,
    taken_ids: set[str] | None = None,
    exclude: tuple[str, ...] | list[str] = (),
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> IndexResult:
    """Index a folder of scans, a manifest (.csv/.json) or a single scan file.

    Args:
        source: folder, manifest or scan file.
        project_folder: the project folder (stored paths are made relative to it; the
            folder itself is never searched for scans).
        taken_ids: casefolded ids already used in the project (new ids avoid them).
        exclude: glob patterns (``*_seg.nii.gz``, ``labels/*``) matched against each file's
            path relative to ``source`` and its name; matches are skipped.
        progress: ``progress(done, total, message)``; see ``project.progress``.
        cancel: set it to stop; raises OperationCancelled.

    Raises:
        ProjectError: ``source`` missing, or a manifest without a path column.
        OperationCancelled: ``cancel`` was set.
    """
    source = Path(source)
    reporter = ProgressReporter(progress, cancel)
    taken = set(taken_ids or ())
    if not source.exists():
        raise ProjectError("no such file or folder", source)
    if source.is_dir():
        candidates, unreadable, ignored = _scan_folder(source, Path(project_folder), list(exclude), reporter)
    elif source.name.lower().endswith(MANIFEST_SUFFIXES):
        candidates, unreadable, ignored = _read_manifest(source, reporter)
    else:
        candidate, reason = _candidate_for_path(source, None, source.parent)
        candidates, unreadable, ignored = ([candidate], [], 0) if candidate else ([], [(str(source), reason)], 0)
    result = IndexResult(ignored_files=ignored)
    for path, reason in unreadable:
        result.unreadable.append(UnreadableCase(relative_to_project(path, project_folder), reason))
    # ids given in a manifest first, so a made-up id never takes one a later row asks for
    ids: dict[int, str] = {}
    for position, candidate in enumerate(candidates):
        if candidate.given_id:
            wanted = safe_case_id(candidate.id_hint)
            if wanted.casefold() in taken:
                result.unreadable.append(
                    UnreadableCase(relative_to_project(candidate.path, project_folder), f"case id '{wanted}' is used twice")
                )
            else:
                ids[position] = unique_case_id(wanted, taken)
    for position, candidate in enumerate(candidates):
        if not candidate.given_id:
            ids[position] = unique_case_id(safe_case_id(candidate.id_hint), taken)
    for position, candidate in enumerate(candidates):
        case_id = ids.get(position)
        if case_id is None:
            continue
        result.cases.append(
            CaseEntry(
                case_id=case_id,
                image=relative_to_project(candidate.path, project_folder),
                series_uid=candidate.series_uid,
                kind=candidate.kind,
                modality=candidate.modality,
                size_xyz=candidate.size_xyz,
                description=candidate.description,
            )
        )
    return result


# folders -------------------------------------------------------------------------------


def _excluded(relative: str, name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(name, pattern) for pattern in patterns)


def _list_files(root: Path, project_folder: Path, exclude: list[str], reporter: ProgressReporter) -> list[str]:
    skip_folder = os.path.realpath(project_folder)
    files = []
    visited: set[str] = set()
    for folder, dirs, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in visited:  # a symbolic link loop, or a folder linked twice
            dirs[:] = []
            continue
        visited.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and os.path.realpath(os.path.join(folder, d)) != skip_folder)
        for name in sorted(names):
            if name.startswith("."):
                continue
            path = os.path.join(folder, name)
            relative = Path(os.path.relpath(path, root)).as_posix()
            if exclude and _excluded(relative, name, exclude):
                continue
            files.append(path)
        reporter.check_cancel("indexing cancelled; nothing was written")
        reporter.report(len(files), 0, f"listing files: {len(files)} found")
    return files


def _scan_folder(
    root: Path, project_folder: Path, exclude: list[str], reporter: ProgressReporter
) -> tuple[list[_Candidate], list[tuple[str, str]], int]:
    files = _list_files(root, project_folder, exclude, reporter)
    candidates: list[_Candidate] = []
    unreadable: list[tuple[str, str]] = []
    series: dict[tuple[str, str], _Series] = {}
    ignored = 0
    for number, path in enumerate(files, start=1):
        reporter.check_cancel("indexing cancelled; nothing was written")
        lowered = path.lower()
        if has_itk_suffix(lowered):
            candidate, reason = _itk_candidate(path, _id_hint(path, root, strip_suffix=True))
            if candidate is not None:
                candidates.append(candidate)
            else:
                unreadable.append((path, reason))
        elif lowered.endswith(SKIPPED_SUFFIXES + PICTURE_SUFFIXES):
            ignored += 1
        else:
            header, reason = _dicom_header(path)
            if header is None:
                if reason is not None and lowered.endswith(".dcm"):
                    unreadable.append((path, reason))
                else:
                    ignored += 1
            else:
                _add_to_series(series, path, header)
        reporter.report(number, len(files), f"reading headers: {number}/{len(files)} files, {len(candidates) + len(series)} cases")
    by_folder: dict[str, list[_Series]] = {}
    for group in series.values():
        folder = os.path.commonpath([os.path.dirname(f) for f in group.files])
        by_folder.setdefault(folder, []).append(group)
    for folder, groups in by_folder.items():
        base_hint = _id_hint(folder, root, strip_suffix=False)
        for position, group in enumerate(groups, start=1):
            hint = base_hint
            if len(groups) > 1:
                hint = f"{base_hint}_s{group.number or position}"
            candidates.append(_series_candidate(folder, hint, group))
    candidates.sort(key=lambda candidate: (candidate.path, candidate.series_uid or ""))
    return candidates, unreadable, ignored


def _id_hint(path: str, root: Path, strip_suffix: bool) -> str:
    """The path relative to the scanned root, as the wish for a case id."""
    relative = os.path.relpath(path, root)
    if relative == "." or relative.startswith(".."):
        relative = os.path.basename(os.path.abspath(path))
    if strip_suffix:
        lowered = relative.lower()
        for suffix in (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd"):
            if lowered.endswith(suffix):
                relative = relative[: -len(suffix)]
                break
    return relative


def _dicom_header(path: str) -> tuple[pydicom.Dataset | None, str | None]:
    """(image header, None), or (None, why not) — the reason None for files that are just not DICOM."""
    try:
        header = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=DICOM_HEADER_TAGS)
    except InvalidDicomError:
        return None, "not a DICOM file (no DICM marker)"
    except (OSError, ValueError, EOFError, TypeError, AttributeError, KeyError) as error:
        return None, f"not a readable DICOM file ({type(error).__name__}: {error})"
    reason = non_image_reason(header)
    if reason is not None:
        return None, None
    return header, None


def _add_to_series(series: dict[tuple[str, str], _Series], path: str, header: pydicom.Dataset) -> None:
    uid = str(header.get("SeriesInstanceUID", "") or "")
    key = (uid, "") if uid else ("", os.path.dirname(path))  # no UID: one series per folder
    group = series.get(key)
    if group is None:
        group = series[key] = _Series(
            uid=uid or None,
            modality=str(header.get("Modality", "") or ""),
            description=str(header.get("SeriesDescription", "") or ""),
            number=str(header.get("SeriesNumber", "") or ""),
            columns=int(header.get("Columns", 0) or 0),
            rows=int(header.get("Rows", 0) or 0),
        )
    group.files.append(path)
    try:
        group.slices += max(int(header.get("NumberOfFrames", 1) or 1), 1)
    except (TypeError, ValueError):
        group.slices += 1


def _series_candidate(folder: str, hint: str, group: _Series) -> _Candidate:
    return _Candidate(
        path=folder,
        id_hint=hint,
        series_uid=group.uid,
        kind="dicom",
        modality=group.modality,
        size_xyz=(group.columns, group.rows, group.slices),
        description=group.description,
    )


def _itk_candidate(path: str, hint: str) -> tuple[_Candidate | None, str]:
    """A case from a NIfTI/NRRD/MHA header, or (None, reason)."""
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    io_name = next((name for suffix, name in _ITK_IO_BY_SUFFIX if str(path).lower().endswith(suffix)), None)
    if io_name is not None:
        with contextlib.suppress(RuntimeError):  # not built into this SimpleITK: let it probe
            reader.SetImageIO(io_name)
    try:
        reader.ReadImageInformation()
    except RuntimeError as error:
        lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
        return None, f"cannot read the image header ({(lines[-1] if lines else 'unknown error')[:200]})"
    dimension, size = reader.GetDimension(), tuple(int(v) for v in reader.GetSize())
    if dimension == 4 and size[3] != 1:
        return None, f"a 4D image ({size[3]} volumes); a case must be one 3D volume"
    if dimension not in (2, 3, 4):
        return None, f"a {dimension}D image; a case must be one 2D or 3D image"
    if reader.GetNumberOfComponents() not in (1, 3):
        return None, f"{reader.GetNumberOfComponents()} components per voxel (grey or RGB only)"
    size_xyz = (size[0], size[1], size[2] if dimension >= 3 else 1)
    return _Candidate(path, hint, None, "file", size_xyz=size_xyz, description=os.path.basename(path)), ""


# manifests -----------------------------------------------------------------------------


def _manifest_rows(path: Path) -> list[dict]:
    try:
        if path.name.lower().endswith(".json"):
            import json

            data = json.loads(path.read_text(encoding="utf-8"))
            rows = data.get("cases") if isinstance(data, dict) else data
            if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
                raise ProjectError('a JSON manifest is a list of {"path", "case_id"?, "series_uid"?} objects', path)
        else:
            with open(path, newline="", encoding="utf-8-sig") as handle:
                rows = list(csv.DictReader(handle))
    except OSError as error:
        raise ProjectError(f"cannot read the manifest ({error.strerror})", path) from error
    except (ValueError, csv.Error) as error:
        raise ProjectError(f"the manifest cannot be parsed ({error})", path) from error
    normalised = []
    for row in rows:
        normalised.append({str(k).strip().lower(): ("" if v is None else str(v).strip()) for k, v in row.items() if k is not None})
    if normalised and not any(key in normalised[0] for key in ("path", "image")):
        found = ", ".join(normalised[0]) or "none"
        raise ProjectError(f"the manifest has no 'path' (or 'image') column (columns: {found})", path)
    return normalised


def _read_manifest(path: Path, reporter: ProgressReporter) -> tuple[list[_Candidate], list[tuple[str, str]], int]:
    rows = _manifest_rows(path)
    base = path.parent
    candidates, unreadable = [], []
    for number, row in enumerate(rows, start=1):
        reporter.check_cancel("indexing cancelled; nothing was written")
        text = row.get("path") or row.get("image") or ""
        where = f"manifest row {number}"
        if not text:
            unreadable.append((str(path), f"{where} has no path"))
            continue
        image = Path(text) if Path(text).is_absolute() else base / text
        series_uid = row.get("series_uid") or row.get("series") or None
        candidate, reason = _candidate_for_path(image, series_uid, base)
        if candidate is None:
            unreadable.append((str(image), f"{reason} ({where})"))
        else:
            given = row.get("case_id") or row.get("id") or row.get("case") or ""
            if given:
                candidate.id_hint, candidate.given_id = given, True
            candidates.append(candidate)
        reporter.report(number, len(rows), f"reading headers: {number}/{len(rows)} manifest rows")
    return candidates, unreadable, 0


def _candidate_for_path(image: Path, series_uid: str | None, base: Path) -> tuple[_Candidate | None, str]:
    """One case from a path named by the user (a manifest row, or a single file)."""
    hint = _id_hint(str(image), base, strip_suffix=not image.is_dir())
    if not image.exists():
        return None, "no such file or folder"
    if image.is_dir():
        return _folder_series_candidate(image, series_uid, hint)
    if has_itk_suffix(image.name.lower()):
        return _itk_candidate(str(image), hint)
    if has_picture_suffix(image):
        return _picture_candidate(image, hint)
    header, reason = _dicom_header(str(image))
    if header is None:
        return None, reason or "a DICOM object without an image (SEG, RTSTRUCT, DICOMDIR...)"
    series: dict[tuple[str, str], _Series] = {}
    _add_to_series(series, str(image), header)
    group = next(iter(series.values()))
    if series_uid and group.uid != series_uid:
        return None, f"the file belongs to series {group.uid}, not {series_uid}"
    candidate = _series_candidate(str(image), hint, group)
    return candidate, ""


def _picture_candidate(image: Path, hint: str) -> tuple[_Candidate | None, str]:
    """A 2D picture named in a manifest (folder scans leave pictures out): header only."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(image) as picture:
            columns, rows = picture.size
    except (OSError, UnidentifiedImageError) as error:
        return None, f"not a readable picture ({error})"
    return _Candidate(str(image), hint, None, "file", size_xyz=(columns, rows, 1), description=image.name), ""


def _folder_series_candidate(folder: Path, series_uid: str | None, hint: str) -> tuple[_Candidate | None, str]:
    series: dict[tuple[str, str], _Series] = {}
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(root, name)
            if path.lower().endswith(SKIPPED_SUFFIXES + PICTURE_SUFFIXES) or has_itk_suffix(path.lower()):
                continue
            header, _reason = _dicom_header(path)
            if header is not None:
                _add_to_series(series, path, header)
    if not series:
        return None, "no DICOM image series in this folder"
    if series_uid:
        matching = [group for group in series.values() if group.uid == series_uid]
        if not matching:
            found = ", ".join(group.uid or "(no UID)" for group in series.values())
            return None, f"no series with SeriesInstanceUID {series_uid} in this folder (found: {found})"
        return _series_candidate(str(folder), hint, matching[0]), ""
    if len(series) > 1:
        return None, f"the folder holds {len(series)} image series; give the series_uid of one"
    return _series_candidate(str(folder), hint, next(iter(series.values()))), ""
