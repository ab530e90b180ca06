"""SliceLabelEdits: whole-slice edits of the active label on the slice of the plane in use.

One job: Edit > Fill holes (Ctrl+F: the active label's holes on that slice become the
label) and Edit > Erase label on slice (Delete: the active label leaves that slice). Each
is one undoable Document edit (``Document.paint_plane``), announced like any other, so
every view redraws and the journal keeps it.

Dependencies (explicit): ``plane_views`` (PlaneViews: its ``document`` and
``current_plane``).
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QObject
from scipy import ndimage


class SliceLabelEdits(QObject):
    def __init__(self, plane_views, parent=None) -> None:
        super().__init__(parent)
        self._plane_views = plane_views

    def fill_holes(self) -> None:
        """Fill the holes of the active label on the slice of the plane in use."""
        document, plane = self._plane_views.document, self._plane_views.current_plane
        if document is not None:
            index = document.plane_index(plane)
            label = document.plane_geometry(plane).take(document.labels, index) == document.active_label
            document.paint_plane(plane, index, ndimage.binary_fill_holes(label), mode="add", description="fill holes")

    def erase(self) -> None:
        """Erase the active label on the slice of the plane in use."""
        document, plane = self._plane_views.document, self._plane_views.current_plane
        if document is not None:
            everywhere = np.ones(document.plane_geometry(plane).image_shape, dtype=bool)
            document.paint_plane(plane, document.plane_index(plane), everywhere, mode="erase",
                                 description="erase label on slice")
