"""What every canvas tool receives: mouse events in continuous image coordinates.

A pixel (x, y) covers [x, x+1) x [y, y+1); :func:`pixel_of` turns a position into the
column/row index. Tools reach the app through a small context object with
``document`` (the open Document or None), ``prompts`` (PromptSession), ``view``
(SliceView) and ``brush_radius``.
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
