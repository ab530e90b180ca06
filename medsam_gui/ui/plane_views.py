"""PlaneViews: the axial, coronal and sagittal SliceViews, their layout and their drawing.

One job: show the open Document in three planes. It owns the three views, the layout
(one large view of a chosen plane, or the three side by side; the choice is kept in the
settings file), and draws each view from the Document: the slice through the 3D cursor
in that plane with the shared display window, the label overlay, the crosshair, the
orientation letters and the physical pixel aspect. It redraws from the Document's
announcements (labels changed, cursor moved); the preview and prompt graphics are
drawn by the PromptController (``ui/prompt_controller.py``) in the view of their
plane. It also knows the plane in use: the view last clicked or scrolled (or the one
view shown), whose slice is encoded first and whose slices the slice strip shows. A 2D
image, or a volume of fewer than ``MIN_SLICES_FOR_PLANES`` slices, is shown in the axial
view only.

Dependencies (explicit): ``overlay_settings`` (an object with ``overlays_visible``,
``opacity`` and ``outline_only``: the labels panel) and ``show_status(message, ms)``.
"""

from __future__ import annotations

import math

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QWidget

from medsam_gui.core.planes import MIN_SLICES_FOR_PLANES, PLANES, offers_other_planes
from medsam_gui.ui.canvas.orientation import plane_edge_letters
from medsam_gui.ui.canvas.rendering import overlay_to_qimage, slice_to_qimage
from medsam_gui.ui.canvas.view import SliceView
from medsam_gui.ui.panels.model import settings

LAYOUTS = ("axial", "coronal", "sagittal", "side_by_side")  # one large view of a plane, or 1 x 3
LAYOUT_KEY = "view/layout"
CROSSHAIR_KEY = "view/crosshair"


def remembered_layout() -> str:
    layout = settings().value(LAYOUT_KEY, "axial")
    return layout if layout in LAYOUTS else "axial"


class PlaneViews(QObject):
    """The three plane views of the window.

    Attributes:
        views: {'axial' | 'coronal' | 'sagittal': SliceView}.
        widget: the QWidget holding them (the window's central area).
        layout: one of :data:`LAYOUTS` (what the user chose, kept across sessions).
        current_plane: the plane in use: of the view the user last clicked or scrolled,
            or the one view shown (PgUp/PgDown and zoom act on it, its slice is encoded first).

    Signals:
        cursor_moved(str plane, float x, float y): image position under the mouse (NaN off it).
        window_dragged(int dx, int dy), files_dropped(list paths): as SliceView's.
        plane_in_use_changed(str plane): ``current_plane`` changed.
    The wheel and Ctrl+click are handled here: they move the Document's 3D cursor.
    """

    cursor_moved = pyqtSignal(str, float, float)
    plane_in_use_changed = pyqtSignal(str)
    window_dragged = pyqtSignal(int, int)
    files_dropped = pyqtSignal(list)

    def __init__(self, overlay_settings, show_status, parent=None) -> None:
        super().__init__(parent)
        self._overlay_settings = overlay_settings
        self._show_status = show_status
        self.document = None
        self.widget = QWidget()
        self.widget.setObjectName("plane_views")
        row = QHBoxLayout(self.widget)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        self.views: dict[str, SliceView] = {}
        for plane in PLANES:
            view = SliceView(plane=plane)
            view.slice_step.connect(lambda delta, p=plane: self.step(p, delta))
            view.cursor_moved.connect(lambda x, y, p=plane: self._on_mouse(p, x, y))
            view.window_dragged.connect(self.window_dragged)
            view.files_dropped.connect(self.files_dropped)
            view.crosshair_requested.connect(lambda x, y, v=view: self.move_cursor_to(v, x, y))
            view.pressed.connect(lambda p=plane: self.use_plane(p))
            row.addWidget(view, 1)
            self.views[plane] = view
        self.layout = remembered_layout()
        self.crosshair_visible = settings().value(CROSSHAIR_KEY, "true") != "false"
        self.current_plane = "axial"
        self._apply_layout()

    @property
    def axial(self) -> SliceView:
        return self.views["axial"]

    # -- what is offered -------------------------------------------------------------
    @property
    def other_planes_offered(self) -> bool:
        """Coronal and sagittal are shown for volumes of 8 slices or more (not before a case is open)."""
        return self.document is not None and offers_other_planes(self.document.volume.shape_zyx)

    def shown_planes(self) -> list[str]:
        """The planes whose views are visible now."""
        if not self.other_planes_offered:
            return ["axial"]
        return list(PLANES) if self.layout == "side_by_side" else [self.layout]

    # -- layout ----------------------------------------------------------------------
    def set_layout(self, layout: str) -> None:
        """Show ``layout`` (see :data:`LAYOUTS`) and remember it."""
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout '{layout}'")
        if layout != "axial" and self.document is not None and not self.other_planes_offered:
            self._show_status(f"Coronal and sagittal views need a volume of {MIN_SLICES_FOR_PLANES} slices or more; "
                              "this one is shown axially only", 5000)
            return
        self.layout = layout
        settings().setValue(LAYOUT_KEY, layout)
        self._apply_layout()
        self.render()
        for plane in self.shown_planes():
            self.views[plane].fit()

    def _apply_layout(self) -> None:
        shown = self.shown_planes()
        for plane, view in self.views.items():
            view.setVisible(plane in shown)
        if self.current_plane not in shown or len(shown) == 1:
            self.use_plane(shown[0])

    def use_plane(self, plane: str) -> None:
        """Make ``plane`` the plane in use (announced when it changes)."""
        if plane != self.current_plane:
            self.current_plane = plane
            self.plane_in_use_changed.emit(plane)

    # -- the document ----------------------------------------------------------------
    def set_document(self, document) -> None:
        """Show ``document`` (a new case): listen to it, set the letters, draw, fit."""
        self.document = document
        document.add_labels_listener(
            lambda first, end, d=document: d is self.document and self._on_labels_changed(first, end))
        document.add_cursor_listener(
            lambda previous, now, d=document: d is self.document and self._on_cursor_moved(previous, now))
        document.add_display_window_listener(lambda _center, _width, d=document: d is self.document and self.render())
        volume = document.volume
        for plane, view in self.views.items():
            view.edge_letters = {} if volume.is_2d else plane_edge_letters(document.plane_geometry(plane))
        self._apply_layout()
        self.render()
        for plane in self.shown_planes():
            self.views[plane].fit()

    def render(self) -> None:
        """Redraw every shown view (slice, overlay, crosshair)."""
        if self.document is None:
            return
        for plane in self.shown_planes():
            self.render_plane(plane)

    def render_plane(self, plane: str) -> None:
        """Redraw one view: the windowed slice through the cursor, its overlay and crosshair."""
        document = self.document
        view = self.views[plane]
        geometry = document.plane_geometry(plane)
        index = geometry.from_volume(*document.cursor_zyx)[0]
        image = geometry.take(document.volume.voxels, index)
        view.set_image(slice_to_qimage(image, document.window_center, document.window_width), geometry.row_aspect)
        view.caption = "" if len(self.shown_planes()) == 1 and plane == "axial" else \
            f"{plane} {index} of 0-{geometry.slice_count - 1}"
        self._draw_overlay(plane, geometry, index)
        self._draw_crosshair(plane, geometry)

    def draw_overlays(self) -> None:
        """Redraw the label overlay of every shown view (labels or their display changed)."""
        if self.document is None:
            return
        for plane in self.shown_planes():
            geometry = self.document.plane_geometry(plane)
            self._draw_overlay(plane, geometry, geometry.from_volume(*self.document.cursor_zyx)[0])

    def _draw_overlay(self, plane: str, geometry, index: int) -> None:
        panel = self._overlay_settings
        view = self.views[plane]
        if not panel.overlays_visible:
            view.set_overlay(None)
            return
        labels = geometry.take(self.document.labels, index)
        view.set_overlay(overlay_to_qimage(labels, self.document.label_table.lookup_table(), panel.opacity,
                                           panel.outline_only))

    def _draw_crosshair(self, plane: str, geometry) -> None:
        show = self.crosshair_visible and self.other_planes_offered and not self.document.volume.is_2d
        _index, row, column = geometry.from_volume(*self.document.cursor_zyx)
        self.views[plane].set_crosshair((row, column) if show else None)

    def _on_labels_changed(self, first_slice: int, end_slice: int) -> None:
        z = self.document.cursor_zyx[0]
        for plane in self.shown_planes():
            if plane != "axial" or first_slice <= z < end_slice:  # a z range crosses every coronal/sagittal slice
                geometry = self.document.plane_geometry(plane)
                self._draw_overlay(plane, geometry, geometry.from_volume(*self.document.cursor_zyx)[0])

    def _on_cursor_moved(self, previous_zyx, cursor_zyx) -> None:
        for plane in self.shown_planes():
            geometry = self.document.plane_geometry(plane)
            if geometry.from_volume(*previous_zyx)[0] != geometry.from_volume(*cursor_zyx)[0]:
                self.render_plane(plane)
            else:
                self._draw_crosshair(plane, geometry)

    # -- navigation ------------------------------------------------------------------
    def step(self, plane: str, delta: int) -> None:
        """Move the cursor ``delta`` slices along ``plane``'s slice axis (the wheel, PgUp/PgDown)."""
        if self.document is None:
            return
        self.go_to(plane, self.document.plane_index(plane) + delta)

    def go_to(self, plane: str, index: int) -> None:
        """Show slice ``index`` (clamped) of ``plane``: the cursor moves along its slice axis;
        ``plane`` becomes the plane in use (a plane not on screen gets the one large view)."""
        if self.document is None:
            return
        if plane not in self.shown_planes():
            self.set_layout(plane)
        self.use_plane(plane)
        geometry = self.document.plane_geometry(plane)
        _index, row, column = geometry.from_volume(*self.document.cursor_zyx)
        index = min(max(int(index), 0), geometry.slice_count - 1)
        self.document.set_cursor(geometry.to_volume(index, row, column))

    def move_cursor_to(self, view: SliceView, x: float, y: float) -> None:
        """Put the 3D cursor at image position (x, y) of ``view`` (clamped into its slice)."""
        if self.document is None or math.isnan(x) or math.isnan(y):
            return
        self.use_plane(view.plane)
        geometry = self.document.plane_geometry(view.plane)
        rows, columns = geometry.image_shape
        row = min(max(int(math.floor(y)), 0), rows - 1)
        column = min(max(int(math.floor(x)), 0), columns - 1)
        index = geometry.from_volume(*self.document.cursor_zyx)[0]
        self.document.set_cursor(geometry.to_volume(index, row, column))

    def show_axial(self) -> None:
        self.set_layout("axial")

    def show_coronal(self) -> None:
        self.set_layout("coronal")

    def show_sagittal(self) -> None:
        self.set_layout("sagittal")

    def show_side_by_side(self) -> None:
        self.set_layout("side_by_side")

    def toggle_crosshair(self) -> None:
        self.set_crosshair_visible(not self.crosshair_visible)
        self._show_status("Crosshair shown" if self.crosshair_visible else "Crosshair hidden", 2000)

    def set_crosshair_visible(self, visible: bool) -> None:
        self.crosshair_visible = bool(visible)
        settings().setValue(CROSSHAIR_KEY, "true" if visible else "false")
        if self.document is not None:
            for plane in self.shown_planes():
                self._draw_crosshair(plane, self.document.plane_geometry(plane))

    def fit(self) -> None:
        for plane in self.shown_planes():
            self.views[plane].fit()

    def step_in_use(self, delta: int) -> None:
        """Move ``delta`` slices along the plane in use (PgDown / PgUp)."""
        self.step(self.current_plane, delta)

    def zoom_in_use(self, factor: float) -> None:
        """Zoom the view of the plane in use by ``factor`` (Ctrl+= / Ctrl+-)."""
        self.views[self.current_plane].zoom_by(factor)

    def _on_mouse(self, plane: str, x: float, y: float) -> None:
        self.cursor_moved.emit(plane, x, y)
