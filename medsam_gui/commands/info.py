"""``medsam-gui info PATH [--json] [--series ID]``: describe a scan as the app holds it.

Prints size (x, y, z), spacing, origin, direction, modality, intensity range and
reading warnings (NaN voxels replaced, gantry tilt, ...); for a DICOM folder with
several series, lists the series by the identifier ``--series`` takes (the
SeriesInstanceUID, or ``no-series-uid`` for files without one).
"""

from __future__ import annotations

import json

import numpy as np

from medsam_gui.core.errors import AmbiguousSeriesError
from medsam_gui.core.volume import Volume
from medsam_gui.io.load import SeriesInfo, open_volume


def add_arguments(parser) -> None:
    parser.add_argument("path", help="a scan file or a DICOM folder")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--series", help="series to describe in a folder with several series: its SeriesInstanceUID "
                                          "as listed by info (no-series-uid for files without one)")


def describe_volume(volume: Volume) -> dict:
    """A JSON-ready description of a volume (geometry of the display grid)."""
    voxels = volume.voxels
    return {
        "path": volume.source_path,
        "description": volume.description,
        "modality": volume.modality,
        "size_xyz": list(volume.size_xyz),
        "spacing_xyz": [round(v, 6) for v in volume.spacing_xyz],
        "origin_xyz": [round(v, 6) for v in volume.origin_xyz],
        "direction": [[round(float(v), 6) for v in row] for row in volume.direction],
        "dtype": str(voxels.dtype),
        "rgb": volume.is_rgb,
        "intensity_range": [float(np.min(voxels)), float(np.max(voxels))],
        "default_window": list(volume.default_window) if volume.default_window else None,
        "reoriented_from_file": not volume.source_grid.is_identity,
        "warnings": list(volume.warnings),
    }


def describe_series(series: list[SeriesInfo]) -> list[dict]:
    return [
        {
            "series_id": info.series_id,
            "series_instance_uid": info.series_instance_uid,
            "description": info.description,
            "modality": info.modality,
            "size_xyz": list(info.size_xyz),
            "file_count": info.file_count,
            "first_file": info.first_file,
        }
        for info in series
    ]


def series_table(series: list[SeriesInfo]) -> str:
    """One line per series: its ``--series`` identifier, modality, size, file count, description."""
    lines = []
    for info in series:
        x, y, z = info.size_xyz
        lines.append(
            f"  {info.series_id}  {info.modality or '?':<3} {x}x{y}x{z}  "
            f"{info.file_count} file(s)  {info.description}"
        )
    return "\n".join(lines)


def _format_text(info: dict) -> str:
    x, y, z = info["size_xyz"]
    low, high = info["intensity_range"]
    lines = [
        f"path:            {info['path']}",
        f"description:     {info['description']}",
        f"modality:        {info['modality']}",
        f"size (x, y, z):  {x} x {y} x {z}" + (" (RGB)" if info["rgb"] else ""),
        "spacing (mm):    " + ", ".join(f"{v:g}" for v in info["spacing_xyz"]),
        "origin (mm, LPS): " + ", ".join(f"{v:g}" for v in info["origin_xyz"]),
        "direction:       " + "; ".join(" ".join(f"{v:g}" for v in row) for row in info["direction"]),
        f"intensity range: {low:g} .. {high:g} ({info['dtype']})",
    ]
    if info["default_window"]:
        lines.append(f"default window:  center {info['default_window'][0]:g}, width {info['default_window'][1]:g}")
    if info["reoriented_from_file"]:
        lines.append("orientation:     reoriented from the file's axis order for display (geometry unchanged)")
    lines.extend(f"warning:         {warning}" for warning in info["warnings"])
    return "\n".join(lines)


def run(args) -> int:
    try:
        volume = open_volume(args.path, series_uid=args.series)
    except AmbiguousSeriesError as error:
        if args.json:
            print(json.dumps({"path": str(args.path), "series": describe_series(error.series)}, indent=2))
        else:
            print(f"{args.path}: {len(error.series)} image series (choose one with --series ID):")
            print(series_table(error.series))
        return 0
    info = describe_volume(volume)
    print(json.dumps(info, indent=2) if args.json else _format_text(info))
    return 0
