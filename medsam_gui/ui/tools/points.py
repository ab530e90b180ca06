"""Click tool: left click adds a positive point, right or Shift+left click a negative one,
on the slice of whichever plane the view shows."""

from __future__ import annotations

from PyQt6.QtCore import QPointF, Qt

from medsam_gui.ui.tools.base import CanvasTool, pixel_of


class PointTool(CanvasTool):
    name = "points"
    cursor = Qt.CursorShape.PointingHandCursor

    def _add(self, position: QPointF, positive: bool) -> None:
        document = self.context.document
        if document is None:
            return
        x, y = pixel_of(position)
        rows, cols = self._slice_shape_yx()
        if 0 <= x < cols and 0 <= y < rows:
            self.context.prompts.add_point(self._slice_index(), x, y, positive, plane=self.plane)

    def press(self, position: QPointF, modifiers) -> None:
        self._add(position, positive=not modifiers & Qt.KeyboardModifier.ShiftModifier)

    def right_click(self, position: QPointF) -> None:
        self._add(position, positive=False)
