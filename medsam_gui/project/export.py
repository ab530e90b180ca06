"""Export a project's labelled cases as a data set, with a CSV report.

Formats (``EXPORT_FORMATS``):

- ``nnunet``: nnU-Net v2 raw data set: ``imagesTr/<case>_0000.nii.gz``,
  ``labelsTr/<case>.nii.gz`` and ``dataset.json`` (``channel_names``, ``labels`` with
  ``background: 0``, ``numTraining``, ``file_ending: .nii.gz``). Image and labels are
  written on the same grid, the voxel grid of the scan's own file, so labelsTr overlays
  imagesTr and the source scan. nnU-Net wants consecutive label values; a schema with
  gaps (1, 2, 5) is renumbered (1, 2, 3) and ``dataset.json`` gives the new values.
- ``nifti`` / ``nrrd``: ``<case>.nii.gz`` / ``<case>.nrrd`` labelmaps on the source file's
  grid, with Slicer/ITK-SNAP colour sidecars.
- ``seg``: ``<case>.dcm`` DICOM SEG referencing the source series, segments coded with
  the schema's SNOMED CT codes; cases not read from DICOM are skipped with the reason.

Every file is written through ``io.atomic`` (temporary file, then rename): a cancelled
or interrupted export leaves complete files only. ``report.csv`` (see
``project.report``) and ``dataset.json`` are written last, so their presence means the
export finished. A case that cannot be exported (scan unreadable, labels missing) is
skipped with the reason and the others go on.
"""

from __future__ import annotations

import collections
import os
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.core.volume import Volume
from medsam_gui.io.atomic import atomic_output, atomic_write_text
from medsam_gui.project.errors import NothingToExport, ProjectError
from medsam_gui.project.layout import json_text
from medsam_gui.project.progress import ProgressCallback, ProgressReporter
from medsam_gui.project.records import CaseRecord, CaseStatus
from medsam_gui.project.report import label_statistics, report_rows, write_report_csv
from medsam_gui.project.schema import LabelSchema

if TYPE_CHECKING:
    from medsam_gui.project.project import Project

EXPORT_FORMATS = ("nnunet", "nifti", "nrrd", "seg")
REPORT_FILE = "report.csv"
NNUNET_FILE_ENDING = ".nii.gz"


@dataclass
class ExportResult:
    """What an export did.

    Attributes:
        output: the output folder.
        format: one of ``EXPORT_FORMATS``.
        exported: case ids written, in project order.
        skipped: (case id, reason) for selected cases that could not be written.
        written: every file written (sidecars, report and dataset.json included).
        report_path: the CSV report.
        label_values: label name -> value in the written files (nnU-Net may renumber).
        warnings: sentences for the user (mixed modalities, stale files in the output...).
    """

    output: Path
    format: str
    exported: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    report_path: Path | None = None
    label_values: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def select_cases(
    project: "Project", statuses: list[CaseStatus | str] | None
) -> tuple[list[tuple[str, CaseRecord]], list[tuple[str, str]]]:
    """(case id, record) of the cases to export, and (case id, reason) of those left out.

    Without ``statuses``: every case with saved labels; with: those of the statuses given
    that have saved labels (the others matching are left out, with the reason).
    """
    wanted = {CaseStatus.parse(status) for status in statuses} if statuses else None
    selected, left_out = [], []
    for record in project.records():
        if record.problem is not None:
            left_out.append((record.case_id, record.problem))
            continue
        if wanted is not None and record.status not in wanted:
            continue
        if not record.labels_saved:
            if wanted is not None:
                left_out.append((record.case_id, f"no labels saved (status {record.status.text})"))
            continue
        selected.append((record.case_id, record))
    return selected, left_out


def export_project(
    project: "Project",
    output: str | Path,
    format: str,
    statuses: list[CaseStatus | str] | None = None,
    *,
    channel_name: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> ExportResult:
    """Export the selected cases of ``project`` into the folder ``output`` (created).

    Args:
        project: the open project.
        output: the output folder.
        format: 'nnunet', 'nifti', 'nrrd' or 'seg'.
        statuses: export only cases with these statuses (default: every case with labels).
        channel_name: nnU-Net channel name; default: the project setting, else the most
            common modality of the exported scans.
        progress, cancel: see ``project.progress``; cancelling stops before the next case.

    Raises:
        NothingToExport: no case matches (the text says what was asked for).
        OperationCancelled: ``cancel`` was set (files written so far are complete).
        ProjectError: unknown format, or the output folder cannot be written.
    """
    format = str(format).lower()
    if format not in EXPORT_FORMATS:
        raise ProjectError(f"unknown export format '{format}' (use one of {', '.join(EXPORT_FORMATS)})")
    selected, left_out = select_cases(project, statuses)
    if not selected:
        asked = "with status " + ", ".join(CaseStatus.parse(s).text for s in statuses) if statuses else ""
        raise NothingToExport(
            f"nothing to export: no case {asked + ' ' if asked else ''}has saved labels in project '{project.name}'"
        )
    output = Path(output)
    result = ExportResult(output=output, format=format, skipped=list(left_out))
    value_map = _export_values(project.schema, format)
    result.label_values = {label.name: value_map[label.value] for label in project.schema}
    try:
        output.mkdir(parents=True, exist_ok=True)
        if format == "nnunet":
            (output / "imagesTr").mkdir(exist_ok=True)
            (output / "labelsTr").mkdir(exist_ok=True)
    except OSError as error:
        raise ProjectError(f"cannot create the output folder ({error.strerror})", output) from error
    reporter = ProgressReporter(progress, cancel)
    rows: list[dict] = []
    modalities: collections.Counter = collections.Counter()
    total = len(selected)
    for number, (case_id, record) in enumerate(selected, start=1):
        reporter.check_cancel(
            f"export cancelled after {len(result.exported)} of {total} cases; "
            "the files written are complete, but the report and dataset.json were not written"
        )
        reporter.report(number - 1, total, f"exporting {case_id} ({number}/{total})", force=True)
        try:
            volume = project.open_volume(case_id)
            labels, _view = project.load_case_labels(case_id, volume)
            if labels is None:
                raise ProjectError("no saved labels", project.labels_path(case_id))
            written = _write_case(project, case_id, volume, labels, format, output, value_map, result.warnings)
        except _Skip as skip:
            result.skipped.append((case_id, skip.reason))
            continue
        except MedsamGuiError as error:
            result.skipped.append((case_id, str(error)))
            continue
        result.exported.append(case_id)
        result.written.extend(written)
        modalities[volume.modality or "OT"] += 1
        statistics = label_statistics(labels, volume, project.schema)
        for row in report_rows(case_id, record, statistics):
            row["value"] = value_map[int(row["value"])]
            rows.append(row)
    reporter.report(total, total, f"exported {len(result.exported)} of {total} cases")
    result.report_path = write_report_csv(rows, output / REPORT_FILE)
    result.written.append(result.report_path)
    if format == "nnunet":
        result.written.append(_write_dataset_json(project, result, modalities, channel_name))
        result.warnings.extend(_stale_nnunet_files(output, result.exported))
    return result


class _Skip(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _export_values(schema: LabelSchema, format: str) -> dict[int, int]:
    """Schema value -> value in the exported files (consecutive for nnU-Net)."""
    if format == "nnunet":
        return {label.value: position for position, label in enumerate(schema, start=1)}
    return {label.value: label.value for label in schema}


def _write_case(
    project: "Project",
    case_id: str,
    volume: Volume,
    labels: np.ndarray,
    format: str,
    output: Path,
    value_map: dict[int, int],
    warnings_out: list[str],
) -> list[Path]:
    from medsam_gui.io.color_table import write_sidecars
    from medsam_gui.io.itk_bridge import write_image
    from medsam_gui.io.labelmap_export import write_labelmap

    table = project.schema.label_table()
    if format == "nnunet":
        if volume.is_rgb:
            raise _Skip("an RGB image: nnU-Net wants one file per channel; export NIfTI labelmaps instead")
        lookup = np.zeros(256, dtype=np.uint8)
        for source_value, exported_value in value_map.items():
            lookup[source_value] = exported_value
        image_path = output / "imagesTr" / f"{case_id}_0000{NNUNET_FILE_ENDING}"
        labels_path = output / "labelsTr" / f"{case_id}{NNUNET_FILE_ENDING}"
        with atomic_output(image_path) as temporary:
            write_image(volume.voxels, volume, temporary, source_grid=True)
        with atomic_output(labels_path) as temporary:
            write_image(lookup[labels], volume, temporary, source_grid=True)
        return [image_path, labels_path]
    if format in ("nifti", "nrrd"):
        path = output / f"{case_id}{'.nii.gz' if format == 'nifti' else '.nrrd'}"
        with atomic_output(path) as temporary:
            write_labelmap(labels, volume, table, temporary, source_grid=True, sidecars=False)
        return [path, *write_sidecars(path, table)]
    # DICOM SEG
    from medsam_gui.io.dicom_seg import write_dicom_seg

    if volume.dicom is None:
        raise _Skip("not a DICOM case: DICOM SEG needs a scan read from DICOM (export nifti or nnunet instead)")
    if not np.any(labels):
        raise _Skip("no labelled voxels: a DICOM SEG needs at least one")
    path = output / f"{case_id}.dcm"
    with atomic_output(path) as temporary, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_dicom_seg(labels, volume, table, temporary)
        apply_schema_codes(temporary, project.schema)
    # medsam-gui's own sentences about the file (e.g. invented UIDs) reach the user;
    # the libraries' remarks on the source headers do not
    warnings_out.extend(
        f"{case_id}: {warning.message}" for warning in caught if "medsam_gui" in str(warning.filename)
    )
    return [path]


def apply_schema_codes(seg_path: Path, schema: LabelSchema) -> int:
    """Put the schema's SNOMED codes into the segments of a DICOM SEG file; returns segments changed.

    Segments are matched to schema labels by their SegmentLabel (the label name);
    labels without codes keep the codes derived from their names.
    """
    import pydicom
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    def code_item(code) -> Dataset:
        item = Dataset()
        item.CodeValue = code.value
        item.CodingSchemeDesignator = code.scheme
        item.CodeMeaning = code.meaning
        return item

    if not any(label.category or label.type for label in schema):
        return 0
    dataset = pydicom.dcmread(seg_path)
    changed = 0
    for segment in dataset.SegmentSequence:
        label = schema.find(str(segment.get("SegmentLabel", "")))
        if label is None or not (label.category or label.type):
            continue
        if label.category is not None:
            segment.SegmentedPropertyCategoryCodeSequence = Sequence([code_item(label.category)])
        if label.type is not None:
            segment.SegmentedPropertyTypeCodeSequence = Sequence([code_item(label.type)])
        changed += 1
    if changed:
        dataset.save_as(seg_path)
    return changed


def _write_dataset_json(
    project: "Project", result: ExportResult, modalities: collections.Counter, channel_name: str | None
) -> Path:
    name = channel_name or project.settings.channel_name
    if not name:
        name = modalities.most_common(1)[0][0] if modalities else "CT"
        if len(modalities) > 1:
            found = ", ".join(f"{modality} ({count})" for modality, count in modalities.most_common())
            result.warnings.append(
                f"the exported scans have several modalities ({found}); channel_names says '{name}'"
            )
    labels = {"background": 0}
    labels.update(result.label_values)
    data = {
        "channel_names": {"0": name},
        "labels": labels,
        "numTraining": len(result.exported),
        "file_ending": NNUNET_FILE_ENDING,
        "name": project.name,
        "description": f"exported by medsam-gui from the annotation project '{project.name}'",
        "overwrite_image_reader_writer": "SimpleITKIO",
    }
    path = result.output / "dataset.json"
    atomic_write_text(path, json_text(data))
    return path


def _stale_nnunet_files(output: Path, exported: list[str]) -> list[str]:
    """Warnings for files in imagesTr/labelsTr of cases not in this export (an earlier export's)."""
    keep = set(exported)
    stale = []
    for folder, suffix in (("imagesTr", f"_0000{NNUNET_FILE_ENDING}"), ("labelsTr", NNUNET_FILE_ENDING)):
        for name in sorted(os.listdir(output / folder)):
            if name.startswith(".") or not name.endswith(suffix):
                continue
            if name[: -len(suffix)] not in keep:
                stale.append(f"{folder}/{name}")
    if not stale:
        return []
    listed = ", ".join(stale[:5]) + (f" and {len(stale) - 5} more" if len(stale) > 5 else "")
    return [f"the output folder holds files of cases not in this export ({listed}); nnU-Net would train on them"]

