"""report.csv (one line per manifest row) and the label table, written atomically."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from medsam_gui.cluster.work import RowResult
from medsam_gui.core.labelmap import LabelTable
from medsam_gui.io.atomic import atomic_write_text

REPORT_COLUMNS = ("row", "image", "label", "status", "voxels", "predicted_iou", "seconds", "error", "resumed")
REPORT_NAME = "report.csv"
LABELS_NAME = "labels.csv"


def write_report(output_dir: Path, results: list[RowResult]) -> Path:
    """``report.csv``: row, image, label, status (ok / failed / pending), voxels, predicted
    IoU, seconds, error; ``resumed`` is 1 for rows done by an earlier run."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    for result in sorted(results, key=lambda item: item.row_number):
        writer.writerow([
            result.row_number, result.image, result.label, result.status,
            "" if result.voxels is None else result.voxels,
            "" if result.predicted_iou is None else f"{result.predicted_iou:.4f}",
            "" if result.seconds is None else f"{result.seconds:.3f}",
            result.error, int(result.resumed),
        ])
    return atomic_write_text(output_dir / REPORT_NAME, buffer.getvalue())


def write_label_table(output_dir: Path, table: LabelTable) -> Path:
    """``labels.csv``: value, name, red, green, blue of every label of the manifest
    (left alone when it already says that)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("value", "name", "red", "green", "blue"))
    for label in table:
        writer.writerow((label.value, label.name, *label.colour))
    path = output_dir / LABELS_NAME
    if path.is_file() and path.read_text(encoding="utf-8") == buffer.getvalue():
        return path  # unchanged: a resumed run rewrites nothing
    return atomic_write_text(path, buffer.getvalue())
