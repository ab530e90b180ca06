"""Annotation projects: a worklist of cases, review, and a data set at the end.

Qt-free and torch-free; imports ``medsam_gui.core`` and ``medsam_gui.io`` only.

A project is a folder a person can read, and that can move (every stored path is
relative to it, ``..`` allowed, so the scans may live beside it)::

    PROJECT/
      project.json            name, label schema, settings, format version
      cases.json              case index: id -> image path, series UID, header facts;
                              written at init, rewritten atomically when cases are added
      cases/<case_id>/
        case.json             status, status history (who, when, comment), last editor,
                              active seconds, comment, label voxel counts, view state
        labels.nii.gz         labels on the voxel grid of the scan's own file
        labels.ctbl, labels.label.txt   names and colours for 3D Slicer / ITK-SNAP
        lock.json             while an app instance has the case open

Case status storage (decided): one small ``case.json`` per case, written atomically
(``io.atomic``), not a database. A project folder often sits on a shared drive
(SMB/NFS), where SQLite's file locking is unreliable; per-case files are only ever
written by the app instance holding that case's lock (``locks``), so concurrent
writers never touch the same file, and reading 1,000 small JSON files is fast enough
for a status table (see ``benchmarks/bench_project.py``).

Modules, one job each:

- ``schema``   the fixed label schema; validates a document's label table against it
- ``index``    finds cases in a folder or a manifest, reading headers only; ``cases.json``
- ``records``  case status, history and view state in ``case.json``
- ``locks``    ``lock.json`` per case: exclusive creation, heartbeat, stale takeover
- ``project``  :class:`Project`, the API the app and the command line use
- ``export``   nnU-Net v2 / NIfTI / NRRD / DICOM SEG data sets
- ``report``   per-case, per-label statistics as CSV
- ``progress`` progress callbacks and cancellation for long operations
- ``layout``   file names in the project folder, relative paths, case ids
- ``errors``   the project's error types (all ``MedsamGuiError``)

Typical use (the app runs the slow calls off the GUI thread)::

    project = Project.open(folder, user=preferred_name)
    records = project.records()
    opened = project.open_case(case_id)          # scan, labels, schema table, lock
    ...                                          # project.heartbeat_locks() every 30 s
    project.save_case_labels(case_id, labels, table, view_state,
                             active_seconds=delta, volume=opened.volume)
    project.set_status(case_id, CaseStatus.DONE, "ready for review")
    project.release_lock(case_id)
    project.export(out, "nnunet", statuses=[CaseStatus.APPROVED])
"""

from medsam_gui.project.errors import (
    CaseFileMissing,
    CaseLocked,
    CaseNotLocked,
    CaseReadOnly,
    LabelSchemaError,
    LockLost,
    NotAProjectError,
    NothingToExport,
    OperationCancelled,
    ProjectError,
    ProjectReadOnly,
)
from medsam_gui.project.export import EXPORT_FORMATS, ExportResult, export_project
from medsam_gui.project.index import CaseEntry, IndexResult, UnreadableCase, index_images
from medsam_gui.project.locks import HEARTBEAT_INTERVAL_S, LOCK_STALE_S, CaseLock, LockOwner
from medsam_gui.project.progress import ProgressCallback
from medsam_gui.project.project import OpenedCase, Project, ProjectSettings, default_user
from medsam_gui.project.records import CaseRecord, CaseStatus, StatusChange, ViewState
from medsam_gui.project.schema import CodeTriplet, LabelSchema, SchemaLabel

__all__ = [
    "EXPORT_FORMATS",
    "HEARTBEAT_INTERVAL_S",
    "LOCK_STALE_S",
    "CaseEntry",
    "CaseFileMissing",
    "CaseLock",
    "CaseLocked",
    "CaseNotLocked",
    "CaseReadOnly",
    "CaseRecord",
    "CaseStatus",
    "CodeTriplet",
    "ExportResult",
    "IndexResult",
    "LabelSchema",
    "LabelSchemaError",
    "LockLost",
    "LockOwner",
    "NotAProjectError",
    "NothingToExport",
    "OpenedCase",
    "OperationCancelled",
    "ProgressCallback",
    "Project",
    "ProjectError",
    "ProjectReadOnly",
    "ProjectSettings",
    "SchemaLabel",
    "StatusChange",
    "UnreadableCase",
    "ViewState",
    "default_user",
    "export_project",
    "index_images",
]
