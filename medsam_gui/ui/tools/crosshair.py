"""Crosshair tool: a left click or drag puts the linked 3D cursor there (Ctrl+left does
the same with any tool); the other views then show the slices through that point."""

from __future__ import annotations

from PyQt6.QtCore import QPointF, Qt

from medsam_gui.ui.tools.base import CanvasTool


class CrosshairTool(CanvasTool):
    """Needs ``context.plane_views.move_cursor_to(view, x, y)``."""

    name = "crosshair"
    cursor = Qt.CursorShape.CrossCursor

    def press(self, position: QPointF, modifiers) -> None:
        self.context.plane_views.move_cursor_to(self.active_view, position.x(), position.y())

    def move(self, position: QPointF, buttons, modifiers) -> None:
        if buttons & Qt.MouseButton.LeftButton:
            self.context.plane_views.move_cursor_to(self.active_view, position.x(), position.y())
