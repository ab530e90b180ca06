"""Brush and eraser: paint discs along the mouse path on any plane; one drag is one undo step.

A stroke on a coronal or sagittal view writes into that plane's slice through the
cursor (``Document.paint_plane``), so it shares the one history with axial edits. The
disc is round on screen: on stretched rows (3 mm slices in a coronal view) it spans
fewer rows than columns.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF, Qt

from medsam_gui.ui.tools.base import CanvasTool


def stroke_mask(shape_yx: tuple[int, int], start_xy, end_xy, radius: float, row_aspect: float = 1.0) -> np.ndarray:
    """bool ``[y, x]``: pixels whose centre lies within ``radius`` of the segment start-end.

    ``start_xy`` / ``end_xy`` are continuous image coordinates (pixel centres at +0.5).
    ``radius`` is in columns; a row counts ``row_aspect`` columns (row mm / column mm),
    so the disc is round in millimetres.
    """
    rows, cols = shape_yx
    row_aspect = row_aspect if row_aspect > 0 else 1.0
    row_radius = radius / row_aspect
    (sx, sy), (ex, ey) = start_xy, end_xy
    x_lo = max(int(np.floor(min(sx, ex) - radius)), 0)
    x_hi = min(int(np.ceil(max(sx, ex) + radius)) + 1, cols)
    y_lo = max(int(np.floor(min(sy, ey) - row_radius)), 0)
    y_hi = min(int(np.ceil(max(sy, ey) + row_radius)) + 1, rows)
    mask = np.zeros(shape_yx, dtype=bool)
    if x_lo >= x_hi or y_lo >= y_hi:
        return mask
    ys, xs = np.mgrid[y_lo:y_hi, x_lo:x_hi]
    px, py = xs + 0.5, (ys + 0.5) * row_aspect
    sy, ey = sy * row_aspect, ey * row_aspect
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
        self._stroke: tuple[str, int] | None = None  # (plane, slice index) of the stroke being drawn

    def _dab(self, position: QPointF) -> None:
        document = self.context.document
        plane, index = self._stroke
        geometry = document.plane_geometry(plane)
        here = (position.x(), position.y())
        mask = stroke_mask(geometry.image_shape, self._last_xy or here, here, self.context.brush_radius, geometry.row_aspect)
        if self.erase:
            document.paint_plane(plane, index, mask, value=0, mode="erase", description="eraser")
        else:
            document.paint_plane(plane, index, mask, mode="add", description="brush")
        self._last_xy = here

    def press(self, position: QPointF, modifiers) -> None:
        document = self.context.document
        if document is None:
            return
        document.begin_stroke("eraser" if self.erase else "brush")
        self._stroke = (self.plane, document.plane_index(self.plane))
        self._last_xy = None
        self._dab(position)

    def move(self, position: QPointF, buttons, modifiers) -> None:
        document = self.context.document
        row_aspect = document.plane_geometry(self.plane).row_aspect if document is not None else 1.0
        radius = self.context.brush_radius
        self.active_view.set_brush_outline((position.x() - 0.5, position.y() - 0.5), radius, radius / row_aspect)
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
        self.active_view.set_brush_outline(None, 0)
