"""What every canvas tool receives: mouse events in continuous image coordinates.

A pixel (x, y) covers [x, x+1) x [y, y+1); :func:`pixel_of` turns a position into the
column/row index. Tools reach the app through a small context object with
``document`` (the open Document or None), ``prompts`` (PromptSession), ``view``
(the axial SliceView), ``brush_radius`` and ``statusBar()``. The SliceView that sends an
event binds itself first (``bind_view``), so a tool knows the plane it works in.
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

    def _axial_only(self, what: str) -> bool:
        """True (and the user told so in the status bar) when this event is not on the axial view."""
        if self.plane == "axial":
            return False
        self.context.statusBar().showMessage(
            f"{what} work on the axial view only for now (F2 shows it); brush and eraser work on every view", 5000)
        return True

    def _slice_shape_yx(self) -> tuple[int, int] | None:
        document = self.context.document
        return None if document is None else document.labels.shape[1:]

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
