"""MainWindow: composes the plane views, the slice navigator, docks, menus and status bar.

The controllers do the work: OpeningController (reading scans), PromptController
(prompts, preview, accept, encoding focus), ToolController (the tool in use, the brush
radius), DisplayWindowController (window presets, auto window, right-drag),
Segment3DController (propagation, key boxes), ProjectController, CaseFilesController
(export/import, sessions, journal, recovery). The GUI thread alone
touches the Document. The encoder thread (EncoderWorker) and the decoder thread
(DecoderWorker) only compute; their results arrive as queued signals.
"""

from __future__ import annotations

import os

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from medsam_gui.core.app_info import about_text
from medsam_gui.core.document import Document
from medsam_gui.ui import recent_files
from medsam_gui.ui.actions import build_actions
from medsam_gui.ui.canvas.readout import CursorReadout
from medsam_gui.ui.canvas.start_hint import StartHint
from medsam_gui.ui.canvas.view import accept_file_drag, dropped_local_paths
from medsam_gui.ui.case_files import CaseFilesController
from medsam_gui.ui.dialogs import ShortcutsDialog
from medsam_gui.ui.display_window import DisplayWindowController
from medsam_gui.ui.panels.cases import CasesPanel
from medsam_gui.ui.panels.labels import LabelsPanel
from medsam_gui.ui.opening import OpeningController
from medsam_gui.ui.model_switcher import ModelSwitcher, saved_model_choice
from medsam_gui.ui.panels.model import ModelPanel
from medsam_gui.ui.plane_views import PlaneViews
from medsam_gui.ui.project_controller import ProjectController
from medsam_gui.ui.prompt_controller import PromptController
from medsam_gui.ui.segment3d import Segment3DController
from medsam_gui.ui.slice_label_edits import SliceLabelEdits
from medsam_gui.ui.slice_navigator import SliceNavigator
from medsam_gui.ui.tool_controller import ToolController
from medsam_gui.ui.worker import DecoderWorker, EncoderWorker

DOCK_WIDTH = 300


class MainWindow(QMainWindow):
    """The app window. Pass ``engine`` to share one; otherwise one is created in the background
    (``model_name``, or the model chosen last in the Model panel), unless ``load_model`` is
    False (then ``attach_engine`` gives the window its model later).
    """

    def __init__(self, engine=None, model_name: str | None = None, parent=None, load_model: bool = True) -> None:
        super().__init__(parent)
        self.setWindowTitle("medsam-gui")
        self.setAcceptDrops(True)
        self.resize(1200, 820)
        self.document: Document | None = None
        self.engine = None
        self.encoder: EncoderWorker | None = None
        self.decoder: DecoderWorker | None = None
        self._retired_threads: list = []  # the workers of models replaced: shutdown waits for them
        self._error_box: QMessageBox | None = None
        self._stopped = False  # shut down: a later close asks nothing

        self._build_docks()
        self._build_status_bar()
        self._build_central()
        self.prompt_controller = PromptController(
            self.plane_views, current_document=lambda: self.document, current_engine=lambda: self.engine,
            status=self.statusBar().showMessage, show_error=self.show_error, parent=self)
        self.prompts = self.prompt_controller.session
        self.prompts.waiting_for_model.connect(self._on_prompt_waiting_for_model)
        self.prompts.decoded.connect(lambda ms: self.decoder_label.setText(f"decoder {ms:.0f} ms"))
        self.tools = ToolController(self.plane_views, self.prompts, self.tool_label.setText, parent=self)
        self.display_window = DisplayWindowController(self.plane_views, self.statusBar().showMessage, parent=self)
        self.slice_label_edits = SliceLabelEdits(self.plane_views, parent=self)
        self.project_controller = ProjectController(
            self, self.cases_panel, self.cases_dock, self.labels_panel, self.statusBar(), self.show_error, self.open_path,
            self.set_volume, lambda: self.document, self.show_slice, self.render, self.confirm_unsaved_changes,
            current_engine=lambda: self.engine)
        self.case_files = CaseFilesController(  # the edit journal, its crash marker and the recovery offer start here
            self, current_document=lambda: self.document, set_volume=self.set_volume, show_slice=self.show_slice,
            render=self.render, labels_panel=self.labels_panel, status=self.statusBar().showMessage,
            show_error=self.show_error, confirm_unsaved_changes=self.confirm_unsaved_changes,
            project_controller=self.project_controller)
        self.segment3d = Segment3DController(
            self, current_document=lambda: self.document, current_engine=lambda: self.engine,
            current_plane=lambda: self.plane_views.current_plane, current_box=self.prompt_controller.box_on_screen,
            show_plane_slice=self.plane_views.go_to, render=self.render, status=self.statusBar().showMessage,
            show_error=self.show_error, slice_strip=self.state_strip)
        self.actions_by_id = build_actions(self, self.menuBar())
        self.recent_menu = QMenu("Open &recent", self)
        self.recent_menu.setObjectName("menu.recent")
        file_menu = self.menuBar().findChild(QMenu, "menu.file")
        file_menu.insertMenu(self.actions_by_id["file.quit"], self.recent_menu)
        self._refresh_recent_menu()
        self.tools.tool_changed.connect(lambda name: self.actions_by_id[f"tools.{name}"].setChecked(True))
        self.tools.use("box")

        self.model_switcher = ModelSwitcher(
            self.model_panel, current_engine=lambda: self.engine, attach_engine=self.attach_engine,
            retire_engine=self._retire_engine, busy=self.segment3d.busy_reason, set_model_text=self.model_label.setText,
            status=self.statusBar().showMessage, show_error=self.show_error, parent=self)
        if engine is not None:
            self.attach_engine(engine)
        elif load_model:
            self.model_switcher.load(model_name or saved_model_choice(), fall_back=model_name is None)

    # -- layout ----------------------------------------------------------------------
    def _build_central(self) -> None:
        self.plane_views = PlaneViews(self.labels_panel, self.statusBar().showMessage, self)
        self.view = self.plane_views.axial  # the start screen lives on the axial view
        self.plane_views.cursor_moved.connect(
            lambda plane, x, y: self.readout_label.show_cursor(self.document, x, y, plane))
        self.plane_views.files_dropped.connect(lambda paths: self.open_path(paths[0]))
        self.start_hint = StartHint()
        self.start_hint.recent_chosen.connect(self.open_path)
        self.view.set_placeholder(self.start_hint)
        self.navigator = SliceNavigator(self.plane_views, current_engine=lambda: self.engine,
                                        on_progress=self.model_panel.set_progress)
        self.slider, self.state_strip, self.slice_label = (self.navigator.slider, self.navigator.state_strip,
                                                           self.navigator.slice_label)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.plane_views.widget, 1)
        layout.addWidget(self.navigator)
        self.setCentralWidget(central)

    def _build_docks(self) -> None:
        self.labels_panel = LabelsPanel()
        docks = []
        self.labels_panel.labels_changed.connect(self.render)
        self.labels_panel.display_changed.connect(self.render)
        self.model_panel = ModelPanel()
        for title, widget, name in (("Labels", self.labels_panel, "dock.labels"), ("Model", self.model_panel, "dock.model")):
            dock = QDockWidget(title, self)
            dock.setObjectName(name)
            dock.setWidget(widget)
            widget.setMaximumWidth(2 * DOCK_WIDTH)
            dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
            docks.append(dock)
        self.resizeDocks(docks, [DOCK_WIDTH] * len(docks), Qt.Orientation.Horizontal)
        self.cases_panel = CasesPanel()
        self.cases_dock = QDockWidget("Cases", self)
        self.cases_dock.setObjectName("dock.cases")
        self.cases_dock.setWidget(self.cases_panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.cases_dock)
        self.cases_dock.hide()  # shown when a project is opened

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.readout_label = CursorReadout()
        self.opening = OpeningController(self, bar, self.show_error, self.confirm_unsaved_changes, self.set_volume)
        self.progress_bar, self.cancel_open_button = self.opening.progress_bar, self.opening.cancel_button
        self.model_label = QLabel("model: loading...")
        self.model_label.setObjectName("status.model")
        self.decoder_label = QLabel("decoder - ms")
        self.decoder_label.setObjectName("status.decoder")
        self.tool_label = QLabel("")
        for widget in (self.readout_label, self.progress_bar, self.cancel_open_button, self.tool_label, self.model_label,
                       self.decoder_label):
            bar.addPermanentWidget(widget)

    # -- engine ----------------------------------------------------------------------
    def attach_engine(self, engine) -> None:
        """Use ``engine``: start the encoder and decoder threads and give it the volume."""
        self.engine = engine
        info = engine.model_info
        self.model_label.setText(f"{info.display_name} on {info.device}")
        self.model_panel.set_model_info(info)
        self.model_panel.attach_engine(engine, self.statusBar().showMessage)  # encoder service (issue 16)
        self.encoder = EncoderWorker(engine, self)
        self.encoder.embedding_ready.connect(self._on_embedding_ready)
        self.encoder.failed.connect(self.show_error)
        self.decoder = DecoderWorker(engine, self)
        if self.document is not None:
            self._give_volume_to_engine()
        self.encoder.start()
        self.decoder.start()
        self.prompt_controller.set_decoder(self.decoder)  # sends a prompt drawn while the model loaded

    def _retire_engine(self) -> None:
        """Another model takes over: the current engine's threads stop after the job in
        flight, in the background (the UI never waits for a pass)."""
        self.engine.cancel_pending()
        for signal in (self.encoder.embedding_ready, self.encoder.failed, self.decoder.predicted, self.decoder.not_ready,
                       self.decoder.failed):
            signal.disconnect()  # an answer of the old model in flight reaches nobody
        for thread in (self.encoder, self.decoder):
            thread.request_stop()
            self._retired_threads.append(thread)
        self.engine = self.encoder = self.decoder = None

    def _on_prompt_waiting_for_model(self) -> None:
        """A box or point was drawn before the model is there: say what will happen."""
        model_failed = self.model_switcher.load_failed and self.engine is None
        self.statusBar().showMessage("No model is available: no mask can be computed" if model_failed
                                     else "The mask will appear when the model is loaded")

    def _give_volume_to_engine(self, focus: bool = True) -> None:
        """The engine works on the open volume from now on (``focus``: encoding the slice in use first)."""
        self.engine.cancel_pending()
        self.engine.set_volume(self.document.volume)
        if focus:
            self.prompt_controller.focus_encoding()

    def _on_embedding_ready(self, slice_index: int, from_cache: bool, seconds: float, plane: str) -> None:
        self.prompt_controller.on_embedding_ready(slice_index, from_cache, seconds, plane)
        if not from_cache:
            name = "Slice" if plane == "axial" else f"{plane.capitalize()} slice"
            self.statusBar().showMessage(f"{name} {slice_index} encoded in {seconds:.1f} s", 3000)
        self.navigator.poll_states()

    # -- opening ---------------------------------------------------------------------
    def open_path(self, path: str, series_uid: str | None = None, on_loaded=None) -> None:
        """Open a file or folder in the background (``OpeningController.open_path``)."""
        self.opening.open_path(path, series_uid, on_loaded)

    def set_volume(self, volume) -> None:
        """Show ``volume`` as a new Document (empty labels)."""
        self.case_files.before_case_switch()
        self.opening.show_busy(False)
        self.statusBar().clearMessage()
        self.start_hint.hide()
        self.prompt_controller.discard()
        self.document = Document(volume)
        self.document.add_labels_listener(self._on_labels_changed)
        self.document.add_cursor_listener(self._on_cursor_moved)
        self.case_files.after_case_opened()  # the edit journal
        if self.engine is not None:
            self._give_volume_to_engine(focus=False)  # before the views, which ask to encode the slices they show
        self.labels_panel.set_document(self.document)
        self.plane_views.set_document(self.document)  # draws and fits the views
        self.prompt_controller.focus_encoding()  # the slice on screen first, before the rest of this
        name = volume.description or os.path.basename(volume.source_path.rstrip("/"))
        self.setWindowTitle(f"{name} - medsam-gui")
        if volume.source_path:
            recent_files.remember(volume.source_path)
            self._refresh_recent_menu()
        for warning in volume.warnings:
            self.statusBar().showMessage(warning, 8000)
        self._draw_extras()

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = recent_files.load_recent()
        for path in paths:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_path(p))
        self.recent_menu.setEnabled(not self.recent_menu.isEmpty())
        self.start_hint.set_recent(paths)

    def dragEnterEvent(self, event) -> None:  # drops on the panels and status bar
        accept_file_drag(event)

    def dropEvent(self, event) -> None:
        paths = dropped_local_paths(event)
        if paths:
            self.open_path(paths[0])

    # -- drawing ---------------------------------------------------------------------
    def render(self) -> None:
        """Redraw every plane view with its preview and prompt, the navigator and the read-out."""
        if self.document is not None:
            self.plane_views.render()
            self._draw_extras()

    def _draw_extras(self) -> None:
        """The preview and prompt graphics, the slider, slice label and strip, the read-out."""
        self.prompt_controller.draw()
        self.navigator.refresh()
        self.readout_label.refresh(self.document)

    def _on_labels_changed(self, first_slice: int, end_slice: int) -> None:  # the views redraw themselves
        self.labels_panel.refresh_if_table_changed()  # undo may bring a deleted label back

    # -- navigation ------------------------------------------------------------------
    def show_slice(self, slice_index: int) -> None:
        """Show axial slice ``slice_index`` (clamped): the 3D cursor moves there."""
        if self.document is not None:
            self.document.set_cursor((slice_index, *self.document.cursor_zyx[1:]))

    def _on_cursor_moved(self, previous_zyx, cursor_zyx) -> None:
        """The 3D cursor moved (the plane views redraw themselves): a prompt whose slice
        left its view is forgotten, a new slice of the plane in use is encoded first."""
        self.prompt_controller.on_cursor_moved(previous_zyx, cursor_zyx)
        self._draw_extras()

    # -- edits -----------------------------------------------------------------------
    def undo(self) -> None:
        if self.document is not None and self.document.undo() is None:
            self.statusBar().showMessage("Nothing to undo", 2000)

    def redo(self) -> None:
        if self.document is not None and self.document.redo() is None:
            self.statusBar().showMessage("Nothing to redo", 2000)

    # -- help, errors, closing -------------------------------------------------------
    def show_shortcuts(self) -> None:
        ShortcutsDialog(self).open()

    def show_about(self) -> None:
        model_info = self.engine.model_info if self.engine is not None else None
        box = QMessageBox(QMessageBox.Icon.Information, "About medsam-gui", about_text(model_info), parent=self)
        box.setObjectName("about_box")
        box.open()

    def show_error(self, message: str) -> None:
        """Tell the user in words (status bar and a non-blocking dialog); the app goes on."""
        self.statusBar().showMessage(message, 10000)
        if self._error_box is None:  # one box, reused: a burst of errors is not a pile of dialogs
            self._error_box = QMessageBox(QMessageBox.Icon.Warning, "medsam-gui", message, parent=self)
            self._error_box.setObjectName("error_box")
        self._error_box.setText(message)
        if not self._error_box.isVisible():
            self._error_box.open()

    def ask_save_changes(self) -> str:
        """Ask what to do with unsaved labels: 'save', 'discard' or 'cancel'."""
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self, "Unsaved labels", "The labels have unsaved changes. Save them?",
            buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save,
        )
        return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")

    def confirm_unsaved_changes(self) -> bool:
        """Before the case is closed: ask about unsaved labels and save them if asked to.
        True = go ahead (nothing unsaved, saved, or discarded); False = keep the case.
        A project case is saved into its project without a question."""
        if not self.project_controller.close_case():
            return False
        if self.document is None or not self.document.is_modified:
            return True
        answer = self.ask_save_changes()
        if answer == "save":
            return self.case_files.save_work()
        return answer == "discard"

    def closeEvent(self, event) -> None:
        if self._stopped:
            event.accept()
            return
        if not self.confirm_unsaved_changes():
            event.ignore()
            return
        self.shutdown()
        event.accept()

    def stop_without_asking(self) -> None:
        """Close at once without a question (SIGTERM: a logout, a shutdown, ``kill``).
        Unsaved labels keep their journal, so the next start offers to recover them;
        with nothing unsaved, nothing is left behind."""
        self.shutdown(keep_journal=self.document is not None and self.document.is_modified)
        self.close()

    def shutdown(self, keep_journal: bool = False) -> None:
        """Stop the worker threads (a pass in flight finishes; nothing is killed) and
        close the edit journal (``keep_journal``: leave it for recovery)."""
        self._stopped = True
        self.project_controller.shutdown()
        self.segment3d.cancel()
        self.case_files.close(keep_journal)
        self.navigator.stop()
        self.model_panel.shutdown()  # encoder service: a connection test in flight ends (issue 16)
        if self.engine is not None:
            self.engine.cancel_pending()
        for thread in (self.encoder, self.decoder):
            if thread is not None and thread.isRunning():
                thread.stop()
        self.opening.wait()
        for thread in self._retired_threads:
            thread.wait()
        self.model_switcher.shutdown()
