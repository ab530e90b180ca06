"""What every canvas tool receives: mouse events in continuous image coordinates.

A pixel (x, y) covers [x, x+1) x [y, y+1); :func:`pixel_of` turns a position into the
column/row index. Tools reach the app through their context (the ToolController) with
``document`` (the open Document or None), ``prompts`` (PromptSession), ``view``
(the axial SliceView), ``plane_views`` and ``brush_radius``. The SliceView that sends an
event binds itself first (``bind_view``), so a tool knows the plane it works in; its
positions are pixels of that plane's displayed slice (``core.planes``).
"""

from __future__ import annotations

import math

from PyQt6.QtCore import QPointF, Qt


def pixel_of(position: QPointF) -> tuple[int, int]:
    """(x, y) pixel index containing an image position."""
    return int(math.floor(position.x())), int(math.floor(position.y()))


class CanvasTool:
    """Base tool: ignores everything. Subclasses override what they use."""

    name = "none"
    cursor = Qt.CursorShape.ArrowCursor

    def __init__(self, context) -> None:
        self.context = context
        self.view = None  # the SliceView of the current event

    def bind_view(self, view) -> None:
        """The events that follow come from ``view`` (its ``plane`` says which plane)."""
        self.view = view

    @property
    def active_view(self):
        return self.view if self.view is not None else self.context.view

    @property
    def plane(self) -> str:
        return getattr(self.active_view, "plane", "axial")

    def _slice_shape_yx(self) -> tuple[int, int] | None:
        """(rows, columns) of a slice of the plane this tool works in."""
        document = self.context.document
        return None if document is None else document.plane_geometry(self.plane).image_shape

    def _slice_index(self) -> int:
        """The slice of the plane this tool works in that its view shows (through the cursor)."""
        return self.context.document.plane_index(self.plane)

    def _clamp(self, x: int, y: int) -> tuple[int, int]:
        rows, cols = self._slice_shape_yx()
        return min(max(x, 0), cols - 1), min(max(y, 0), rows - 1)

    def press(self, position: QPointF, modifiers) -> None:
        """Left button pressed at ``position`` (image coordinates)."""

    def move(self, position: QPointF, buttons, modifiers) -> None:
        """Mouse moved (any buttons held, including none)."""

    def release(self, position: QPointF, modifiers) -> None:
        """Left button released."""

    def right_click(self, position: QPointF) -> None:
        """Right button clicked without dragging (a drag is window/level)."""

    def deactivate(self) -> None:
        """The tool is being switched away from."""
