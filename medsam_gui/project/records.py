"""Case records: status, review history, who edited last, active time, comment, view state.

One small ``cases/<case_id>/case.json`` per case, written atomically
(``io.atomic``), only ever by the app instance holding that case's lock. Times are
epoch seconds in Python and UTC ISO 8601 text in the file.
"""

from __future__ import annotations

import enum
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from medsam_gui.io.atomic import atomic_write_text
from medsam_gui.project.errors import CaseFileMissing, ProjectError
from medsam_gui.project.layout import CASE_FILE, case_folder, from_iso, json_text, read_json, to_iso
from medsam_gui.project.progress import ProgressReporter

RECORD_FORMAT = "medsam-gui case"
RECORD_VERSION = 1


class CaseStatus(str, enum.Enum):
    """Where a case stands. ``APPROVED`` cases are read-only until reopened."""

    TO_DO = "to_do"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    NEEDS_FIX = "needs_fix"
    APPROVED = "approved"

    @property
    def text(self) -> str:
        """The words shown to people: 'to do', 'in progress', 'needs fix'..."""
        return self.value.replace("_", " ")

    @classmethod
    def parse(cls, text: "str | CaseStatus") -> "CaseStatus":
        """A status from 'to do', 'to-do', 'TO_DO', 'needs fix'...; ProjectError for anything else."""
        if isinstance(text, CaseStatus):
            return text
        key = "_".join(str(text).replace("-", " ").replace("_", " ").split()).lower()
        try:
            return cls(key)
        except ValueError:
            known = ", ".join(status.text for status in cls)
            raise ProjectError(f"unknown case status '{text}' (known: {known})") from None

    @classmethod
    def parse_list(cls, text: str) -> list["CaseStatus"]:
        """Statuses from a comma-separated list: 'approved,done'."""
        return [cls.parse(part) for part in str(text).split(",") if part.strip()]


@dataclass(frozen=True)
class StatusChange:
    """One entry of a case's history: ``status`` set by ``user`` at ``time`` (epoch s), with a comment."""

    status: CaseStatus
    previous: CaseStatus | None
    user: str
    time: float
    comment: str = ""

    def to_json(self) -> dict:
        return {
            "status": self.status.value,
            "previous": self.previous.value if self.previous else None,
            "user": self.user,
            "time": to_iso(self.time),
            "comment": self.comment,
        }

    @classmethod
    def from_json(cls, data: dict) -> "StatusChange":
        return cls(
            status=CaseStatus.parse(data["status"]),
            previous=CaseStatus.parse(data["previous"]) if data.get("previous") else None,
            user=str(data.get("user") or ""),
            time=from_iso(data.get("time")) or 0.0,
            comment=str(data.get("comment") or ""),
        )


@dataclass(frozen=True)
class ViewState:
    """What the annotator was looking at: slice (display z index), window, active label value.

    ``None`` fields mean "the app's default" (e.g. the scan's own window).
    """

    slice_index: int | None = None
    window_center: float | None = None
    window_width: float | None = None
    active_label: int | None = None

    def to_json(self) -> dict:
        return {
            "slice_index": self.slice_index,
            "window_center": self.window_center,
            "window_width": self.window_width,
            "active_label": self.active_label,
        }

    @classmethod
    def from_json(cls, data: dict | None) -> "ViewState | None":
        if not data:
            return None

        def number(key, kind):
            value = data.get(key)
            return None if value is None else kind(value)

        return cls(
            slice_index=number("slice_index", int),
            window_center=number("window_center", float),
            window_width=number("window_width", float),
            active_label=number("active_label", int),
        )


@dataclass
class CaseRecord:
    """Everything the project knows about one case besides its voxels.

    Attributes:
        case_id: the case.
        status: current status.
        history: status changes, oldest first.
        last_editor: user who last saved labels or changed the status (None: nobody yet).
        last_edited: when (epoch seconds), or None.
        active_seconds: accumulated active annotation time, as reported by the app.
        comment: the latest comment (also kept per status change in ``history``).
        label_voxels: voxels per label name in the saved labels (labels with voxels only).
        labels_saved: whether ``labels.nii.gz`` was written for this case.
        view_state: slice, window and active label at the last save, or None.
        problem: set (and the rest left at defaults) by ``Project.records()`` when
            ``case.json`` is missing or damaged; None for a healthy record.
    """

    case_id: str
    status: CaseStatus = CaseStatus.TO_DO
    history: list[StatusChange] = field(default_factory=list)
    last_editor: str | None = None
    last_edited: float | None = None
    active_seconds: float = 0.0
    comment: str = ""
    label_voxels: dict[str, int] = field(default_factory=dict)
    labels_saved: bool = False
    view_state: ViewState | None = None
    problem: str | None = None

    @property
    def label_count(self) -> int:
        """How many labels have voxels in the saved labels."""
        return sum(1 for voxels in self.label_voxels.values() if voxels > 0)

    @property
    def is_approved(self) -> bool:
        return self.status is CaseStatus.APPROVED

    def to_json(self) -> dict:
        return {
            "format": RECORD_FORMAT,
            "version": RECORD_VERSION,
            "case_id": self.case_id,
            "status": self.status.value,
            "last_editor": self.last_editor,
            "last_edited": to_iso(self.last_edited),
            "active_seconds": round(float(self.active_seconds), 3),
            "comment": self.comment,
            "labels_saved": self.labels_saved,
            "label_count": self.label_count,
            "label_voxels": dict(self.label_voxels),
            "view_state": self.view_state.to_json() if self.view_state else None,
            "history": [change.to_json() for change in self.history],
        }

    @classmethod
    def from_json(cls, data: dict, path: Path) -> "CaseRecord":
        if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
            raise ProjectError("not a medsam-gui case record", path)
        if int(data.get("version", 0)) > RECORD_VERSION:
            raise ProjectError(f"written by a newer medsam-gui (case format {data['version']})", path)
        try:
            return cls(
                case_id=str(data["case_id"]),
                status=CaseStatus.parse(data.get("status", CaseStatus.TO_DO.value)),
                history=[StatusChange.from_json(entry) for entry in data.get("history") or []],
                last_editor=data.get("last_editor"),
                last_edited=from_iso(data.get("last_edited")),
                active_seconds=float(data.get("active_seconds") or 0.0),
                comment=str(data.get("comment") or ""),
                label_voxels={str(k): int(v) for k, v in (data.get("label_voxels") or {}).items()},
                labels_saved=bool(data.get("labels_saved", False)),
                view_state=ViewState.from_json(data.get("view_state")),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ProjectError(f"the case record is incomplete ({type(error).__name__}: {error})", path) from error


def read_record(path: Path, case_id: str) -> CaseRecord:
    """Read ``case.json``.

    Raises:
        CaseFileMissing: the file was deleted.
        ProjectError: unreadable or damaged, naming the file.
    """
    try:
        data = read_json(path, "case record")
    except FileNotFoundError as error:
        raise CaseFileMissing(
            f"the record of case '{case_id}' is missing (deleted outside the app?)", str(path), case_id
        ) from error
    record = CaseRecord.from_json(data, path)
    if record.case_id != case_id:
        raise ProjectError(f"the record belongs to case '{record.case_id}', not '{case_id}'", path)
    return record


def write_record(path: Path, record: CaseRecord) -> Path:
    """Write ``case.json`` atomically (MedsamGuiError naming the folder when it cannot be written)."""
    return atomic_write_text(path, json_text(record.to_json()))


RECORD_WRITERS = 8  # threads creating new case records (I/O bound; helps most on network drives)


def create_records(project_folder: Path, case_ids: list[str], reporter: ProgressReporter | None = None) -> None:
    """Create ``cases/<id>/case.json`` ('to do') for new cases.

    Each is an atomic, fsynced write; a few run at once, because on a shared drive each
    one waits on the network far more than on this machine.
    """

    def create(case_id: str) -> None:
        folder = case_folder(project_folder, case_id)
        folder.mkdir(parents=True, exist_ok=True)
        write_record(folder / CASE_FILE, CaseRecord(case_id))

    with ThreadPoolExecutor(max_workers=RECORD_WRITERS) as pool:
        for number, _ in enumerate(pool.map(create, case_ids), start=1):
            if reporter is not None:
                reporter.report(number, len(case_ids), f"writing case records: {number}/{len(case_ids)}")
