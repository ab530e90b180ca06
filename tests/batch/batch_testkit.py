"""Helpers for the batch tests: manifests over the shared real data, built from the
organ labels' tight boxes; Dice; report.csv."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

# TotalSegmentator label values in totalseg/example_seg.nii.gz
LIVER, SPLEEN, KIDNEY_LEFT = 5, 1, 3


def tight_box(mask_yx: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) inclusive corners of a non-empty bool ``[y, x]`` mask."""
    rows = np.flatnonzero(mask_yx.any(axis=1))
    columns = np.flatnonzero(mask_yx.any(axis=0))
    return int(columns[0]), int(rows[0]), int(columns[-1]), int(rows[-1])


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return float(2 * (a & b).sum() / total) if total else 1.0


def write_manifest(path: Path, rows: list[dict]) -> Path:
    columns = ["image", "label", "slice", "x0", "y0", "x1", "y1", "z0", "z1"]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({name: row.get(name, "") for name in columns})
    return path


def read_report(output_dir: Path) -> list[dict]:
    with (output_dir / "report.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def organ_row(image: str, label: str, mask_yx: np.ndarray, slice_index: int | None = None, z_range=None) -> dict:
    x0, y0, x1, y1 = tight_box(mask_yx)
    row = {"image": image, "label": label, "x0": x0, "y0": y0, "x1": x1, "y1": y1}
    if slice_index is not None:
        row["slice"] = slice_index
    if z_range is not None:
        row["z0"], row["z1"] = z_range
    return row
