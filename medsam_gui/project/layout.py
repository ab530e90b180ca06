"""Where things live in a project folder, and the small helpers every module shares.

    PROJECT/
      project.json              name, label schema, settings, format version
      cases.json                the case index: case id -> image path (relative), series UID
      cases.lock.json           present only while an instance adds cases to the index
      cases/<case_id>/
        case.json               status, history, last editor, active time, comment, view state
        labels.nii.gz           the labels, on the source scan's voxel grid
        labels.ctbl, labels.label.txt   label names and colours for 3D Slicer / ITK-SNAP
        lock.json               present while an app instance has the case open

Paths stored in the JSON files are relative to the project folder with ``/``
separators (``..`` allowed: the scans may live beside the project), so the folder can
move or be reached through another drive letter or mount point.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path

from medsam_gui.project.errors import ProjectError

PROJECT_FILE = "project.json"
CASE_INDEX_FILE = "cases.json"
CASES_FOLDER = "cases"
CASE_FILE = "case.json"
LABELS_FILE = "labels.nii.gz"
LOCK_FILE = "lock.json"

MAX_CASE_ID_LENGTH = 64
_UNSAFE_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]+")


def case_folder(project_folder: Path, case_id: str) -> Path:
    """``PROJECT/cases/<case_id>``."""
    return Path(project_folder) / CASES_FOLDER / case_id


def safe_case_id(text: str) -> str:
    """A case id made of ``A-Z a-z 0-9 _ -`` only (safe as a folder and an nnU-Net name).

    Other characters (``/``, dots, spaces...) become ``_``; an id longer than
    ``MAX_CASE_ID_LENGTH`` keeps its end (usually the most specific part) plus a hash.
    """
    case_id = _UNSAFE_ID_CHARACTERS.sub("_", text).strip("_") or "case"
    if len(case_id) > MAX_CASE_ID_LENGTH:
        digest = hashlib.sha1(case_id.encode("utf-8")).hexdigest()[:8]
        case_id = case_id[-(MAX_CASE_ID_LENGTH - 9) :].lstrip("_") + "_" + digest
    return case_id


def unique_case_id(wanted: str, taken_casefolded: set[str]) -> str:
    """``wanted``, or ``wanted_2``, ``wanted_3``... so that no two ids differ only in case.

    ``taken_casefolded`` holds the casefolded ids in use and is updated.
    """
    candidate, number = wanted, 1
    while candidate.casefold() in taken_casefolded:
        number += 1
        candidate = f"{wanted}_{number}"
    taken_casefolded.add(candidate.casefold())
    return candidate


def relative_to_project(path: str | os.PathLike, project_folder: str | os.PathLike) -> str:
    """``path`` relative to the project folder, ``/``-separated (``..`` allowed).

    Only where no relative path exists (Windows: another drive) is the absolute path
    kept, as the one exception to "no absolute paths inside".
    """
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute, os.path.abspath(project_folder))
    except ValueError:
        return Path(absolute).as_posix()
    return Path(relative).as_posix()


def resolve_in_project(stored: str, project_folder: str | os.PathLike) -> Path:
    """The absolute path of a path stored relative to the project folder."""
    path = Path(stored)
    return path if path.is_absolute() else Path(os.path.normpath(Path(project_folder).absolute() / path))


def to_iso(epoch_seconds: float | None) -> str | None:
    """UTC ISO 8601 text (``2025-01-31T14:03:07.123456+00:00``) of an epoch time, or None."""
    if epoch_seconds is None:
        return None
    return datetime.fromtimestamp(float(epoch_seconds), tz=timezone.utc).isoformat()


def from_iso(text: str | None) -> float | None:
    """Epoch seconds of an ISO 8601 text (naive texts are read as UTC), or None."""
    if not text:
        return None
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def local_time_text(epoch_seconds: float | None) -> str:
    """``2025-01-31 15:03`` in the local time zone (for messages), or ``-``."""
    if epoch_seconds is None:
        return "-"
    return datetime.fromtimestamp(float(epoch_seconds)).strftime("%Y-%m-%d %H:%M")


def read_json(path: Path, what: str) -> dict | list:
    """The JSON content of ``path``; ProjectError naming it when missing or damaged.

    FileNotFoundError is passed through unchanged so callers can report a missing
    file in their own words.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except OSError as error:
        raise ProjectError(f"cannot read the {what} ({error.strerror})", path) from error
    except UnicodeDecodeError as error:
        raise ProjectError(f"the {what} is damaged (not UTF-8 text)", path) from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ProjectError(f"the {what} is damaged (not valid JSON: {error})", path) from error


def json_text(data) -> str:
    """Indented JSON text with a final newline (files meant to be read by people too)."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
