"""The :class:`Project`: a folder of cases to annotate, review and export.

Create one from a folder of scans or a manifest (:meth:`Project.create`), open it
(:meth:`Project.open`), then per case: :meth:`Project.open_case` (or the pieces it is
made of: ``acquire_lock``, ``open_volume``, ``load_case_labels``),
:meth:`Project.save_case_labels`, :meth:`Project.set_status`, and finally
:meth:`Project.export`. Everything that changes a case needs that case's lock, held
by this Project object; reading never does.
"""

from __future__ import annotations

import contextlib
import getpass
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.core.labelmap import LabelTable
from medsam_gui.core.volume import Volume
from medsam_gui.io.atomic import atomic_output, atomic_write_text
from medsam_gui.project.errors import (
    CaseFileMissing,
    CaseLocked,
    CaseNotLocked,
    CaseReadOnly,
    NotAProjectError,
    ProjectError,
    ProjectReadOnly,
)
from medsam_gui.project.index import (
    CaseEntry,
    CaseIndex,
    IndexResult,
    UnreadableCase,
    index_images,
    read_case_index,
    write_case_index,
)
from medsam_gui.project.layout import (
    CASE_FILE,
    CASES_FOLDER,
    LABELS_FILE,
    LOCK_FILE,
    PROJECT_FILE,
    case_folder,
    json_text,
    read_json,
    resolve_in_project,
    to_iso,
)
from medsam_gui.project.locks import LOCK_STALE_S, CaseLock, LockOwner, acquire_lock, read_lock_owner
from medsam_gui.project.progress import ProgressCallback, ProgressReporter
from medsam_gui.project.records import (
    CaseRecord,
    CaseStatus,
    StatusChange,
    ViewState,
    create_records,
    read_record,
    write_record,
)
from medsam_gui.project.schema import LabelSchema

if TYPE_CHECKING:
    from medsam_gui.project.export import ExportResult

PROJECT_FORMAT = "medsam-gui project"
PROJECT_VERSION = 1
INDEX_LOCK_FILE = "cases.lock.json"


def default_user() -> str:
    """The OS user name (``getpass.getuser()``), or 'unknown' where the OS does not say."""
    try:
        return getpass.getuser() or "unknown"
    except (OSError, KeyError, ImportError):
        return "unknown"


@dataclass(frozen=True)
class ProjectSettings:
    """Project-wide settings kept in ``project.json``.

    Attributes:
        lock_stale_s: a case lock without heartbeat for this long is taken over.
        channel_name: nnU-Net channel name for the images ('CT', 'MR', ...); None: the
            most common modality of the exported scans.
    """

    lock_stale_s: float = LOCK_STALE_S
    channel_name: str | None = None

    def to_json(self) -> dict:
        return {"lock_stale_s": self.lock_stale_s, "channel_name": self.channel_name}

    @classmethod
    def from_json(cls, data: dict | None) -> "ProjectSettings":
        data = data or {}
        return cls(
            lock_stale_s=float(data.get("lock_stale_s", LOCK_STALE_S)),
            channel_name=data.get("channel_name") or None,
        )


@dataclass
class OpenedCase:
    """A case opened for the app: everything the window needs, and whether it may be edited.

    Attributes:
        entry: the index entry (id, image path, series UID).
        record: the case record as read when opening.
        volume: the scan.
        labels: uint8 ``[z, y, x]`` on ``volume``'s grid (zeros when nothing was saved yet).
        labels_saved: whether ``labels`` came from a saved file.
        label_table: the project's schema as a LabelTable (every case opens with it).
        view_state: slice/window/active label of the last save, or None.
        lock: the lock held for editing, or None when opened read-only; heartbeat it
            (``Project.heartbeat_locks``) and release it (``Project.release_lock``) when
            leaving the case.
        read_only_reason: why the case may not be edited (locked by someone else,
            approved, project folder not writable), or None.
        locked_by: the other instance holding the case, when that is the reason.
    """

    entry: CaseEntry
    record: CaseRecord
    volume: Volume
    labels: np.ndarray
    labels_saved: bool
    label_table: LabelTable
    view_state: ViewState | None
    lock: CaseLock | None
    read_only_reason: str | None = None
    locked_by: LockOwner | None = None

    @property
    def read_only(self) -> bool:
        return self.read_only_reason is not None


class Project:
    """An annotation project folder. Get one with :meth:`create` or :meth:`open`.

    Attributes:
        folder: the project folder.
        name: the project's name.
        schema: the fixed label schema.
        settings: project-wide settings.
        user: the user name written into locks, records and history (overridable per call).
        lock_stale_s: a lock without heartbeat for this long is taken over.
    """

    def __init__(
        self,
        folder: Path,
        name: str,
        schema: LabelSchema,
        settings: ProjectSettings,
        index: CaseIndex,
        user: str,
        lock_stale_s: float,
        created: str | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.name = name
        self.schema = schema
        self.settings = settings
        self.user = user
        self.lock_stale_s = lock_stale_s
        self.created = created
        self._index = index
        self._by_id = {entry.case_id: entry for entry in index.cases}
        self._locks: dict[str, CaseLock] = {}
        self._mutex = threading.RLock()

    def __repr__(self) -> str:
        return f"Project({str(self.folder)!r}, {len(self._index.cases)} cases)"

    # creating and opening ------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        folder: str | Path,
        images: str | Path,
        schema: LabelSchema,
        *,
        name: str | None = None,
        user: str | None = None,
        settings: ProjectSettings | None = None,
        exclude: tuple[str, ...] | list[str] = (),
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> tuple["Project", IndexResult]:
        """Index ``images`` (a folder of scans, a .csv/.json manifest, or one scan) into a new project.

        Nothing is written until indexing is complete; a cancelled or failed indexing
        leaves no project behind.

        Args:
            folder: the project folder (created; must not hold a project already).
            images: where the scans are.
            schema: the label schema.
            name: the project's name (default: the folder's name).
            user: who creates it (default: the OS user).
            settings: project settings (default: ProjectSettings()).
            exclude: glob patterns of files to leave out of a folder scan.
            progress, cancel: see ``project.progress``.

        Returns:
            The open project and the index result (``unreadable`` lists what was left out).

        Raises:
            ProjectError: the folder is a project already, nothing usable was found, or
                the folder cannot be written (ProjectReadOnly).
            OperationCancelled: ``cancel`` was set.
        """
        folder = Path(folder)
        if (folder / PROJECT_FILE).exists():
            raise ProjectError("this folder holds a project already", folder)
        result = index_images(images, folder, exclude=exclude, progress=progress, cancel=cancel)
        if not result.cases:
            detail = f"; {len(result.unreadable)} unreadable" if result.unreadable else ""
            raise ProjectError(f"no scans found to make cases of{detail}", images)
        user = user or default_user()
        settings = settings or ProjectSettings()
        reporter = ProgressReporter(progress, None)
        try:
            (folder / CASES_FOLDER).mkdir(parents=True, exist_ok=True)
            create_records(folder, [entry.case_id for entry in result.cases], reporter)
            write_case_index(folder, CaseIndex(result.cases, result.unreadable))
            project_data = {
                "format": PROJECT_FORMAT,
                "version": PROJECT_VERSION,
                "name": name or folder.absolute().name,
                "created": to_iso(time.time()),
                "created_by": user,
                "schema": schema.to_json(),
                "settings": settings.to_json(),
            }
            atomic_write_text(folder / PROJECT_FILE, json_text(project_data))
        except ProjectError:
            raise
        except (MedsamGuiError, OSError) as error:
            path = getattr(error, "path", None) or getattr(error, "filename", None) or folder
            reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or str(error)
            raise ProjectReadOnly(f"cannot create the project: {reason}", str(path)) from error
        return cls.open(folder, user=user), result

    @classmethod
    def open(cls, folder: str | Path, *, user: str | None = None, lock_stale_s: float | None = None) -> "Project":
        """Open an existing project folder (reads ``project.json`` and ``cases.json`` only).

        Args:
            folder: the project folder.
            user: the user name for locks and history (default: the OS user).
            lock_stale_s: override the project's lock staleness (tests, or a site rule).

        Raises:
            NotAProjectError: no (readable) project.json, or a newer format.
            ProjectError: damaged case index.
        """
        folder = Path(folder)
        try:
            data = read_json(folder / PROJECT_FILE, "project file")
        except FileNotFoundError as error:
            raise NotAProjectError("not a medsam-gui project (no project.json)", folder) from error
        if not isinstance(data, dict) or data.get("format") != PROJECT_FORMAT:
            raise NotAProjectError("not a medsam-gui project file", folder / PROJECT_FILE)
        if int(data.get("version", 0)) > PROJECT_VERSION:
            raise NotAProjectError(
                f"written by a newer medsam-gui (project format {data['version']}); update medsam-gui",
                folder / PROJECT_FILE,
            )
        try:
            schema = LabelSchema.from_json(data["schema"])
        except (KeyError, MedsamGuiError) as error:
            raise ProjectError(f"the project's label schema is damaged ({error})", folder / PROJECT_FILE) from error
        settings = ProjectSettings.from_json(data.get("settings"))
        return cls(
            folder=folder,
            name=str(data.get("name") or folder.absolute().name),
            schema=schema,
            settings=settings,
            index=read_case_index(folder),
            user=user or default_user(),
            lock_stale_s=settings.lock_stale_s if lock_stale_s is None else float(lock_stale_s),
            created=data.get("created"),
        )

    def reload_index(self) -> None:
        """Re-read ``cases.json`` (another instance may have added cases)."""
        with self._mutex:
            self._index = read_case_index(self.folder)
            self._by_id = {entry.case_id: entry for entry in self._index.cases}

    # the case list ---------------------------------------------------------------------------

    @property
    def cases(self) -> list[CaseEntry]:
        """The index entries in project order (a copy)."""
        return list(self._index.cases)

    @property
    def case_ids(self) -> list[str]:
        return [entry.case_id for entry in self._index.cases]

    @property
    def unreadable(self) -> list[UnreadableCase]:
        """Scans left out when indexing, with reasons."""
        return list(self._index.unreadable)

    def case(self, case_id: str) -> CaseEntry:
        """The index entry of ``case_id``; ProjectError when there is no such case."""
        try:
            return self._by_id[case_id]
        except KeyError:
            raise ProjectError(f"no case '{case_id}' in this project", self.folder) from None

    def case_folder(self, case_id: str) -> Path:
        return case_folder(self.folder, self.case(case_id).case_id)

    def record_path(self, case_id: str) -> Path:
        return self.case_folder(case_id) / CASE_FILE

    def labels_path(self, case_id: str) -> Path:
        return self.case_folder(case_id) / LABELS_FILE

    def lock_path(self, case_id: str) -> Path:
        return self.case_folder(case_id) / LOCK_FILE

    def image_path(self, case_id: str) -> Path:
        """The absolute path of the case's scan (a file, or the folder of a DICOM series)."""
        return resolve_in_project(self.case(case_id).image, self.folder)

    def open_volume(self, case_id: str) -> Volume:
        """Read the case's scan (reads all voxels: call it off the GUI thread).

        Raises:
            UnreadableInputError: the scan is missing or unreadable (names the file).
        """
        from medsam_gui.io.load import open_volume

        entry = self.case(case_id)
        return open_volume(self.image_path(case_id), series_uid=entry.series_uid)

    def neighbour_case_id(
        self,
        case_id: str,
        step: int = 1,
        statuses: list[CaseStatus] | None = None,
        records: dict[str, CaseRecord] | None = None,
    ) -> str | None:
        """The next (``step=1``) or previous (``step=-1``) case in project order, or None at the end.

        With ``statuses``, only cases with one of them count (e.g. the next 'to do');
        pass ``records`` (id -> record) to avoid reading them again.
        """
        ids = self.case_ids
        position = ids.index(self.case(case_id).case_id)
        wanted = {CaseStatus.parse(status) for status in statuses} if statuses else None
        index = position + (1 if step >= 0 else -1)
        while 0 <= index < len(ids):
            candidate = ids[index]
            if wanted is None:
                return candidate
            record = records.get(candidate) if records is not None else None
            if record is None:
                with contextlib.suppress(MedsamGuiError):
                    record = self.record(candidate)
            if record is not None and record.problem is None and record.status in wanted:
                return candidate
            index += 1 if step >= 0 else -1
        return None

    # records ----------------------------------------------------------------------------------

    def record(self, case_id: str) -> CaseRecord:
        """Read the case's record (fresh from disk: other instances write records too).

        Raises:
            CaseFileMissing: ``case.json`` was deleted (the text names it).
            ProjectError: damaged record.
        """
        return read_record(self.record_path(case_id), self.case(case_id).case_id)

    def records(self, progress: ProgressCallback | None = None) -> list[CaseRecord]:
        """Every case's record in project order; never raises for one bad case.

        A missing or damaged ``case.json`` gives a record with ``problem`` set (the
        error's text) and default fields, so lists and status tables keep working.
        """
        reporter = ProgressReporter(progress, None)
        records = []
        entries = self._index.cases
        for number, entry in enumerate(entries, start=1):
            try:
                records.append(self.record(entry.case_id))
            except MedsamGuiError as error:
                records.append(CaseRecord(entry.case_id, problem=str(error)))
            reporter.report(number, len(entries), f"reading case records: {number}/{len(entries)}")
        return records

    def status_counts(self, records: list[CaseRecord] | None = None) -> dict[CaseStatus, int]:
        """How many cases have each status (all statuses listed; records with a problem not counted)."""
        records = self.records() if records is None else records
        counts = {status: 0 for status in CaseStatus}
        for record in records:
            if record.problem is None:
                counts[record.status] += 1
        return counts

    def is_read_only(self, case: str | CaseRecord) -> bool:
        """True when the case is approved: saving and status changes are refused until :meth:`reopen`.

        (Whether this instance may edit at all also depends on holding the lock: see
        :attr:`OpenedCase.read_only` and :meth:`holds_lock`.)
        """
        record = case if isinstance(case, CaseRecord) else self.record(case)
        return record.status is CaseStatus.APPROVED

    # locks --------------------------------------------------------------------------------------

    def lock_owner(self, case_id: str) -> LockOwner | None:
        """Who has the case open (the lock file's owner, stale or not), or None."""
        return read_lock_owner(self.lock_path(case_id))

    def holds_lock(self, case_id: str) -> bool:
        """Whether this Project object holds the case's lock."""
        lock = self._locks.get(case_id)
        return lock is not None and not lock.released

    def acquire_lock(self, case_id: str, user: str | None = None) -> CaseLock:
        """Lock the case for editing by this instance (returns the held lock if already held).

        Call ``lock.heartbeat()`` every ``locks.HEARTBEAT_INTERVAL_S`` while the case is
        open and ``lock.release()`` (or :meth:`release_lock`) when closing it.

        Raises:
            CaseLocked: another instance has it open ("locked by NAME on HOST since TIME").
            ProjectReadOnly: the project folder cannot be written.
        """
        case_id = self.case(case_id).case_id
        with self._mutex:
            held = self._locks.get(case_id)
            if held is not None and not held.released:
                held.verify()
                return held
            lock = acquire_lock(self.lock_path(case_id), case_id, user or self.user, stale_after_s=self.lock_stale_s)
            self._locks[case_id] = lock
            return lock

    def release_lock(self, case_id: str) -> None:
        """Release this instance's lock on the case, if held."""
        with self._mutex:
            lock = self._locks.pop(case_id, None)
        if lock is not None:
            lock.release()

    def heartbeat_locks(self) -> list[ProjectError]:
        """Refresh the heartbeat of every lock this instance holds (call it every
        ``locks.HEARTBEAT_INTERVAL_S``, e.g. from a UI timer).

        Returns the problems, one per lock, for the caller to show: a lock that was
        taken over (:class:`LockLost`, no longer held afterwards) or a heartbeat that
        could not be written. An empty list means all is well.
        """
        problems: list[ProjectError] = []
        for case_id, lock in list(self._locks.items()):
            try:
                lock.heartbeat()
            except CaseLocked as error:
                with self._mutex:
                    self._locks.pop(case_id, None)
                problems.append(error)
            except ProjectError as error:
                problems.append(error)
        return problems

    def release_all_locks(self) -> None:
        """Release every lock this instance holds (on closing the project or the app)."""
        for case_id in list(self._locks):
            self.release_lock(case_id)

    @contextlib.contextmanager
    def editing(self, case_id: str, user: str | None = None) -> Iterator[CaseLock]:
        """``with project.editing(case_id):`` hold the case's lock for the block (scripts, CLI)."""
        already_held = self.holds_lock(case_id)
        lock = self.acquire_lock(case_id, user)
        try:
            yield lock
        finally:
            if not already_held:
                self.release_lock(case_id)

    def _require_lock(self, case_id: str) -> None:
        lock = self._locks.get(case_id)
        if lock is None or lock.released:
            raise CaseNotLocked(
                f"case '{case_id}' is not locked by this app; open it for editing first (acquire_lock)",
                str(self.lock_path(case_id)),
            )
        try:
            lock.verify()
        except CaseLocked:
            with self._mutex:
                self._locks.pop(case_id, None)
            raise

    # changing a case ---------------------------------------------------------------------------

    def _write(self, case_id: str, record: CaseRecord) -> CaseRecord:
        try:
            write_record(self.record_path(case_id), record)
        except (MedsamGuiError, OSError) as error:
            raise self._not_writable(case_id, error) from error
        return record

    def _not_writable(self, case_id: str, error: Exception) -> ProjectReadOnly:
        path = getattr(error, "path", None) or getattr(error, "filename", None) or self.case_folder(case_id)
        reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or str(error)
        return ProjectReadOnly(
            f"cannot save case '{case_id}': the project folder cannot be written ({reason})", str(path)
        )

    def _record_for_change(self, case_id: str, recreate_missing: bool = False, user: str = "") -> CaseRecord:
        try:
            return self.record(case_id)
        except CaseFileMissing:
            if not recreate_missing:
                raise
            note = "case.json was missing (deleted outside the app) and was recreated on saving"
            record = CaseRecord(case_id)
            record.history.append(StatusChange(CaseStatus.TO_DO, None, user, time.time(), note))
            return record

    def set_status(self, case_id: str, status: CaseStatus | str, comment: str = "", user: str | None = None) -> CaseRecord:
        """Change the case's status; the change (who, when, comment) is added to its history.

        Needs the case's lock. An approved case can only leave 'approved' through :meth:`reopen`.

        Raises:
            CaseNotLocked, CaseLocked: the lock is not held (or was taken over).
            CaseReadOnly: the case is approved.
            CaseFileMissing: ``case.json`` was deleted.
            ProjectReadOnly: the project folder cannot be written.
        """
        status = CaseStatus.parse(status)
        case_id = self.case(case_id).case_id
        self._require_lock(case_id)
        record = self._record_for_change(case_id)
        if record.status is CaseStatus.APPROVED and status is not CaseStatus.APPROVED:
            raise CaseReadOnly(
                f"case '{case_id}' is approved and read-only; reopen it to change its status",
                str(self.record_path(case_id)),
            )
        return self._write(case_id, _with_status(record, status, user or self.user, comment))

    def reopen(
        self,
        case_id: str,
        comment: str = "",
        user: str | None = None,
        status: CaseStatus | str = CaseStatus.NEEDS_FIX,
    ) -> CaseRecord:
        """Make an approved case editable again (status ``needs fix`` by default), recorded in its history.

        Needs the case's lock. A case that is not approved is left as it is.
        """
        status = CaseStatus.parse(status)
        if status is CaseStatus.APPROVED:
            raise ProjectError("reopening sets a status other than approved")
        case_id = self.case(case_id).case_id
        self._require_lock(case_id)
        record = self._record_for_change(case_id)
        if record.status is not CaseStatus.APPROVED:
            return record
        return self._write(case_id, _with_status(record, status, user or self.user, comment or "reopened"))

    def set_comment(self, case_id: str, comment: str) -> CaseRecord:
        """Set the case's comment (without a status change). Needs the lock."""
        case_id = self.case(case_id).case_id
        self._require_lock(case_id)
        record = self._record_for_change(case_id)
        record.comment = comment
        return self._write(case_id, record)

    def add_active_seconds(self, case_id: str, seconds: float) -> CaseRecord:
        """Add active annotation time without saving labels (e.g. a review). Needs the lock."""
        case_id = self.case(case_id).case_id
        self._require_lock(case_id)
        record = self._record_for_change(case_id)
        record.active_seconds += max(float(seconds), 0.0)
        return self._write(case_id, record)

    def save_view_state(self, case_id: str, view_state: ViewState) -> CaseRecord:
        """Remember slice/window/active label without saving labels (allowed on approved cases). Needs the lock."""
        case_id = self.case(case_id).case_id
        self._require_lock(case_id)
        record = self._record_for_change(case_id)
        record.view_state = view_state
        return self._write(case_id, record)

    def save_case_labels(
        self,
        case_id: str,
        labels_zyx: np.ndarray,
        label_table: LabelTable,
        view_state: ViewState | None = None,
        user: str | None = None,
        active_seconds: float = 0.0,
        *,
        volume: Volume | None = None,
    ) -> CaseRecord:
        """Save the case's labels and view state into the project folder, atomically.

        The labels go to ``cases/<id>/labels.nii.gz`` on the voxel grid of the scan's own
        file (so the file overlays the source scan voxel for voxel in other viewers),
        with Slicer/ITK-SNAP colour sidecars; then ``case.json`` gets the view state,
        label voxel counts, last editor and time. A case still 'to do' becomes 'in progress'.

        Args:
            case_id: the case.
            labels_zyx: uint8 ``[z, y, x]`` on ``volume``'s display grid.
            label_table: the document's table; must fit the schema (see
                ``LabelSchema.validate_label_table``).
            view_state: slice, window and active label to restore next time.
            user: who saves (default: the project's user).
            active_seconds: active annotation seconds since the last save, added to the total.
            volume: the open scan (its geometry is written); without it the scan is read again.

        Raises:
            CaseNotLocked, CaseLocked: the lock is not held (or was taken over).
            CaseReadOnly: the case is approved.
            LabelSchemaError: the table or the label values do not fit the schema.
            ProjectReadOnly: the project folder cannot be written (names the folder).
        """
        from medsam_gui.io.color_table import write_sidecars
        from medsam_gui.io.labelmap_export import write_labelmap

        case_id = self.case(case_id).case_id
        user = user or self.user
        self._require_lock(case_id)
        record = self._record_for_change(case_id, recreate_missing=True, user=user)
        if record.status is CaseStatus.APPROVED:
            raise CaseReadOnly(
                f"case '{case_id}' is approved and read-only; reopen it to change its labels",
                str(self.record_path(case_id)),
            )
        table = self.schema.validate_label_table(label_table)
        labels = np.asarray(labels_zyx)
        if labels.dtype != np.uint8:
            if labels.size and (labels.min() < 0 or labels.max() > 255):
                raise ProjectError(f"label values must be 0..255, found {labels.min()}..{labels.max()}")
            labels = labels.astype(np.uint8)
        self.schema.check_label_values(labels)
        volume = self.open_volume(case_id) if volume is None else volume
        if labels.shape != volume.shape_zyx:
            raise ProjectError(f"labels of shape {labels.shape} do not fit the scan {volume.shape_zyx}", self.image_path(case_id))
        target = self.labels_path(case_id)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(target) as temporary:
                write_labelmap(labels, volume, table, temporary, source_grid=True, sidecars=False)
            write_sidecars(target, table)
        except (MedsamGuiError, OSError) as error:
            if isinstance(error, ProjectError):
                raise
            raise self._not_writable(case_id, error) from error
        counts = np.bincount(labels.reshape(-1), minlength=256)
        record.label_voxels = {label.name: int(counts[label.value]) for label in self.schema if counts[label.value]}
        record.labels_saved = True
        record.last_editor = user
        record.last_edited = time.time()
        record.active_seconds += max(float(active_seconds), 0.0)
        if view_state is not None:
            record.view_state = view_state
        if record.status is CaseStatus.TO_DO:
            record = _with_status(record, CaseStatus.IN_PROGRESS, user, "labels saved")
        return self._write(case_id, record)

    def load_case_labels(self, case_id: str, volume: Volume) -> tuple[np.ndarray | None, ViewState | None]:
        """The saved labels on ``volume``'s display grid (None when none were saved) and the view state.

        Raises:
            CaseFileMissing: ``case.json``, or a labels file the record says was saved,
                was deleted (the text names the file).
            UnreadableInputError: the labels file is damaged.
        """
        from medsam_gui.io.label_import import import_labels

        record = self.record(case_id)
        path = self.labels_path(case_id)
        if not path.exists():
            if record.labels_saved:
                raise CaseFileMissing(
                    f"the saved labels of case '{case_id}' are missing (deleted outside the app?)", str(path), case_id
                )
            return None, record.view_state
        return import_labels(path, volume).labels, record.view_state

    def open_case(self, case_id: str, user: str | None = None, *, lock: bool = True) -> OpenedCase:
        """Open a case for the app: record, scan, labels, schema table, and the lock if it can be had.

        Reads the whole scan (call it off the GUI thread). When another instance holds
        the case, the project folder is read-only, or the case is approved, the case
        opens read-only and ``read_only_reason`` says why (the lock is still taken for an
        approved case, so it can be reopened).

        Raises:
            CaseFileMissing: ``case.json`` or the saved labels were deleted.
            UnreadableInputError: the scan cannot be read.
        """
        entry = self.case(case_id)
        record = self.record(entry.case_id)
        volume = self.open_volume(entry.case_id)
        held, reason, owner = None, None, None
        if lock:
            try:
                held = self.acquire_lock(entry.case_id, user)
            except CaseLocked as error:
                reason, owner = str(error.reason), error.owner
            except ProjectReadOnly as error:
                reason = str(error)
        else:
            reason = "opened read-only"
        try:
            labels, view_state = self.load_case_labels(entry.case_id, volume)
        except BaseException:
            if held is not None:
                self.release_lock(entry.case_id)
            raise
        if reason is None and record.status is CaseStatus.APPROVED:
            reason = f"case '{entry.case_id}' is approved; reopen it to edit"
        return OpenedCase(
            entry=entry,
            record=record,
            volume=volume,
            labels=labels if labels is not None else np.zeros(volume.shape_zyx, dtype=np.uint8),
            labels_saved=labels is not None,
            label_table=self.schema.label_table(),
            view_state=view_state,
            lock=held,
            read_only_reason=reason,
            locked_by=owner,
        )

    # adding cases -----------------------------------------------------------------------------

    def add_cases(
        self,
        images: str | Path,
        *,
        exclude: tuple[str, ...] | list[str] = (),
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        user: str | None = None,
    ) -> IndexResult:
        """Index more scans into the project; scans already in it (same path and series) are skipped.

        The case index is rewritten atomically under a project-wide lock
        (``cases.lock.json``), so two instances adding at once do not lose cases.

        Returns:
            The index result of the new cases only.
        """
        index_lock = acquire_lock(
            self.folder / INDEX_LOCK_FILE, "(case index)", user or self.user, stale_after_s=self.lock_stale_s
        )
        try:
            self.reload_index()
            taken = {case_id.casefold() for case_id in self.case_ids}
            result = index_images(images, self.folder, taken_ids=taken, exclude=exclude, progress=progress, cancel=cancel)
            known = {(entry.image, entry.series_uid) for entry in self._index.cases}
            result.cases = [entry for entry in result.cases if (entry.image, entry.series_uid) not in known]
            try:
                (self.folder / CASES_FOLDER).mkdir(parents=True, exist_ok=True)
                create_records(self.folder, [entry.case_id for entry in result.cases], ProgressReporter(progress, None))
                index = CaseIndex(self._index.cases + result.cases, self._index.unreadable + result.unreadable)
                write_case_index(self.folder, index)
            except (MedsamGuiError, OSError) as error:
                path = getattr(error, "path", None) or getattr(error, "filename", None) or self.folder
                raise ProjectReadOnly(f"cannot add cases: {getattr(error, 'reason', error)}", str(path)) from error
            self.reload_index()
            return result
        finally:
            index_lock.release()

    # export -------------------------------------------------------------------------------------

    def export(
        self,
        output: str | Path,
        format: str,
        statuses: list[CaseStatus | str] | None = None,
        *,
        channel_name: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> ExportResult:
        """Export a data set (formats 'nnunet', 'nifti', 'nrrd', 'seg'); see
        :func:`medsam_gui.project.export.export_project` for the arguments and errors."""
        from medsam_gui.project.export import export_project

        return export_project(
            self, output, format, statuses, channel_name=channel_name, progress=progress, cancel=cancel
        )


def _with_status(record: CaseRecord, status: CaseStatus, user: str, comment: str) -> CaseRecord:
    record.history.append(StatusChange(status, record.status, user, time.time(), comment))
    record.status = status
    if comment:
        record.comment = comment
    return record
