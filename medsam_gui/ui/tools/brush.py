"""Brush and eraser: paint discs along the mouse path; one drag is one undo step."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF, Qt

from medsam_gui.ui.tools.base import CanvasTool


def stroke_mask(shape_yx: tuple[int, int], start_xy, end_xy, radius: float) -> np.ndarray:
    """bool ``[y, x]``: pixels whose centre lies within ``radius`` of the segment start-end.

    ``start_xy`` / ``end_xy`` are continuous image coordinates (pixel centres at +0.5).
    """
    rows, cols = shape_yx
    (sx, sy), (ex, ey) = start_xy, end_xy
    x_lo = max(int(np.floor(min(sx, ex) - radius)), 0)
    x_hi = min(int(np.ceil(max(sx, ex) + radius)) + 1, cols)
    y_lo = max(int(np.floor(min(sy, ey) - radius)), 0)
    y_hi = min(int(np.ceil(max(sy, ey) + radius)) + 1, rows)
    mask = np.zeros(shape_yx, dtype=bool)
    if x_lo >= x_hi or y_lo >= y_hi:
        return mask
    ys, xs = np.mgrid[y_lo:y_hi, x_lo:x_hi]
    px, py = xs + 0.5, ys + 0.5
    dx, dy = ex - sx, ey - sy
    length_sq = dx * dx + dy * dy
    t = np.zeros_like(px) if length_sq == 0 else np.clip(((px - sx) * dx + (py - sy) * dy) / length_sq, 0.0, 1.0)
    distance_sq = (px - (sx + t * dx)) ** 2 + (py - (sy + t * dy)) ** 2
    mask[y_lo:y_hi, x_lo:x_hi] = distance_sq <= radius * radius
    return mask


class BrushTool(CanvasTool):
    """Paints the active label ('add'); as an eraser ('erase') clears any label."""

    name = "brush"
    cursor = Qt.CursorShape.CrossCursor

    def __init__(self, context, erase: bool = False) -> None:
        super().__init__(context)
        self.erase = erase
        self.name = "eraser" if erase else "brush"
        self._last_xy: tuple[float, float] | None = None

    def _dab(self, position: QPointF) -> None:
        document = self.context.document
        here = (position.x(), position.y())
        mask = stroke_mask(document.labels.shape[1:], self._last_xy or here, here, self.context.brush_radius)
        if self.erase:
            document.paint_slice(document.slice_index, mask, value=0, mode="erase", description="eraser")
        else:
            document.paint_slice(document.slice_index, mask, mode="add", description="brush")
        self._last_xy = here

    def press(self, position: QPointF, modifiers) -> None:
        document = self.context.document
        if document is None:
            return
        document.begin_stroke("eraser" if self.erase else "brush")
        self._last_xy = None
        self._dab(position)

    def move(self, position: QPointF, buttons, modifiers) -> None:
        self.context.view.set_brush_outline((position.x() - 0.5, position.y() - 0.5), self.context.brush_radius)
        if self._last_xy is not None and buttons & Qt.MouseButton.LeftButton:
            self._dab(position)

    def release(self, position: QPointF, modifiers) -> None:
        if self._last_xy is None:
            return
        self._dab(position)
        self._last_xy = None
        self.context.document.end_stroke()

    def deactivate(self) -> None:
        if self._last_xy is not None:
            self._last_xy = None
            self.context.document.end_stroke()
        self.context.view.set_brush_outline(None, 0)
