"""DisplayWindowController: the display window (centre / width) the slices are shown through.

One job: set the open case's display window - a CT preset of
:data:`medsam_gui.core.window.CT_DISPLAY_PRESETS` (View menu, keys 1-5), the auto window
(percentiles of the non-zero voxels, for MR; key 0), or a right-drag on any plane view
(right / left: wider / narrower, down / up: higher / lower centre, by width/256 a
screen pixel). The window is the Document's (``Document.set_display_window``: kept in
sessions, never what the model sees, announced so the plane views redraw); each change
is shown in the status bar.

Dependencies (explicit): ``plane_views`` (PlaneViews: its ``document`` and
``window_dragged``) and ``status(message, ms)``.
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import QObject

from medsam_gui.core.window import CT_DISPLAY_PRESETS, percentile_window

DRAG_PIXELS_PER_WIDTH = 256.0  # a drag across this many screen pixels changes the window by its width
STATUS_MS = 2000


class DisplayWindowController(QObject):
    def __init__(self, plane_views, status: Callable[[str, int], None], parent=None) -> None:
        super().__init__(parent)
        self._plane_views = plane_views
        self._status = status
        plane_views.window_dragged.connect(self._on_dragged)

    def set_window(self, center: float, width: float) -> None:
        """Show the open case through ``center`` / ``width`` in the volume's units."""
        document = self._plane_views.document
        if document is None:
            return
        document.set_display_window(center, width)
        self._status(f"Window {document.window_center:.0f} / {document.window_width:.0f}", STATUS_MS)

    def use_preset(self, key: str) -> None:
        """The CT preset ``key`` of :data:`CT_DISPLAY_PRESETS` ('soft_tissue', 'lung', ...)."""
        preset = next(p for p in CT_DISPLAY_PRESETS if p.key == key)
        self.set_window(preset.center, preset.width)

    def use_auto(self) -> None:
        """The 0.5-99.5 percentile window of the volume's non-zero voxels."""
        document = self._plane_views.document
        if document is not None:
            self.set_window(*percentile_window(document.volume.voxels))

    def _on_dragged(self, dx: int, dy: int) -> None:
        document = self._plane_views.document
        if document is None:
            return
        step = document.window_width / DRAG_PIXELS_PER_WIDTH
        self.set_window(document.window_center + dy * step, document.window_width + dx * step)
