"""ProjectController: an annotator works through a project's cases in the window.

One job: the annotation project. It creates and opens projects (indexing on a
background thread with a cancellable progress dialog), opens cases (the scan read in
the background through the window's loader, then the case's lock, saved labels and
view state), saves a case whenever it is left (next/previous case, another case,
another file or project, closing the window), records statuses and comments, keeps
the case locks alive (heartbeat), counts active annotation time, and reads the next
case's scan ahead of time (prefetch) so "next case" shows it at once.

Everything goes through the Qt-free :class:`medsam_gui.project.Project` API and the
Document (``load_saved_state``, ``mark_saved``, ``read_only``). The window passes in
the pieces this controller uses; nothing else of the window is touched.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QEvent, QObject, Qt, QThread, QTimer, pyqtSignal
from PyQt6.QtWidgets import QApplication, QFileDialog, QInputDialog, QMessageBox, QProgressDialog, QWidget

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.project.errors import CaseLocked, OperationCancelled, ProjectReadOnly
from medsam_gui.project.locks import HEARTBEAT_INTERVAL_S
from medsam_gui.project.project import Project
from medsam_gui.project.records import CaseRecord, CaseStatus, ViewState
from medsam_gui.project.schema import LabelSchema
from medsam_gui.ui.worker import VolumeLoader

IDLE_GAP_S = 120.0  # a longer pause between two inputs is not annotation time
PREFETCH_SLICE_OFFSETS = (0, 1, -1, 2, -2)  # the next case's opening slice first, then its neighbours
UNREADABLE_SHOWN = 20
CASES_DOCK_WIDTH = 420  # px: case, status, editor, time, labels and comment fit side by side  # unreadable scans listed by name after creating a project
INPUT_EVENTS = frozenset({
    QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease, QEvent.Type.MouseMove,
    QEvent.Type.Wheel, QEvent.Type.KeyPress,
})


class ActiveTimeCounter:
    """Seconds of real work: the time between consecutive inputs, except gaps longer
    than ``idle_gap_s`` (the annotator was away). ``clock()`` gives seconds (injectable)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, idle_gap_s: float = IDLE_GAP_S) -> None:
        self.clock = clock
        self.idle_gap_s = idle_gap_s
        self._last_input: float | None = None
        self._seconds = 0.0

    def note_input(self) -> None:
        """An input happened now."""
        now = self.clock()
        if self._last_input is not None and 0.0 <= now - self._last_input <= self.idle_gap_s:
            self._seconds += now - self._last_input
        self._last_input = now

    def restart(self) -> None:
        """A new case: nothing counted, and the next input starts the count."""
        self._last_input, self._seconds = None, 0.0

    def take_seconds(self) -> float:
        """The seconds counted since the last take (they are handed over once)."""
        seconds, self._seconds = self._seconds, 0.0
        return seconds

    def give_back(self, seconds: float) -> None:
        """Seconds taken for a save that failed: counted again."""
        self._seconds += seconds


class ProjectCreator(QThread):
    """Indexes the scans into a new project off the GUI thread.

    Signals:
        progress(int done, int total, str message): ``total`` 0 while unknown.
        created(object project, object index_result)
        failed(str message): the folder and the reason (also when cancelled).
    """

    progress = pyqtSignal(int, int, str)
    created = pyqtSignal(object, object)
    failed = pyqtSignal(str)

    def __init__(self, folder: str, images: str, schema: LabelSchema, user: str | None, parent=None) -> None:
        super().__init__(parent)
        self.folder, self.images, self.schema, self.user = folder, images, schema, user
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Stop at the next file; nothing of the project is left behind."""
        self._cancel.set()

    def run(self) -> None:
        try:
            project, result = Project.create(self.folder, self.images, self.schema, user=self.user,
                                             progress=self.progress.emit, cancel=self._cancel)
        except OperationCancelled:
            self.failed.emit(f"{self.folder}: project creation cancelled; nothing was written")
        except MedsamGuiError as error:
            self.failed.emit(f"the project was not created: {error}")
        except Exception as error:  # an unexpected indexing bug still reaches the user in words
            self.failed.emit(f"the project was not created: {type(error).__name__}: {error}")
        else:
            self.created.emit(project, result)


@dataclass
class OpenProjectCase:
    """The case on screen: its id, its Document, and why it may not be edited (None: editable)."""

    case_id: str
    document: object
    read_only_reason: str | None


class ProjectController(QObject):
    """The annotation project of one window.

    Args:
        window: the main window: parent of dialogs; its input counts as active time.
        cases_panel, cases_dock: the case table and the dock holding it.
        labels_panel: switched to the project's schema while a project case is open.
        status_bar: where progress, read-only refusals and lock problems are said.
        show_error: tells the user an error in words.
        open_scan(path, series_uid, on_loaded): reads a scan in the background and calls
            ``on_loaded(volume)`` (instead of showing it) when done; failures are shown.
        show_volume(volume): makes ``volume`` the window's new Document.
        current_document(): the window's Document, or None.
        show_slice(index), render(): redraw after the saved state was put in.
        confirm_leaving(): before a project is opened: saves or asks about unsaved
            work (True: go ahead).
        user: the name written into locks and records (default: the OS user).
        clock: seconds for active time (injectable for tests).

    Signals:
        project_opened(object project): a project was created or opened.
        case_opened(str case_id): a case is on screen with its saved labels.
    """

    project_opened = pyqtSignal(object)
    case_opened = pyqtSignal(str)

    def __init__(self, window: QWidget, cases_panel, cases_dock, labels_panel, status_bar,
                 show_error: Callable[[str], None], open_scan: Callable, show_volume: Callable,
                 current_document: Callable, show_slice: Callable[[int], None], render: Callable[[], None],
                 confirm_leaving: Callable[[], bool], user: str | None = None,
                 clock: Callable[[], float] = time.monotonic, current_engine: Callable = lambda: None) -> None:
        super().__init__(window)
        self._window = window
        self.cases_panel = cases_panel
        self.cases_dock = cases_dock
        self.labels_panel = labels_panel
        self.status_bar = status_bar
        self._show_error = show_error
        self._open_scan = open_scan
        self._show_volume = show_volume
        self._current_document = current_document
        self._show_slice = show_slice
        self._render = render
        self._confirm_leaving = confirm_leaving
        self._current_engine = current_engine
        self.user = user
        self.project: Project | None = None
        self.case: OpenProjectCase | None = None
        self.active_time = ActiveTimeCounter(clock)
        self.prefetch_next_case = True  # read the next case's scan while this one is worked on
        self._creator: ProjectCreator | None = None
        self._prefetch: tuple[str, VolumeLoader] | None = None
        self._prefetched: tuple[str, object] | None = None  # (case id, volume) read ahead
        self.cases_panel.case_activated.connect(self.open_case)
        self.heartbeat_timer = QTimer(self)
        self.heartbeat_timer.setObjectName("project.heartbeat_timer")
        self.heartbeat_timer.setInterval(int(HEARTBEAT_INTERVAL_S * 1000))
        self.heartbeat_timer.timeout.connect(self.heartbeat)
        QApplication.instance().installEventFilter(self)

    # -- projects --------------------------------------------------------------------
    def new_project_dialog(self) -> None:
        """File > New project...: ask where the scans are, where the project goes, the labels."""
        from medsam_gui.ui.project_dialogs import NewProjectDialog

        dialog = NewProjectDialog(self._window)
        dialog.accepted.connect(lambda: self.create_project(dialog.folder, dialog.images, dialog.label_names))
        dialog.open()

    def open_project_dialog(self) -> None:
        """File > Open project...: choose the project folder."""
        folder = QFileDialog.getExistingDirectory(self._window, "Open an annotation project")
        if folder:
            self.open_project(folder)

    def create_project(self, folder: str | Path, images: str | Path, label_names: list[str]) -> bool:
        """Index ``images`` into a new project at ``folder`` in the background (a progress
        dialog can cancel it); when done the project opens and unreadable scans are
        listed. False when it could not start (the user is told why)."""
        if self._creator is not None and self._creator.isRunning():
            self._show_error("a project is being created already; wait for it or cancel it")
            return False
        try:
            schema = LabelSchema.from_names(label_names)
        except MedsamGuiError as error:
            self._show_error(str(error))
            return False
        creator = ProjectCreator(str(folder), str(images), schema, self.user, parent=self)
        dialog = QProgressDialog(f"Indexing the scans in {images}...", "Cancel", 0, 0, self._window)
        dialog.setObjectName("project.create_progress")
        dialog.setWindowTitle("New project")
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(creator.cancel)
        creator.progress.connect(lambda done, total, message: _show_progress(dialog, done, total, message))
        creator.created.connect(self._on_project_created)
        creator.failed.connect(self._show_error)
        creator.finished.connect(dialog.hide)
        creator.finished.connect(dialog.deleteLater)
        self._creator = creator
        creator.start()
        dialog.show()
        return True

    def _on_project_created(self, project: Project, result) -> None:
        if not self._confirm_leaving():
            self.status_bar.showMessage(f"Project created in {project.folder}; open it with File > Open project", 15000)
            return
        self._use_project(project)
        if result.unreadable:
            lines = [f"{item.path}: {item.reason}" for item in result.unreadable[:UNREADABLE_SHOWN]]
            if len(result.unreadable) > UNREADABLE_SHOWN:
                lines.append(f"... and {len(result.unreadable) - UNREADABLE_SHOWN} more (see cases.json)")
            box = QMessageBox(QMessageBox.Icon.Warning, "Scans left out",
                              f"{len(result.unreadable)} scans could not be read and are not cases:\n" + "\n".join(lines),
                              parent=self._window)
            box.setObjectName("project.unreadable_box")
            box.open()

    def open_project(self, folder: str | Path) -> bool:
        """Open the project at ``folder`` (the case on screen is saved and closed first).
        False when it stays as it was (the user is told why)."""
        if not self._confirm_leaving():
            return False
        try:
            project = Project.open(folder, user=self.user)
        except MedsamGuiError as error:
            self._show_error(str(error))
            return False
        self._use_project(project)
        return True

    def _use_project(self, project: Project) -> None:
        if self.project is not None:
            self.project.release_all_locks()
        self._drop_prefetch()
        self.project = project
        self.cases_panel.set_records(project.records())
        self.cases_dock.show()
        self.cases_dock.raise_()
        self._window.resizeDocks([self.cases_dock], [CASES_DOCK_WIDTH], Qt.Orientation.Horizontal)
        self.heartbeat_timer.start()
        self.status_bar.showMessage(f"Project {project.name}: {len(project.case_ids)} cases "
                                    "(double-click a case; Ctrl+Right / Ctrl+Left: next / previous case)", 10000)
        self.project_opened.emit(project)

    # -- opening and leaving cases -----------------------------------------------------
    @property
    def has_open_case(self) -> bool:
        return self.case is not None

    def open_case(self, case_id: str) -> None:
        """Open ``case_id``: its scan is read in the background (or taken from the
        prefetch); the case on screen is saved and closed when the new scan is there."""
        if self.project is None or (self.case is not None and self.case.case_id == case_id):
            return
        if self.case is None and not self._confirm_leaving():
            return  # a scan outside the project with unsaved labels, kept
        try:
            entry = self.project.case(case_id)
            image = self.project.image_path(case_id)
        except MedsamGuiError as error:
            self._show_error(str(error))
            return
        if self._prefetched is not None and self._prefetched[0] == case_id:
            volume, self._prefetched = self._prefetched[1], None
            self._show_case(case_id, volume)
            return
        self._drop_prefetch()
        self.status_bar.showMessage(f"Opening case {case_id}...")
        self._open_scan(str(image), entry.series_uid, lambda volume: self._show_case(case_id, volume))

    def _show_case(self, case_id: str, volume) -> None:
        """The scan of ``case_id`` was read: leave the case on screen, then show this one
        with its saved labels, view state, lock (or why it is read-only)."""
        if not self.close_case():
            return  # the case on screen could not be saved; it stays (the error was shown)
        self._show_volume(volume)
        document = self._current_document()
        project = self.project
        reason = None
        try:
            project.acquire_lock(case_id)
        except CaseLocked as error:
            reason = f"locked by {error.owner.describe()}" if error.owner is not None else error.reason
        except ProjectReadOnly as error:
            reason = f"the project folder cannot be written ({error.reason})"
        labels, view_state, record = None, None, None
        try:
            record = project.record(case_id)
            labels, view_state = project.load_case_labels(case_id, document.volume)
        except MedsamGuiError as error:
            project.release_lock(case_id)
            self._show_error(f"case '{case_id}': {error}")
            reason = "its saved labels could not be read"
        if reason is None and record.is_approved:
            reason = "approved (Project > Reopen to edit)"
        view = {key: value for key, value in view_state.to_json().items() if value is not None} if view_state else None
        document.load_saved_state(labels if labels is not None else np.zeros(volume.shape_zyx, dtype=np.uint8),
                                  project.schema.label_table(), view)
        document.read_only = reason is not None
        document.add_refused_edit_listener(self._on_refused_edit)
        self.case = OpenProjectCase(case_id, document, reason)
        self.active_time.restart()
        self.labels_panel.set_schema(project.schema)
        self.labels_panel.set_document(document)
        self._show_slice(document.slice_index)
        self._render()
        if record is not None:
            self.cases_panel.update_record(record)
        self.cases_panel.select_case(case_id)
        position = project.case_ids.index(case_id) + 1
        opened = f"Case {case_id} ({position} of {len(project.case_ids)})"
        self.status_bar.showMessage(f"{opened}, read-only: {reason}" if reason else opened, 15000)
        self.case_opened.emit(case_id)
        self._start_prefetch()

    def save_case(self) -> bool:
        """Save the open case into the project: labels (when changed), view state and
        active time; the Document is then saved (its edit journal emptied). True when
        nothing is left unsaved; False when the save failed (the error is shown, the
        case stays open and unchanged)."""
        case = self.case
        if case is None or not self.project.holds_lock(case.case_id):
            return True  # nothing open, or read-only without the lock: nothing of ours to write
        document = case.document
        seconds = self.active_time.take_seconds()
        view_state = ViewState(**document.view_state())
        try:
            if document.is_modified and not document.read_only:
                record = self.project.save_case_labels(case.case_id, document.labels, document.label_table, view_state,
                                                       active_seconds=seconds, volume=document.volume)
                document.mark_saved()
            else:
                record = self.project.save_view_state(case.case_id, view_state)
                if seconds > 0:
                    record = self.project.add_active_seconds(case.case_id, seconds)
        except MedsamGuiError as error:
            self.active_time.give_back(seconds)
            self._show_error(f"case '{case.case_id}' was not saved: {error}")
            return False
        self.cases_panel.update_record(record)
        return True

    def close_case(self) -> bool:
        """Save the open case and release its lock. False (the case stays open) when the
        save failed."""
        case = self.case
        if case is None:
            return True
        if not self.save_case():
            return False
        self.project.release_lock(case.case_id)
        self.case = None
        self.labels_panel.set_schema(None)
        return True

    def next_case(self) -> None:
        """Save this case and open the next one in the case table's order (sort and filter)."""
        self._step_case(+1)

    def previous_case(self) -> None:
        """Save this case and open the previous one in the case table's order."""
        self._step_case(-1)

    def _neighbour_in_view(self, step: int) -> str | None:
        """The case ``step`` rows from the open one in the table as shown (the first or
        last row when the open case is not shown), or None past the end."""
        case_ids = self.cases_panel.case_ids_in_view()
        if not case_ids:
            return None
        current = self.case.case_id if self.case is not None else None
        if current in case_ids:
            position = case_ids.index(current) + step
        else:
            position = 0 if step > 0 else len(case_ids) - 1
        return case_ids[position] if 0 <= position < len(case_ids) else None

    def _step_case(self, step: int) -> None:
        if self.project is None:
            self.status_bar.showMessage("Open a project first (File > Open project...)", 5000)
            return
        case_id = self._neighbour_in_view(step)
        if case_id is None:
            self.status_bar.showMessage("No further case in the list" if step > 0 else "No earlier case in the list", 5000)
            return
        self.open_case(case_id)

    # -- statuses and comments -----------------------------------------------------------
    def mark_done(self) -> None:
        """Project > Mark done: save the case and set its status to 'done'."""
        self._change_case(lambda case_id: self.project.set_status(case_id, CaseStatus.DONE), "marked done")

    def approve(self) -> None:
        """Project > Approve: save the case and approve it (read-only until reopened)."""
        self._change_case(lambda case_id: self.project.set_status(case_id, CaseStatus.APPROVED), "approved")

    def mark_needs_fix(self, comment: str | None = None) -> None:
        """Project > Needs fix...: set 'needs fix' with a comment (asked when not given);
        an approved case is reopened with that status."""
        comment = self._ask_text("Needs fix", "What needs fixing?") if comment is None else comment
        if comment is None:
            return

        def needs_fix(case_id: str) -> CaseRecord:
            if self.project.is_read_only(case_id):
                return self.project.reopen(case_id, comment, status=CaseStatus.NEEDS_FIX)
            return self.project.set_status(case_id, CaseStatus.NEEDS_FIX, comment)

        self._change_case(needs_fix, "marked needs fix")

    def reopen(self) -> None:
        """Project > Reopen: make an approved case editable again (status 'needs fix')."""
        self._change_case(lambda case_id: self.project.reopen(case_id), "reopened")

    def edit_comment(self, comment: str | None = None) -> None:
        """Project > Comment...: set the case's comment (asked when not given)."""
        if comment is None and self.case is not None:
            comment = self._ask_text("Comment", f"Comment on case {self.case.case_id}:",
                                     self.project.record(self.case.case_id).comment)
        if comment is None:
            return
        self._change_case(lambda case_id: self.project.set_comment(case_id, comment), "comment saved")

    def _ask_text(self, title: str, label: str, text: str = "") -> str | None:
        answer, ok = QInputDialog.getText(self._window, title, label, text=text)
        return answer.strip() if ok else None

    def _change_case(self, change: Callable[[str], CaseRecord], done_text: str) -> None:
        """Save the open case, then ``change(case_id) -> record`` through the Project
        (who and when are recorded there); the table row and read-only state follow."""
        case = self.case
        if case is None:
            self.status_bar.showMessage("Open a case of a project first", 5000)
            return
        if not self.project.holds_lock(case.case_id):
            self.status_bar.showMessage(f"read-only: {case.read_only_reason}", 8000)
            return
        if not self.save_case():
            return
        try:
            record = change(case.case_id)
        except MedsamGuiError as error:
            self._show_error(str(error))
            return
        self._set_read_only(case, "approved (Project > Reopen to edit)" if record.is_approved else None)
        self.cases_panel.update_record(record)
        self.status_bar.showMessage(f"Case {case.case_id} {done_text} ({record.status.text})", 8000)

    def _set_read_only(self, case: OpenProjectCase, reason: str | None) -> None:
        case.read_only_reason = reason
        case.document.read_only = reason is not None
        self.labels_panel.refresh()

    def _on_refused_edit(self, _description: str) -> None:
        if self.case is not None:
            self.status_bar.showMessage(f"read-only: {self.case.read_only_reason}", 8000)

    # -- locks, active time, prefetch, shutdown ------------------------------------------
    def heartbeat(self) -> None:
        """Refresh this instance's case locks; a lock taken over makes its case read-only."""
        if self.project is None:
            return
        for problem in self.project.heartbeat_locks():
            self.status_bar.showMessage(f"Case lock: {problem}", 15000)
            if isinstance(problem, CaseLocked) and self.case is not None and problem.case_id == self.case.case_id:
                owner = problem.owner.describe() if problem.owner is not None else "another instance"
                self._set_read_only(self.case, f"the lock was taken over by {owner}")

    def eventFilter(self, watched, event) -> bool:
        """Every mouse or key input on the window, while a case is open, is active time."""
        if self.case is not None and event.type() in INPUT_EVENTS and isinstance(watched, QWidget) \
                and watched.window() is self._window:
            self.active_time.note_input()
        return False

    def _start_prefetch(self) -> None:
        """Read the next case's scan (in the table's order) in the background."""
        case_id = self._neighbour_in_view(+1)
        if not self.prefetch_next_case or case_id is None or (self._prefetched is not None and self._prefetched[0] == case_id):
            return
        self._drop_prefetch()
        try:
            entry, image = self.project.case(case_id), self.project.image_path(case_id)
        except MedsamGuiError:
            return  # opening that case will say what is wrong
        loader = VolumeLoader(str(image), entry.series_uid, parent=self)
        loader.loaded.connect(lambda volume: self._on_prefetched(loader, case_id, volume))
        self._prefetch = (case_id, loader)
        loader.start()

    def _on_prefetched(self, loader: VolumeLoader, case_id: str, volume) -> None:
        """The next scan is read: keep it, and have the engine encode the slice it will
        open at and its neighbours while the encoder is otherwise idle."""
        if self._prefetch is None or self._prefetch[1] is not loader:
            return
        self._prefetched, self._prefetch = (case_id, volume), None
        engine = self._current_engine()
        if engine is None:
            return
        try:
            view = self.project.record(case_id).view_state
        except MedsamGuiError:
            view = None
        start = view.slice_index if view is not None and view.slice_index is not None else volume.shape_zyx[0] // 2
        engine.prefetch(volume, [start + offset for offset in PREFETCH_SLICE_OFFSETS])

    def _drop_prefetch(self) -> None:
        """Forget the scan read ahead (a reader in flight finishes; its result is dropped)."""
        self._prefetch, self._prefetched = None, None

    def shutdown(self) -> None:
        """The window closes: stop the heartbeat and the input count, release every lock
        and wait for a read-ahead in flight."""
        self.heartbeat_timer.stop()
        QApplication.instance().removeEventFilter(self)
        if self.project is not None:
            self.project.release_all_locks()
        for loader in self.findChildren(VolumeLoader):
            loader.wait()
        if self._creator is not None:
            self._creator.cancel()
            self._creator.wait()


def _show_progress(dialog: QProgressDialog, done: int, total: int, message: str) -> None:
    dialog.setMaximum(max(total, 0))
    dialog.setValue(min(done, total) if total else 0)
    dialog.setLabelText(message)
