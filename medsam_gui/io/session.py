"""Sessions: save the work on one case and pick it up tomorrow.

A session file (``.medsam-session``) is a compressed NumPy archive holding
``labels`` (uint8 ``[z, y, x]`` on the scan's display grid) and ``meta``, a JSON
text with the scan's path and series UID, the label table, the display window,
the slice on screen and the active label. It does not copy the scan: the scan is
reopened from its path. Files are written atomically.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medsam_gui.core.errors import UnreadableInputError
from medsam_gui.core.labelmap import Label, LabelTable
from medsam_gui.io.atomic import atomic_write_bytes

SESSION_SUFFIX = ".medsam-session"
FORMAT_VERSION = 1


@dataclass
class SessionState:
    """Everything needed to continue a case.

    Attributes:
        scan_path: the file or DICOM folder the scan was read from.
        series_uid: SeriesInstanceUID for DICOM folders (None otherwise).
        labels: uint8 ``[z, y, x]`` on the scan's display grid.
        label_table: names, colours and visibility.
        window_center, window_width: the display window.
        slice_index: the slice on screen.
        active_label: the label new masks go into.
        saved_at: seconds since the epoch when it was written.
        extra: free JSON-able fields (the autosaver stores its owner's process id here).
    """

    scan_path: str
    series_uid: str | None
    labels: np.ndarray
    label_table: LabelTable
    window_center: float
    window_width: float
    slice_index: int
    active_label: int
    saved_at: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def view(self) -> dict:
        """The view part of the state, as ``Document.view_state`` gives it."""
        return {"slice_index": self.slice_index, "active_label": self.active_label,
                "window_center": self.window_center, "window_width": self.window_width}

    @property
    def label_count(self) -> int:
        """How many label values have voxels."""
        return int(np.count_nonzero(np.bincount(self.labels.reshape(-1), minlength=256)[1:]))


def state_from_document(document) -> SessionState:
    """Snapshot a Document (labels copied) as a SessionState."""
    volume = document.volume
    return SessionState(
        scan_path=str(volume.source_path),
        series_uid=volume.dicom.series_instance_uid if volume.dicom is not None else None,
        labels=document.labels.copy(),
        label_table=document.label_table.copy(),
        window_center=float(document.window_center),
        window_width=float(document.window_width),
        slice_index=int(document.slice_index),
        active_label=int(document.active_label),
    )


def restore_into_document(document, state: SessionState) -> None:
    """Put a session's labels, table, window and slice into a Document opened on the same scan.

    The restored labels become the document's saved, un-undoable starting point.

    Raises:
        UnreadableInputError: the session's labels do not fit the document's scan.
    """
    if state.labels.shape != document.labels.shape:
        raise UnreadableInputError(
            f"the session's labels {state.labels.shape} do not fit the scan {document.labels.shape}", state.scan_path
        )
    document.load_saved_state(state.labels, state.label_table, state.view)


def session_bytes(state: SessionState) -> bytes:
    """The session file's content for ``state``."""
    meta = {
        "format": "medsam-gui session",
        "version": FORMAT_VERSION,
        "scan_path": state.scan_path,
        "series_uid": state.series_uid,
        "labels_shape_zyx": list(state.labels.shape),
        "label_table": [
            {"value": label.value, "name": label.name, "colour": list(label.colour), "visible": label.visible}
            for label in state.label_table
        ],
        "window_center": state.window_center,
        "window_width": state.window_width,
        "slice_index": state.slice_index,
        "active_label": state.active_label,
        "saved_at": state.saved_at or time.time(),
        "extra": state.extra,
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, labels=np.ascontiguousarray(state.labels, dtype=np.uint8), meta=np.array(json.dumps(meta)))
    return buffer.getvalue()


def save_session(state: SessionState, path: str | Path) -> Path:
    """Write ``state`` to ``path`` atomically; returns the path."""
    return atomic_write_bytes(path, session_bytes(state))


def load_session(path: str | Path) -> SessionState:
    """Read a session file.

    Raises:
        UnreadableInputError: missing, damaged or foreign file, naming it and why.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            labels = np.array(archive["labels"])
    except FileNotFoundError as error:
        raise UnreadableInputError("no such session file", path) from error
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        raise UnreadableInputError(f"not a readable medsam-gui session ({error})", path) from error
    if meta.get("format") != "medsam-gui session" or labels.dtype != np.uint8 or labels.ndim != 3:
        raise UnreadableInputError("not a medsam-gui session file", path)
    if int(meta.get("version", 0)) > FORMAT_VERSION:
        raise UnreadableInputError(f"written by a newer medsam-gui (format {meta['version']})", path)
    try:
        table = LabelTable(
            [Label(int(e["value"]), str(e["name"]), tuple(int(c) for c in e["colour"]), bool(e["visible"])) for e in meta["label_table"]]
        )
        return SessionState(
            scan_path=str(meta["scan_path"]),
            series_uid=meta.get("series_uid"),
            labels=labels,
            label_table=table,
            window_center=float(meta["window_center"]),
            window_width=float(meta["window_width"]),
            slice_index=int(meta["slice_index"]),
            active_label=int(meta["active_label"]),
            saved_at=float(meta["saved_at"]),
            extra=dict(meta.get("extra") or {}),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise UnreadableInputError(f"the session's description is incomplete ({error})", path) from error
