"""CaseFilesController: the case's files - export/import labels, sessions, the edit
journal and crash recovery.

One job, for one window: its public methods are the handlers of the File >
Export/Import/Session rows of ``actions.py`` (``case_files.export_labels_dialog``...).
Dependencies (explicit, see the constructor): the window (parent of its dialogs), the
open Document, how to show a volume / a slice / redraw, the labels panel, the status
bar, error reporting, and the project controller (a project case saves into its project).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PyQt6.QtCore import QObject, QTimer
from PyQt6.QtWidgets import QFileDialog, QMessageBox, QWidget

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.io.atomic import full_suffix
from medsam_gui.io.autosave import COMPACT_INTERVAL_S, Autosaver
from medsam_gui.io.dataset_export import write_coco, write_medsam_npz, write_png_masks
from medsam_gui.io.dicom_seg import write_dicom_seg
from medsam_gui.io.label_import import import_labels
from medsam_gui.io.labelmap_export import LABELMAP_SUFFIXES, write_labelmap
from medsam_gui.io.load import open_volume
from medsam_gui.io.session import SESSION_SUFFIX, load_session, restore_into_document, save_session, state_from_document
from medsam_gui.ui.export_names import case_name, export_path_for, filter_suffix, suggested_export_name

EXPORT_FILTERS = (
    "NIfTI labelmap (*.nii.gz)",
    "NRRD labelmap (*.nrrd)",
    "MetaImage labelmap (*.mha)",
    "DICOM SEG (*.dcm)",
    "PNG masks per slice (*.png)",
    "COCO JSON (*.json)",
    "MedSAM npz (*.npz)",
)
IMPORT_FILTER = "Labelmaps (*.nii.gz *.nii *.nrrd *.mha *.mhd *.dcm);;All files (*)"
SESSION_FILTER = f"medsam-gui session (*{SESSION_SUFFIX})"
JOURNAL_ERROR_POLL_MS = 1000


def export_labels_to(path: str | Path, document, on_warning) -> list[Path]:
    """Write ``document``'s labels to ``path``, the format chosen by its extension.

    ``on_warning(message)`` receives each sentence the user should read about the
    written file (e.g. a DICOM SEG that had to invent the scan's missing UIDs).
    Returns the written files. Raises MedsamGuiError for an unknown extension or a
    failed write.
    """
    path = Path(path)
    suffix = full_suffix(path)
    labels, volume, table = document.labels, document.volume, document.label_table
    if suffix in LABELMAP_SUFFIXES:
        return write_labelmap(labels, volume, table, path)
    if suffix == ".dcm":
        return [write_dicom_seg(labels, volume, table, path, on_warning=on_warning)]
    if suffix == ".png":
        return write_png_masks(labels, volume, path.parent, path.name[: -len(".png")])
    if suffix == ".json":
        return [write_coco(labels, volume, table, path)]
    if suffix == ".npz":
        return [write_medsam_npz(labels, volume, path)]
    raise MedsamGuiError("unknown export format; use .nii.gz, .nrrd, .mha, .dcm, .png, .json or .npz", path)


class CaseFilesController(QObject):
    """Export/import, sessions, autosave and recovery for one window.

    Args:
        window: parent of the file dialogs and questions.
        current_document(): the open Document or None.
        set_volume(volume): show a volume as a new Document; show_slice(index), render().
        labels_panel: shows the document's label table (``set_document``).
        status(message, milliseconds), show_error(message): tell the user.
        confirm_unsaved_changes(): True when the open case may be closed.
        project_controller: ``has_open_case`` and ``save_case()``.
    Attribute ``autosaver``: the edit journal (io/autosave.py).
    """

    def __init__(self, window: QWidget, current_document: Callable, set_volume: Callable, show_slice: Callable[[int], None],
                 render: Callable[[], None], labels_panel, status: Callable[[str, int], None],
                 show_error: Callable[[str], None], confirm_unsaved_changes: Callable[[], bool], project_controller) -> None:
        super().__init__(window)
        self._window = window
        self._current_document = current_document
        self._set_volume = set_volume
        self._show_slice = show_slice
        self._render = render
        self._labels_panel = labels_panel
        self._status = status
        self._show_error = show_error
        self._confirm_unsaved_changes = confirm_unsaved_changes
        self._project = project_controller
        self._session_file = None  # (case Document, path) of its last saved/opened session
        self.autosaver = Autosaver()
        self._recoverable = self.autosaver.find_recoverable()
        self.autosaver.start()
        self._compact_timer = QTimer(self)
        self._compact_timer.setObjectName("journal_compact_timer")
        self._compact_timer.setInterval(COMPACT_INTERVAL_S * 1000)
        self._compact_timer.timeout.connect(self.autosaver.compact)
        self._compact_timer.start()
        self._journal_error_timer = QTimer(self)
        self._journal_error_timer.setInterval(JOURNAL_ERROR_POLL_MS)
        self._journal_error_timer.timeout.connect(self._show_journal_errors)
        self._journal_error_timer.start()
        if self._recoverable:
            QTimer.singleShot(0, self.offer_recovery)

    @property
    def document(self):
        return self._current_document()

    def before_case_switch(self) -> None:
        """Stop journaling the case being left (its journal stays until a clean exit
        when it has unsaved changes)."""
        self.autosaver.detach()

    def after_case_opened(self) -> None:
        """Journal every change of the new case from now on (durable within moments)."""
        self.autosaver.attach(self.document)

    def close(self, keep_journal: bool = False) -> None:
        """Exit. Clean (the user has saved or discarded): journals and the crash marker
        go. ``keep_journal`` (stopped by a signal with unsaved work): both stay, so the
        next start offers recovery."""
        self._compact_timer.stop()
        self._journal_error_timer.stop()
        self.autosaver.close(keep_files=keep_journal)

    # -- journal and recovery -------------------------------------------------------------
    def _show_journal_errors(self) -> None:
        """Tell the user when the edit journal cannot be written (disk full, folder gone)."""
        while not self.autosaver.errors.empty():
            self._status(f"Warning: {self.autosaver.errors.get()}; save your work", 15000)

    def offer_recovery(self) -> None:
        """Offer the journals of a session that crashed; recovered labels are one undo step."""
        entries, self._recoverable = self._recoverable, []
        for entry in entries:
            answer = QMessageBox.question(
                self._window,
                "Recover labels",
                f"medsam-gui did not close cleanly. Recover the labels of\n{entry.scan_path}\n"
                f"last changed at {entry.saved_at_text} ({entry.label_count} labels)?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard,
                QMessageBox.StandardButton.Yes,
            )
            if answer == QMessageBox.StandardButton.Yes:
                try:
                    state = self.autosaver.recover(entry)
                    self._set_volume(open_volume(state.scan_path, state.series_uid))
                    self.document.merge_labels(state.label_table)
                    self.document.replace_labels(state.labels, "recovered labels")
                    self._labels_panel.set_document(self.document)
                    self._show_slice(state.slice_index)
                    self._render()
                except MedsamGuiError as error:
                    self._show_error(f"could not recover the labels: {error}")
                    continue
            self.autosaver.forget(entry)

    # -- export / import ---------------------------------------------------------------------
    def export_labels_dialog(self) -> None:
        if self.document is None:
            self._show_error("open a scan first")
            return
        volume, label = self.document.volume, self.document.label_table.get(self.document.active_label)
        suggestion = suggested_export_name(case_name(volume.description, volume.source_path), label.name,
                                           filter_suffix(EXPORT_FILTERS[0]))
        path, selected_filter = QFileDialog.getSaveFileName(self._window, "Export labels", suggestion, ";;".join(EXPORT_FILTERS),
                                                            EXPORT_FILTERS[0])
        if path:
            self.export_labels(export_path_for(path, selected_filter, EXPORT_FILTERS))

    def export_labels(self, path: str) -> list[Path]:
        """Export to ``path`` and report where it went, with any warning about the file
        (errors go to the user, not up)."""
        export_warnings: list[str] = []
        try:
            written = export_labels_to(path, self.document, on_warning=export_warnings.append)
        except MedsamGuiError as error:
            self._show_error(str(error))
            return []
        exported = f"Exported {written[0]}" + (f" (+{len(written) - 1} files)" if len(written) > 1 else "")
        self._status(". Warning: ".join([exported, *export_warnings]), 15000 if export_warnings else 8000)
        return written

    def import_labels_dialog(self) -> None:
        if self.document is None:
            self._show_error("open a scan first")
            return
        path, _ = QFileDialog.getOpenFileName(self._window, "Import labels", "", IMPORT_FILTER)
        if path:
            self.import_labels(path)

    def import_labels(self, path: str) -> bool:
        """Replace the labels by a labelmap file (one undo step); names/colours join the table."""
        try:
            imported = import_labels(path, self.document.volume)
        except MedsamGuiError as error:
            self._show_error(str(error))
            return False
        self.document.merge_labels(imported.label_table)
        self.document.replace_labels(imported.labels, f"import {Path(path).name}")
        self._labels_panel.set_document(self.document)
        self._render()
        self._status(" ".join([f"Imported {path}", *imported.warnings]), 8000)
        return True

    # -- sessions ------------------------------------------------------------------------------
    def save_session_dialog(self) -> None:
        if self.document is None:
            self._show_error("open a scan first")
            return
        path, _ = QFileDialog.getSaveFileName(self._window, "Save session", "", SESSION_FILTER)
        if path:
            self.save_session(path if path.endswith(SESSION_SUFFIX) else path + SESSION_SUFFIX)

    def save_session(self, path: str) -> None:
        try:
            written = save_session(state_from_document(self.document), path)
        except (MedsamGuiError, OSError) as error:
            self._show_error(f"{path}: session not saved ({error})")
            return
        self.document.mark_saved()
        self._session_file = (self.document, str(written))
        self._status(f"Session saved to {written}", 8000)

    def save_work(self) -> bool:
        """Save the labels into the project when a project case is open; else to this
        case's session file (the one last saved or opened for it), else through the Save
        session dialog. True when no unsaved change is left;
        False when the dialog was cancelled or the save failed (the user is told why)."""
        if self._project.has_open_case:
            return self._project.save_case()
        if self.document is None:
            return True
        session = self._session_file
        if session is not None and session[0] is self.document:
            self.save_session(session[1])
        else:
            self.save_session_dialog()
        return not self.document.is_modified

    def open_session_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._window, "Open session", "", SESSION_FILTER)
        if path:
            self.open_session(path)

    def open_session(self, path: str) -> None:
        """Reopen the session's scan and put its labels, table, window and slice back."""
        if not self._confirm_unsaved_changes():
            return
        try:
            state = load_session(path)
            volume = open_volume(state.scan_path, state.series_uid)
            self._set_volume(volume)
            restore_into_document(self.document, state)
        except MedsamGuiError as error:
            self._show_error(str(error))
            return
        self._session_file = (self.document, path)
        self._labels_panel.set_document(self.document)
        self._show_slice(state.slice_index)
        self._render()
        self._status(f"Opened session {path}", 5000)
