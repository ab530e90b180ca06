"""A thin strip beside the slice slider: one cell per slice of the plane shown, coloured
by embedding state, with the slices a 3D job flagged as weak marked in red below (only
while the strip shows the plane that job ran in)."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtGui import QColor, QPainter
from PyQt6.QtWidgets import QWidget

STATE_COLOURS = {
    "encoded": QColor(60, 170, 90),
    "encoding": QColor(70, 130, 230),
    "queued": QColor(220, 170, 40),
}
NOT_REQUESTED = QColor(70, 70, 70)
CURRENT_MARK = QColor(255, 255, 255)
WEAK_MARK = QColor(230, 60, 50)
WEAK_MARK_HEIGHT = 3


class SliceStateStrip(QWidget):
    """Paints ``states`` ({slice: 'queued'|'encoding'|'encoded'}) for ``slice_count`` slices
    of ``plane``; ``weak_slices`` are slices of ``weak_plane``."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("slice_state_strip")
        self.setFixedHeight(6 + WEAK_MARK_HEIGHT)
        self.slice_count = 0
        self.current_slice = 0
        self.plane = "axial"
        self.states: dict[int, str] = {}
        self.weak_slices: list[int] = []
        self.weak_plane = "axial"
        self.setToolTip("Embeddings: green encoded, blue encoding, amber queued, grey not yet")

    def set_weak_slices(self, weak_slices: list[int], scores=None, plane: str = "axial") -> None:
        """Mark ``weak_slices`` (a 3D job's low-confidence slices of ``plane``) in red;
        ``scores`` (float, one per slice of that plane: the model's IoU estimate, NaN
        where none) go into the tooltip."""
        self.weak_slices = list(weak_slices)
        self.weak_plane = plane
        lines = ["Embeddings: green encoded, blue encoding, amber queued, grey not yet"]
        if self.weak_slices:
            described = [f"{index}" + (f" (IoU {scores[index]:.2f})" if scores is not None and not np.isnan(scores[index])
                                       else "") for index in self.weak_slices[:12]]
            lines.append(f"Red: weak {plane} slices of the last 3D job (W jumps there): " + ", ".join(described))
        self.setToolTip("\n".join(lines))
        self.update()

    def set_states(self, slice_count: int, states: dict[int, str], current_slice: int, plane: str = "axial") -> None:
        shown = (slice_count, states, current_slice, plane)
        if shown != (self.slice_count, self.states, self.current_slice, self.plane):
            self.slice_count, self.states, self.current_slice, self.plane = slice_count, dict(states), current_slice, plane
            self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), NOT_REQUESTED)
        if self.slice_count <= 0:
            return
        cell = self.width() / self.slice_count
        for slice_index, state in self.states.items():
            colour = STATE_COLOURS.get(state)
            if colour is not None:
                painter.fillRect(QRectF(slice_index * cell, 0, max(cell, 1.0), self.height()), colour)
        band = self.height() - WEAK_MARK_HEIGHT
        for slice_index in self.weak_slices if self.weak_plane == self.plane else ():
            painter.fillRect(QRectF(slice_index * cell, band, max(cell, 2.0), WEAK_MARK_HEIGHT), WEAK_MARK)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.fillRect(QRectF(self.current_slice * cell, 0, max(cell, 2.0), 2), CURRENT_MARK)
