"""The status bar's cursor read-out: voxel index, value, label and LPS position.

The read-out keeps a fixed width, so the status bar's message area does not jump while
the mouse moves; a longer text is elided at its end (the tooltip holds all of it). It
remembers the last cursor position, so a slice change updates it without a mouse move.
"""

from __future__ import annotations

import math

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel

# the width the read-out keeps: a typical CT voxel, without a label under the cursor
WIDTH_TEMPLATE = "x 511 y 511 z 99 | -1024 HU | LPS -123.4, -123.4, -123.4 mm"


def readout_text(document, x: float, y: float, plane: str = "axial") -> str:
    """'x 120 y 300 z 1 | 40 HU | label 1 | LPS -1.2, 3.4, 5.6 mm' for image position
    (x, y) on the document's current slice of ``plane`` (the slice through the 3D
    cursor); the indices are those of the volume, whatever the plane ('' outside)."""
    volume = document.volume
    geometry = document.plane_geometry(plane)
    column, row = int(math.floor(x)), int(math.floor(y))
    rows, columns = geometry.image_shape
    if not (0 <= column < columns and 0 <= row < rows):
        return ""
    z, y_index, x_index = geometry.to_volume(document.plane_index(plane), row, column)
    value = volume.voxels[z, y_index, x_index]
    value_text = " ".join(str(v) for v in np.atleast_1d(value)) + (" HU" if volume.modality == "CT" else "")
    label_value = int(document.labels[z, y_index, x_index])
    label_text = document.label_table.get(label_value).name if label_value in document.label_table else ""
    physical = volume.index_to_physical((x_index, y_index, z))
    return " | ".join(part for part in (
        f"x {x_index} y {y_index} z {z}",
        value_text,
        label_text,
        f"LPS {physical[0]:.1f}, {physical[1]:.1f}, {physical[2]:.1f} mm",
    ) if part)


class CursorReadout(QLabel):
    """A fixed-width label showing :func:`readout_text` at the last cursor position."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("status.readout")
        self.setFixedWidth(self.fontMetrics().horizontalAdvance(WIDTH_TEMPLATE))
        self._cursor_xy: tuple[float, float] | None = None  # image coordinates, None off the image
        self._plane = "axial"  # the view the mouse is over

    def show_cursor(self, document, x: float, y: float, plane: str = "axial") -> None:
        """The mouse is at image position (x, y) of the view of ``plane`` (NaN: it left the image)."""
        self._cursor_xy = None if math.isnan(x) else (x, y)
        self._plane = plane
        self.refresh(document)

    def refresh(self, document) -> None:
        """Show the voxel under the last cursor position on ``document``'s current slice of that plane."""
        text = ("" if document is None or self._cursor_xy is None
                else readout_text(document, *self._cursor_xy, plane=self._plane))
        self.setToolTip(text)
        self.setText(self.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, self.contentsRect().width()))
