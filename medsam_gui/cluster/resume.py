"""Resume: a small done-marker JSON per image, written atomically after its labelmap.

An image is skipped when its marker's fingerprint equals the fingerprint of the
inputs now (the image files' sizes and modification times, the image's rows, the
model and the options) and every file the marker lists exists. Markers live in
``OUT/.batch/<output stem>.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from medsam_gui.cluster.manifest import ImageJob
from medsam_gui.io.atomic import atomic_write_text

MARKER_FOLDER = ".batch"
MARKER_VERSION = 1
TEMPORARY_NAME = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp")  # io.atomic's temporary files


def image_files_state(image_path: str) -> list | None:
    """[[name, size, mtime_ns], ...] of the files an image is read from (a DICOM folder:
    every file under it; a detached header: its data files too); None if missing."""
    path = Path(image_path)
    if path.is_dir():
        files = sorted(item for item in path.rglob("*") if item.is_file())
        base = path
    elif path.is_file():
        base = path.parent
        files = [path]
        if path.suffix.lower() in (".nhdr", ".mhd"):  # the voxels are in sibling files
            stem = path.name[: -len(path.suffix)]
            files += sorted(item for item in base.iterdir() if item.is_file() and item != path and item.name.startswith(stem))
    else:
        return None
    state = []
    for item in files:
        stat = item.stat()
        state.append([item.relative_to(base).as_posix(), stat.st_size, stat.st_mtime_ns])
    return state


def fingerprint(job: ImageJob, model: str, options: dict) -> str | None:
    """SHA-256 of everything that decides the image's output; None when the image is missing."""
    files = image_files_state(job.image_path)
    if files is None:
        return None
    content = {"version": MARKER_VERSION, "image": job.image_path, "files": files,
               "rows": [row.signature() for row in job.rows], "model": model, "options": options}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def marker_path(output_dir: Path, job: ImageJob) -> Path:
    return output_dir / MARKER_FOLDER / f"{job.output_stem}.json"


def read_done_marker(output_dir: Path, job: ImageJob, expected_fingerprint: str | None) -> dict | None:
    """The marker of a finished image whose inputs have not changed, else None."""
    if expected_fingerprint is None:
        return None
    try:
        marker = json.loads(marker_path(output_dir, job).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if marker.get("fingerprint") != expected_fingerprint:
        return None
    if not all((output_dir / name).is_file() for name in marker.get("files", [])):
        return None
    return marker


def write_done_marker(output_dir: Path, job: ImageJob, fingerprint_value: str, files: list[str], rows: list[dict]) -> Path:
    """Write the marker atomically (after the files it lists are in place)."""
    path = marker_path(output_dir, job)
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {"version": MARKER_VERSION, "fingerprint": fingerprint_value, "image": job.image_path,
               "files": files, "rows": rows}
    atomic_write_text(path, json.dumps(content, indent=1))
    return path


def remove_stale_temporaries(output_dir: Path) -> list[Path]:
    """Delete temporary files a killed run left (``io.atomic`` names them ``.<name>.<hex>.tmp<suffix>``)."""
    removed = []
    if not output_dir.is_dir():
        return removed
    for folder, _, names in os.walk(output_dir):
        for name in names:
            if TEMPORARY_NAME.match(name):
                path = Path(folder) / name
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed
