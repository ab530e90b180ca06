"""The batch manifest: one row per box prompt, grouped into one job per image.

CSV with the header ``image,label,slice,x0,y0,x1,y1`` (optional ``z0,z1``), or JSON
lines with the same keys. ``image`` is a scan file or DICOM folder, relative to the
manifest's folder; ``label`` a name or a value 1..255; ``slice`` a 0-based slice
index; the box corners are voxel indices of that slice of the volume ``convert``
writes (x = column, y = row, inclusive). A row with ``z0,z1`` and no ``slice`` is a
3D box: its middle slice is segmented and the mask carried through z0..z1.

A bad row (a number that is not one, no slice) is kept with its reason and reported;
only a manifest that cannot be read at all raises MedsamGuiError.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.core.labelmap import MAX_LABEL_VALUE, LabelTable, default_label

REQUIRED_COLUMNS = ("image", "label", "x0", "y0", "x1", "y1")
OPTIONAL_COLUMNS = ("slice", "z0", "z1")
SCAN_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd", ".dcm", ".png", ".jpg", ".jpeg", ".tif", ".tiff")


@dataclass(frozen=True)
class PromptRow:
    """One manifest row.

    row_number: 1-based data row (the header is not counted; JSON lines: 1-based line).
    image_path: the absolute path of the scan; image_text: as written in the manifest.
    slice_index: the slice of a 2D box; None for a 3D box (z_range set) or when absent.
    box_xyxy: (x0, y0, x1, y1) inclusive voxel corners; z_range: (z0, z1) inclusive.
    label_value / label_name: the labelmap value the mask is painted with, and its name.
    error: why the row cannot run (None for a good row).
    """

    row_number: int
    image_text: str
    image_path: str
    label_text: str
    slice_index: int | None = None
    box_xyxy: tuple[float, float, float, float] | None = None
    z_range: tuple[int, int] | None = None
    label_value: int = 0
    label_name: str = ""
    error: str | None = None

    def signature(self) -> dict:
        """What of the row changes the result (for the resume fingerprint)."""
        return {"label": [self.label_value, self.label_name], "slice": self.slice_index,
                "box": list(self.box_xyxy) if self.box_xyxy else None,
                "z": list(self.z_range) if self.z_range else None, "error": self.error}


@dataclass(frozen=True)
class ImageJob:
    """The rows of one image. ``output_stem``: the output name (a relative path without suffix)."""

    image_path: str
    image_text: str
    output_stem: str
    rows: tuple[PromptRow, ...] = field(default_factory=tuple)
    all_slices: bool = False  # --embeddings-only over a folder: encode every slice

    def label_table(self) -> LabelTable:
        table = LabelTable()
        for row in self.rows:
            if row.error is None and row.label_value not in table:
                table.add(row.label_name, default_label(row.label_value)[1], row.label_value)
        return table


@dataclass(frozen=True)
class Manifest:
    rows: tuple[PromptRow, ...]
    jobs: tuple[ImageJob, ...]
    labels: LabelTable


def read_manifest(path: str | Path) -> Manifest:
    """Parse a CSV or JSON-lines manifest (see the module docstring); rows grouped per image.

    Raises MedsamGuiError when the file is missing, empty, or lacks required columns.
    """
    path = Path(path)
    if not path.is_file():
        raise MedsamGuiError("no such manifest file", path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise MedsamGuiError(f"cannot read the manifest ({error})", path) from error
    records = _json_lines(text, path) if _looks_like_json_lines(path, text) else _csv_records(text, path)
    if not records:
        raise MedsamGuiError("the manifest has no rows", path)
    base = path.resolve().parent
    rows = _assign_labels([_row(number, record, base) for number, record in records])
    return Manifest(tuple(rows), tuple(_group(rows, base)), _table_of(rows))


def folder_jobs(folder: str | Path) -> list[ImageJob]:
    """One job per scan in ``folder`` (for ``--embeddings-only``): each file with a scan
    suffix and each sub-folder (a DICOM series); a folder holding only DICOM files without
    a suffix is one series itself. Every slice of each is wanted."""
    folder = Path(folder).resolve()
    entries = sorted(folder.iterdir())
    scans = [entry for entry in entries if entry.is_dir() or entry.name.lower().endswith(SCAN_SUFFIXES)]
    if not scans and any(entry.is_file() for entry in entries):
        scans = [folder]
    if not scans:
        raise MedsamGuiError("no scans found in the folder", folder)
    stems = _output_stems([str(scan) for scan in scans], folder)
    return [ImageJob(str(scan), scan.name if scan != folder else ".", stems[str(scan)], (), all_slices=True)
            for scan in scans]


def _looks_like_json_lines(path: Path, text: str) -> bool:
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        return True
    return text.lstrip().startswith("{")


def _csv_records(text: str, path: Path) -> list[tuple[int, dict]]:
    reader = csv.DictReader(text.splitlines())
    columns = [name.strip().lower() for name in reader.fieldnames or []]
    _check_columns(columns, path)
    records = []
    for number, raw in enumerate(reader, start=1):
        record = {key.strip().lower(): (value or "").strip() for key, value in raw.items() if key is not None}
        if any(record.values()):
            records.append((number, record))
    return records


def _json_lines(text: str, path: Path) -> list[tuple[int, dict]]:
    records, seen = [], set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            records.append((number, {"__error__": f"not JSON ({error.msg})"}))
            continue
        if not isinstance(value, dict):
            records.append((number, {"__error__": "a line must be a JSON object"}))
            continue
        record = {str(key).strip().lower(): "" if item is None else str(item).strip() for key, item in value.items()}
        seen.update(record)
        records.append((number, record))
    if records and not any("__error__" not in record for _, record in records):
        raise MedsamGuiError("no line of the manifest is a JSON object", path)
    _check_columns(sorted(seen), path)
    return records


def _check_columns(columns, path: Path) -> None:
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise MedsamGuiError(
            f"the manifest lacks the column(s) {', '.join(missing)} "
            f"(header: image,label,slice,x0,y0,x1,y1 and optionally z0,z1)", path)
    if "slice" not in columns and not {"z0", "z1"} <= set(columns):
        raise MedsamGuiError("the manifest needs a slice column, or z0 and z1 for 3D boxes", path)


def _row(number: int, record: dict, base: Path) -> PromptRow:
    image_text = record.get("image", "")
    image_path = str((base / image_text).resolve()) if image_text else ""
    label_text = record.get("label", "")
    common = dict(row_number=number, image_text=image_text, image_path=image_path, label_text=label_text)
    if "__error__" in record:
        return PromptRow(**common, error=record["__error__"])
    if not image_text:
        return PromptRow(**common, error="no image given")
    if not label_text:
        return PromptRow(**common, error="no label given")
    try:
        box = tuple(_number(record.get(name, ""), name) for name in ("x0", "y0", "x1", "y1"))
        slice_text, z0_text, z1_text = (record.get(name, "") for name in ("slice", "z0", "z1"))
        z_range = None
        if z0_text or z1_text:
            z0, z1 = _whole(z0_text, "z0"), _whole(z1_text, "z1")
            if z0 > z1:
                raise ValueError(f"z0 {z0} is above z1 {z1}")
            z_range = (z0, z1)
        slice_index = _whole(slice_text, "slice") if slice_text else None
        if slice_index is not None and z_range is not None and not z_range[0] <= slice_index <= z_range[1]:
            raise ValueError(f"slice {slice_index} is not within z0..z1 {z_range[0]}..{z_range[1]}")
    except ValueError as error:
        return PromptRow(**common, error=str(error))
    return PromptRow(**common, slice_index=slice_index, box_xyxy=box, z_range=z_range)


def _number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} is not a number ({text!r})") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} is not a finite number ({text!r})")
    return value


def _whole(text: str, name: str) -> int:
    value = _number(text, name)
    if value != int(value):
        raise ValueError(f"{name} must be a whole number ({text!r})")
    return int(value)


def _assign_labels(rows: list[PromptRow]) -> list[PromptRow]:
    """Label values: a number is that value; names get the lowest free values, in order of
    first appearance, the same value for the same name throughout the manifest."""
    from dataclasses import replace

    numeric: set[int] = set()
    for row in rows:
        if row.error is None and row.label_text.isdigit():
            numeric.add(int(row.label_text))
    by_name: dict[str, int] = {}
    free = (value for value in range(1, MAX_LABEL_VALUE + 1) if value not in numeric)
    assigned = []
    for row in rows:
        if row.error is not None:
            assigned.append(row)
            continue
        if row.label_text.isdigit():
            value = int(row.label_text)
            if not 1 <= value <= MAX_LABEL_VALUE:
                assigned.append(replace(row, error=f"label value {value} is outside 1..{MAX_LABEL_VALUE}"))
                continue
            assigned.append(replace(row, label_value=value, label_name=default_label(value)[0]))
            continue
        if row.label_text not in by_name:
            value = next(free, None)
            if value is None:
                assigned.append(replace(row, error=f"more than {MAX_LABEL_VALUE} labels"))
                continue
            by_name[row.label_text] = value
        assigned.append(replace(row, label_value=by_name[row.label_text], label_name=row.label_text))
    return assigned


def _table_of(rows: list[PromptRow]) -> LabelTable:
    table = LabelTable()
    for row in sorted((row for row in rows if row.error is None), key=lambda row: row.label_value):
        if row.label_value not in table:
            table.add(row.label_name, default_label(row.label_value)[1], row.label_value)
    return table


def _group(rows: list[PromptRow], base: Path) -> list[ImageJob]:
    by_image: OrderedDict[str, list[PromptRow]] = OrderedDict()
    for row in rows:
        if row.image_path:
            by_image.setdefault(row.image_path, []).append(row)
    stems = _output_stems(list(by_image), base)
    return [ImageJob(path, image_rows[0].image_text, stems[path], tuple(image_rows))
            for path, image_rows in by_image.items()]


def _strip_suffix(name: str) -> str:
    lower = name.lower()
    for suffix in SCAN_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _output_stems(image_paths: list[str], base: Path) -> dict[str, str]:
    """Output name per image: its path relative to ``base`` without the scan suffix (an
    image outside ``base``: its name and a short hash); names two images share get a hash."""
    def short_hash(path: str) -> str:
        return hashlib.sha256(path.encode()).hexdigest()[:8]

    stems = {}
    for path in image_paths:
        resolved = Path(path)
        try:
            relative = resolved.relative_to(base)
            stem = _strip_suffix(relative.as_posix()) if relative.parts else base.name
        except ValueError:
            stem = f"{_strip_suffix(resolved.name)}-{short_hash(path)}"
        stems[path] = stem
    counts: dict[str, int] = {}
    for stem in stems.values():
        counts[stem.lower()] = counts.get(stem.lower(), 0) + 1
    return {path: stem if counts[stem.lower()] == 1 else f"{stem}-{short_hash(path)}" for path, stem in stems.items()}
