"""A thin strip beside the slice slider: one cell per slice coloured by embedding state."""

from __future__ import annotations

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


class SliceStateStrip(QWidget):
    """Paints ``states`` ({slice: 'queued'|'encoding'|'encoded'}) for ``slice_count`` slices."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("slice_state_strip")
        self.setFixedHeight(6)
        self.slice_count = 0
        self.current_slice = 0
        self.states: dict[int, str] = {}
        self.setToolTip("Embeddings: green encoded, blue encoding, amber queued, grey not yet")

    def set_states(self, slice_count: int, states: dict[int, str], current_slice: int) -> None:
        if (slice_count, states, current_slice) != (self.slice_count, self.states, self.current_slice):
            self.slice_count, self.states, self.current_slice = slice_count, dict(states), current_slice
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
        painter.setPen(Qt.PenStyle.NoPen)
        painter.fillRect(QRectF(self.current_slice * cell, 0, max(cell, 2.0), 2), CURRENT_MARK)
