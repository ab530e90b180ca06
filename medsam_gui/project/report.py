"""The export report: one CSV row per case and label, for checking a data set at a glance.

Columns: ``case, label, value, voxels, volume_ml, slices, status, annotator,
active_seconds`` — ``voxels`` counted on the scan's grid, ``volume_ml`` from the voxel
spacing, ``slices`` the number of axial (display z) slices the label appears on,
``annotator`` the last editor. Every schema label gets a row, so a missing organ shows
as 0 voxels.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medsam_gui.core.volume import Volume
from medsam_gui.io.atomic import atomic_write_text
from medsam_gui.project.records import CaseRecord
from medsam_gui.project.schema import LabelSchema

REPORT_COLUMNS = ("case", "label", "value", "voxels", "volume_ml", "slices", "status", "annotator", "active_seconds")


@dataclass(frozen=True)
class LabelStatistics:
    """One label in one case: voxel count, volume (mL) and number of slices it appears on."""

    value: int
    name: str
    voxels: int
    volume_ml: float
    slices: int


def label_statistics(labels_zyx: np.ndarray, volume: Volume, schema: LabelSchema) -> list[LabelStatistics]:
    """Statistics for every schema label of ``labels_zyx`` (uint8 ``[z, y, x]`` on ``volume``'s grid)."""
    labels = np.asarray(labels_zyx, dtype=np.uint8)
    counts = np.bincount(labels.reshape(-1), minlength=256)
    voxel_ml = float(np.prod(volume.spacing_xyz)) / 1000.0
    per_slice = np.stack([np.bincount(plane.reshape(-1), minlength=256) for plane in labels]) if labels.shape[0] else None
    statistics = []
    for label in schema:
        voxels = int(counts[label.value])
        slices = int(np.count_nonzero(per_slice[:, label.value])) if per_slice is not None and voxels else 0
        statistics.append(LabelStatistics(label.value, label.name, voxels, round(voxels * voxel_ml, 4), slices))
    return statistics


def report_rows(case_id: str, record: CaseRecord, statistics: list[LabelStatistics]) -> list[dict]:
    """The report rows (dicts keyed by ``REPORT_COLUMNS``) of one case."""
    return [
        {
            "case": case_id,
            "label": item.name,
            "value": item.value,
            "voxels": item.voxels,
            "volume_ml": f"{item.volume_ml:.4f}",
            "slices": item.slices,
            "status": record.status.text,
            "annotator": record.last_editor or "",
            "active_seconds": f"{record.active_seconds:.1f}",
        }
        for item in statistics
    ]


def write_report_csv(rows: list[dict], path: str | Path) -> Path:
    """Write the report atomically; returns ``path``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=REPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write_text(path, buffer.getvalue())
