"""MainWindow: the plane views, slider with embedding states, docks, menus, status bar.

The GUI thread alone touches the Document. The encoder thread (EncoderWorker) and the
decoder thread (DecoderWorker) only compute; their results arrive as queued signals.
"""

from __future__ import annotations

import os

import numpy as np
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from scipy import ndimage

from medsam_gui.core.app_info import about_text
from medsam_gui.core.document import Document
from medsam_gui.core.window import CT_DISPLAY_PRESETS, percentile_window
from medsam_gui.ui import recent_files
from medsam_gui.ui.actions import build_actions
from medsam_gui.ui.canvas.readout import CursorReadout
from medsam_gui.ui.canvas.rendering import preview_to_qimage
from medsam_gui.ui.canvas.slice_strip import SliceStateStrip
from medsam_gui.ui.canvas.start_hint import StartHint
from medsam_gui.ui.canvas.view import accept_file_drag, dropped_local_paths
from medsam_gui.ui.case_files import CaseFilesMixin
from medsam_gui.ui.dialogs import SeriesChooser, ShortcutsDialog
from medsam_gui.ui.panels.cases import CasesPanel
from medsam_gui.ui.panels.labels import LabelsPanel
from medsam_gui.ui.panels.model import ModelPanel
from medsam_gui.ui.plane_views import PlaneViews
from medsam_gui.ui.project_controller import ProjectController
from medsam_gui.ui.prompting import PromptSession
from medsam_gui.ui.segment3d import Segment3DController
from medsam_gui.ui.tools.box import BoxTool
from medsam_gui.ui.tools.brush import BrushTool
from medsam_gui.ui.tools.crosshair import CrosshairTool
from medsam_gui.ui.tools.points import PointTool
from medsam_gui.ui.worker import DecoderWorker, EncoderWorker, EngineLoader, VolumeLoader

STATE_POLL_MS = 300
DOCK_WIDTH = 300
MIN_BRUSH_RADIUS, MAX_BRUSH_RADIUS = 1.0, 100.0
FILE_FILTER = "Scans (*.dcm *.nii *.nii.gz *.nrrd *.nhdr *.mha *.mhd *.png *.jpg *.jpeg *.tif *.tiff);;All files (*)"


class MainWindow(CaseFilesMixin, QMainWindow):
    """The app window. Pass ``engine`` to share one; otherwise one is created in the background,
    unless ``load_model`` is False (then ``attach_engine`` gives the window its model later).

    Tools use the window as their context: ``document``, ``prompts``, ``view`` (the axial
    view), ``plane_views``, ``brush_radius``, ``statusBar()``.
    """

    def __init__(self, engine=None, model_name: str = "litemedsam", parent=None, load_model: bool = True) -> None:
        super().__init__(parent)
        self.setWindowTitle("medsam-gui")
        self.setAcceptDrops(True)
        self.resize(1200, 820)
        self.document: Document | None = None
        self.engine = None
        self.encoder: EncoderWorker | None = None
        self.decoder: DecoderWorker | None = None
        self.brush_radius = 5.0
        self._loader: VolumeLoader | None = None
        self._abandoned_loaders: list[VolumeLoader] = []  # cancelled opens still reading
        self._engine_loader: EngineLoader | None = None
        self._error_box: QMessageBox | None = None
        self._stopped = False  # shut down: a later close asks nothing
        self._session_file: tuple[Document, str] | None = None  # (case, path) of its last saved/opened session

        self.prompts = PromptSession(self)
        self.prompts.prompt_changed.connect(self._draw_prompt)
        self.prompts.preview_changed.connect(self._draw_preview)
        self.prompts.waiting.connect(lambda index: self.statusBar().showMessage(f"Waiting for the embedding of slice {index}..."))
        self.prompts.waiting_for_model.connect(self._on_prompt_waiting_for_model)
        self.prompts.decoded.connect(lambda ms: self.decoder_label.setText(f"decoder {ms:.0f} ms"))
        self.prompts.failed.connect(self.show_error)

        self._build_docks()
        self._build_central()
        self._build_status_bar()
        self.project_controller = ProjectController(
            self, self.cases_panel, self.cases_dock, self.labels_panel, self.statusBar(), self.show_error, self.open_path,
            self.set_volume, lambda: self.document, self.show_slice, self.render, self.confirm_unsaved_changes,
            current_engine=lambda: self.engine)
        self.segment3d = Segment3DController(
            self, current_document=lambda: self.document, current_engine=lambda: self.engine,
            current_box=self._box_on_this_slice, show_slice=self.show_slice, render=self.render,
            status=self.statusBar().showMessage, show_error=self.show_error, slice_strip=self.state_strip)
        self.actions_by_id = build_actions(self, self.menuBar())
        self.recent_menu = QMenu("Open &recent", self)
        self.recent_menu.setObjectName("menu.recent")
        file_menu = self.menuBar().findChild(QMenu, "menu.file")
        file_menu.insertMenu(self.actions_by_id["file.quit"], self.recent_menu)
        self._refresh_recent_menu()

        self.tools = {
            "box": BoxTool(self),
            "points": PointTool(self),
            "brush": BrushTool(self),
            "eraser": BrushTool(self, erase=True),
            "crosshair": CrosshairTool(self),
        }
        self.use_box_tool()

        self._state_timer = QTimer(self)
        self._state_timer.setInterval(STATE_POLL_MS)
        self._state_timer.timeout.connect(self._poll_embedding_states)
        self._state_timer.start()
        self._init_case_files()  # autosave timer, crash marker, recovery offer (case_files.py)

        if engine is not None:
            self.attach_engine(engine)
        elif load_model:
            self._engine_loader = EngineLoader(model_name, parent=self)
            self._engine_loader.ready.connect(self.attach_engine)
            self._engine_loader.failed.connect(self._on_engine_failed)
            self._engine_loader.preparing.connect(self.model_label.setText)
            self._engine_loader.start()

    # -- layout ----------------------------------------------------------------------
    def _build_central(self) -> None:
        self.plane_views = PlaneViews(self.labels_panel, self.statusBar().showMessage, self)
        self.view = self.plane_views.axial  # prompts and their preview live on the axial view
        self.plane_views.cursor_moved.connect(
            lambda plane, x, y: self.readout_label.show_cursor(self.document, x, y, plane))
        self.plane_views.window_dragged.connect(self._on_window_dragged)
        self.plane_views.files_dropped.connect(lambda paths: self.open_path(paths[0]))
        self.start_hint = StartHint()
        self.start_hint.recent_chosen.connect(self.open_path)
        self.view.set_placeholder(self.start_hint)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("slice_slider")
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.valueChanged.connect(self.show_slice)
        self.slice_label = QLabel("-")
        self.slice_label.setMinimumWidth(90)
        self.state_strip = SliceStateStrip()
        slider_column = QVBoxLayout()
        slider_column.setSpacing(1)
        slider_column.addWidget(self.slider)
        slider_column.addWidget(self.state_strip)
        slider_row = QHBoxLayout()
        slider_row.addLayout(slider_column, 1)
        slider_row.addWidget(self.slice_label)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.plane_views.widget, 1)
        layout.addLayout(slider_row)
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
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("status.progress")
        self.progress_bar.setRange(0, 0)  # busy indicator
        self.progress_bar.setMaximumWidth(120)
        self.progress_bar.hide()
        self.cancel_open_button = QToolButton()
        self.cancel_open_button.setObjectName("status.cancel_open")
        self.cancel_open_button.setText("Cancel")
        self.cancel_open_button.setToolTip("Stop opening this file (the open case stays)")
        self.cancel_open_button.clicked.connect(self.cancel_open)
        self.cancel_open_button.hide()
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
        self.prompts.set_decoder(self.decoder)  # sends a prompt drawn while the model loaded

    def _on_engine_failed(self, message: str) -> None:
        self.model_label.setText("model: not available")
        self.model_panel.set_model_error(message)
        self.show_error(message)

    def _on_prompt_waiting_for_model(self) -> None:
        """A box or point was drawn before the model is there: say what will happen."""
        model_failed = self._engine_loader is not None and self._engine_loader.isFinished()
        self.statusBar().showMessage("No model is available: no mask can be computed" if model_failed
                                     else "The mask will appear when the model is loaded")

    def _give_volume_to_engine(self) -> None:
        self.engine.cancel_pending()
        self.engine.set_volume(self.document.volume)
        self.engine.focus(self.document.slice_index)

    def _on_embedding_ready(self, slice_index: int, from_cache: bool, seconds: float) -> None:
        self.prompts.on_embedding_ready(slice_index)
        if not from_cache:
            self.statusBar().showMessage(f"Slice {slice_index} encoded in {seconds:.1f} s", 3000)
        self._poll_embedding_states()

    def _poll_embedding_states(self) -> None:
        if self.engine is None or self.document is None:
            return
        states = self.engine.slice_states()
        total = self.document.volume.shape_zyx[0]
        self.state_strip.set_states(total, states, self.document.slice_index)
        self.model_panel.set_progress(sum(1 for s in states.values() if s == "encoded"), total)

    # -- opening ---------------------------------------------------------------------
    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a scan", "", FILE_FILTER)
        if path:
            self.open_path(path)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a DICOM folder")
        if path:
            self.open_path(path)

    def open_path(self, path: str, series_uid: str | None = None, on_loaded=None) -> None:
        """Open a file or folder in the background; the window stays usable meanwhile.
        ``on_loaded(volume)``, when given, is called instead of showing the volume
        (a project case: its controller saves the case being left and shows it)."""
        if on_loaded is None and not self.confirm_unsaved_changes():
            return
        self.cancel_open()  # a new open supersedes one still reading
        loader = VolumeLoader(str(path), series_uid, parent=self)
        # a cancelled or superseded loader's result (even one already queued) is dropped
        show = on_loaded or self.set_volume
        loader.loaded.connect(lambda volume: loader is self._loader and (self._show_opening(False), show(volume)))
        loader.ambiguous.connect(lambda folder, series: loader is self._loader and self._choose_series(folder, series))
        loader.failed.connect(lambda message: loader is self._loader and self._on_open_failed(message))
        self._loader = loader
        self._show_opening(True)
        self.statusBar().showMessage(f"Opening {path}...")
        loader.start()

    def cancel_open(self) -> None:
        """Stop waiting for the file being opened: its result is dropped when it arrives
        (a reader in flight is never killed) and the open case stays as it was."""
        loader, self._loader = self._loader, None
        if loader is None:
            return
        self._abandoned_loaders = [old for old in self._abandoned_loaders if old.isRunning()] + [loader]
        if not self.progress_bar.isVisible():
            return
        self._show_opening(False)
        self.statusBar().showMessage(f"Stopped opening {loader.path}", 5000)

    def _show_opening(self, opening: bool) -> None:
        self.progress_bar.setVisible(opening)
        self.cancel_open_button.setVisible(opening)

    def _on_open_failed(self, message: str) -> None:
        self._show_opening(False)
        self.show_error(message)

    def _choose_series(self, folder: str, series: list) -> None:
        self._show_opening(False)
        self.statusBar().clearMessage()
        chooser = SeriesChooser(folder, series, self)
        chooser.accepted.connect(lambda: chooser.chosen_uid and self.open_path(folder, chooser.chosen_uid))
        chooser.open()

    def set_volume(self, volume) -> None:
        """Show ``volume`` as a new Document (empty labels)."""
        self._before_case_switch()
        self._show_opening(False)
        self.statusBar().clearMessage()
        self.start_hint.hide()
        self.prompts.clear()
        self.document = Document(volume)
        self.document.add_labels_listener(self._on_labels_changed)
        self.document.add_cursor_listener(self._on_cursor_moved)
        self._after_case_opened()  # the edit journal (case_files.py)
        self.labels_panel.set_document(self.document)
        self.plane_views.set_document(self.document)
        slice_count = volume.shape_zyx[0]
        self.slider.blockSignals(True)
        self.slider.setRange(0, slice_count - 1)
        self.slider.setValue(self.document.slice_index)
        self.slider.blockSignals(False)
        name = volume.description or os.path.basename(volume.source_path.rstrip("/"))
        self.setWindowTitle(f"{name} - medsam-gui")
        if volume.source_path:
            recent_files.remember(volume.source_path)
            self._refresh_recent_menu()
        for warning in volume.warnings:
            self.statusBar().showMessage(warning, 8000)
        if self.engine is not None:
            self._give_volume_to_engine()
        self.render()
        self.plane_views.fit()

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
        """Redraw every plane view, and the preview and prompt of the current axial slice."""
        if self.document is not None:
            self.plane_views.render()
            self._draw_axial_extras()

    def _draw_axial_extras(self) -> None:
        """The preview, the prompt graphics, the slice label and the read-out."""
        self._draw_preview()
        self._draw_prompt()
        last = self.document.volume.shape_zyx[0] - 1
        self.slice_label.setMinimumWidth(self.slice_label.fontMetrics().horizontalAdvance(f"slice {last} of 0-{last} "))
        self.slice_label.setText(f"slice {self.document.slice_index} of 0-{last}")  # 0-based, as the command line counts
        self.readout_label.refresh(self.document)

    def _draw_preview(self) -> None:
        preview = self.prompts.preview
        if self.document is None or preview is None or preview.slice_index != self.document.slice_index:
            self.view.set_preview(None)
            return
        colour = self.document.label_table.get(self.document.active_label).colour
        self.view.set_preview(preview_to_qimage(preview.mask, colour))
        if not preview.mask.any():
            self.statusBar().showMessage("The model found no object here; draw a box around it (B)", 6000)
            return
        self.statusBar().showMessage(f"IoU {preview.score:.2f}: Enter adds, Shift+Enter replaces in box, Esc discards", 4000)

    def _draw_prompt(self) -> None:
        prompts = self.prompts
        on_this_slice = self.document is not None and prompts.slice_index == self.document.slice_index
        self.view.set_prompt_graphics(
            prompts.box_xyxy if on_this_slice else None,
            prompts.points_xy if on_this_slice and prompts.points_xy else None,
            prompts.point_labels,
        )

    def _on_labels_changed(self, first_slice: int, end_slice: int) -> None:  # the views redraw themselves
        self.labels_panel.refresh_if_table_changed()  # undo may bring a deleted label back

    # -- navigation ------------------------------------------------------------------
    def show_slice(self, slice_index: int) -> None:
        """Show axial slice ``slice_index`` (clamped) and encode it first (moves the 3D cursor)."""
        if self.document is None:
            return
        slice_index = int(min(max(slice_index, 0), self.document.volume.shape_zyx[0] - 1))
        if not self.document.set_cursor((slice_index, *self.document.cursor_zyx[1:])) and \
                self.slider.value() != slice_index:
            self._on_cursor_moved(self.document.cursor_zyx, self.document.cursor_zyx)

    def _on_cursor_moved(self, previous_zyx, cursor_zyx) -> None:
        """The 3D cursor moved (the plane views redraw themselves): a new axial slice
        leaves the prompt of the old one, moves the slider and is encoded first."""
        slice_index = cursor_zyx[0]
        if previous_zyx[0] != slice_index or self.slider.value() != slice_index:
            if self.prompts.slice_index is not None and self.prompts.slice_index != slice_index:
                self.prompts.clear()
            self.slider.blockSignals(True)
            self.slider.setValue(slice_index)
            self.slider.blockSignals(False)
            if self.engine is not None:
                self.engine.focus(slice_index)
        self._draw_axial_extras()

    def next_slice(self) -> None:
        self.plane_views.step(self.plane_views.current_plane, +1)

    def previous_slice(self) -> None:
        self.plane_views.step(self.plane_views.current_plane, -1)

    def fit_view(self) -> None:
        self.plane_views.fit()

    def zoom_in(self) -> None:
        self.plane_views.view_for_zoom().zoom_by(1.25)

    def zoom_out(self) -> None:
        self.plane_views.view_for_zoom().zoom_by(0.8)

    # -- window / level --------------------------------------------------------------
    def set_display_window(self, center: float, width: float) -> None:
        if self.document is None:
            return
        self.document.window_center, self.document.window_width = float(center), max(float(width), 1.0)
        self.statusBar().showMessage(f"Window {self.document.window_center:.0f} / {self.document.window_width:.0f}", 2000)
        self.render()

    def _on_window_dragged(self, dx: int, dy: int) -> None:
        if self.document is None:
            return
        step = max(self.document.window_width, 1.0) / 256.0
        self.set_display_window(self.document.window_center + dy * step, self.document.window_width + dx * step)

    def _window_preset(self, key: str) -> None:
        preset = next(p for p in CT_DISPLAY_PRESETS if p.key == key)
        self.set_display_window(preset.center, preset.width)

    def window_soft_tissue(self) -> None:
        self._window_preset("soft_tissue")

    def window_lung(self) -> None:
        self._window_preset("lung")

    def window_bone(self) -> None:
        self._window_preset("bone")

    def window_brain(self) -> None:
        self._window_preset("brain")

    def window_mediastinum(self) -> None:
        self._window_preset("mediastinum")

    def window_auto(self) -> None:
        if self.document is not None:
            self.set_display_window(*percentile_window(self.document.volume.voxels))

    # -- tools -----------------------------------------------------------------------
    def _use_tool(self, name: str) -> None:
        for view in self.plane_views.views.values():
            view.set_tool(self.tools[name])
        self.actions_by_id[f"tools.{name}"].setChecked(True)
        extra = f" (radius {self.brush_radius:g})" if name in ("brush", "eraser") else ""
        self.tool_label.setText(f"tool: {name}{extra}")

    def use_box_tool(self) -> None:
        self._use_tool("box")

    def use_point_tool(self) -> None:
        self._use_tool("points")

    def use_brush_tool(self) -> None:
        self._use_tool("brush")

    def use_eraser_tool(self) -> None:
        self._use_tool("eraser")

    def use_crosshair_tool(self) -> None:
        self._use_tool("crosshair")

    def _set_brush_radius(self, radius: float) -> None:
        self.brush_radius = min(max(radius, MIN_BRUSH_RADIUS), MAX_BRUSH_RADIUS)
        self._use_tool(self.view.tool.name)

    def brush_smaller(self) -> None:
        self._set_brush_radius(self.brush_radius / 1.25)

    def brush_larger(self) -> None:
        self._set_brush_radius(self.brush_radius * 1.25)

    # -- edits -----------------------------------------------------------------------
    def accept_preview(self) -> None:
        """Add the preview to the active label (one undo step)."""
        self._accept_preview(replace_in_box=False)

    def accept_preview_replacing(self) -> None:
        """Make the preview the active label's outline inside the box (one undo step)."""
        self._accept_preview(replace_in_box=True)

    def _accept_preview(self, replace_in_box: bool) -> None:
        if self.document is None:
            return
        if self.prompts.preview is None:
            self.statusBar().showMessage("No mask to accept yet", 2000)
            return
        name = self.document.label_table.get(self.document.active_label).name
        if self.prompts.accept_into(self.document, replace_in_box=replace_in_box):
            self.statusBar().showMessage(f"{name} replaced inside the box" if replace_in_box else f"Mask added to {name}", 3000)

    def _box_on_this_slice(self) -> tuple[int, int, int, int] | None:
        """The box drawn on the slice on screen (x0, y0, x1, y1), or None."""
        if self.document is None or self.prompts.slice_index != self.document.slice_index:
            return None
        return self.prompts.box_xyxy

    def discard_preview(self) -> None:
        self.prompts.clear()

    def undo(self) -> None:
        if self.document is not None and self.document.undo() is None:
            self.statusBar().showMessage("Nothing to undo", 2000)

    def redo(self) -> None:
        if self.document is not None and self.document.redo() is None:
            self.statusBar().showMessage("Nothing to redo", 2000)

    def fill_label_on_slice(self) -> None:
        """Fill the holes of the active label on this slice."""
        document = self.document
        if document is not None:
            filled = ndimage.binary_fill_holes(document.labels[document.slice_index] == document.active_label)
            document.paint_slice(document.slice_index, filled, mode="add", description="fill holes")

    def erase_label_on_slice(self) -> None:
        """Erase the active label on this slice."""
        document = self.document
        if document is not None:
            everywhere = np.ones(document.labels.shape[1:], dtype=bool)
            document.paint_slice(document.slice_index, everywhere, mode="erase", description="erase label on slice")

    # -- labels ----------------------------------------------------------------------
    def add_label(self) -> None:
        self.labels_panel.add_label()

    def next_label(self) -> None:
        self.labels_panel.step_label(+1)

    def previous_label(self) -> None:
        self.labels_panel.step_label(-1)

    def toggle_overlays(self) -> None:
        self.labels_panel.show_box.toggle()

    def toggle_outline(self) -> None:
        self.labels_panel.outline_box.toggle()

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
            return self.save_work()
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
        self._close_case_files(keep_journal)
        self._state_timer.stop()
        self.model_panel.shutdown()  # encoder service: a connection test in flight ends (issue 16)
        if self.engine is not None:
            self.engine.cancel_pending()
        for thread in (self.encoder, self.decoder):
            if thread is not None and thread.isRunning():
                thread.stop()
        for thread in (self._loader, self._engine_loader, *self._abandoned_loaders):
            if thread is not None:
                thread.wait()
