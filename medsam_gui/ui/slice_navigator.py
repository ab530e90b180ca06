"""SliceNavigator: the slice slider, the embedding strip under it and the slice label,
for the plane in use.

One job: show where the plane in use (``PlaneViews.current_plane``) stands - its slice
through the 3D cursor, its slice count, and the embedding state of each of its slices
({slice: 'queued' | 'encoding' | 'encoded'} from ``engine.slice_states(plane=...)``,
polled) - and move the cursor along that plane when the slider is dragged. The weak
slices of a 3D job are marked only while the plane the job ran in is in use.

Dependencies (explicit): ``plane_views`` (its ``document``, ``current_plane``,
``go_to(plane, index)`` and ``plane_in_use_changed``), ``current_engine()`` (the Engine
or None) and ``on_progress(encoded, total)`` (the model panel's encoding progress).
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from medsam_gui.ui.canvas.slice_strip import SliceStateStrip

STATE_POLL_MS = 300


class SliceNavigator(QWidget):
    """Attributes: ``slider`` (QSlider), ``state_strip`` (SliceStateStrip), ``slice_label`` (QLabel)."""

    def __init__(self, plane_views, current_engine: Callable, on_progress: Callable[[int, int], None],
                 parent=None) -> None:
        super().__init__(parent)
        self._plane_views = plane_views
        self._engine = current_engine
        self._on_progress = on_progress
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("slice_slider")
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.valueChanged.connect(lambda index: self._plane_views.go_to(self._plane_views.current_plane, index))
        self.slice_label = QLabel("-")
        self.slice_label.setMinimumWidth(90)
        self.state_strip = SliceStateStrip()
        column = QVBoxLayout()
        column.setSpacing(1)
        column.addWidget(self.slider)
        column.addWidget(self.state_strip)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addLayout(column, 1)
        row.addWidget(self.slice_label)
        plane_views.plane_in_use_changed.connect(lambda _plane: self.refresh())
        self._timer = QTimer(self)
        self._timer.setInterval(STATE_POLL_MS)
        self._timer.timeout.connect(self.poll_states)
        self._timer.start()

    def refresh(self) -> None:
        """Show the slice of the plane in use through the cursor (a case opened, the
        cursor or the plane in use changed) and its embedding states."""
        document = self._plane_views.document
        if document is None:
            return
        plane = self._plane_views.current_plane
        geometry = document.plane_geometry(plane)
        index, last = document.plane_index(plane), geometry.slice_count - 1
        self.slider.blockSignals(True)
        self.slider.setRange(0, last)
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        name = "slice" if plane == "axial" else plane  # 0-based, as the command line counts
        self.slice_label.setMinimumWidth(self.slice_label.fontMetrics().horizontalAdvance(f"{name} {last} of 0-{last} "))
        self.slice_label.setText(f"{name} {index} of 0-{last}")
        self.poll_states()

    def poll_states(self) -> None:
        """Colour the strip with the embedding states of the plane in use."""
        engine, document = self._engine(), self._plane_views.document
        if engine is None or document is None:
            return
        plane = self._plane_views.current_plane
        states = engine.slice_states(plane=plane)
        total = document.plane_geometry(plane).slice_count
        self.state_strip.set_states(total, states, document.plane_index(plane), plane)
        self._on_progress(sum(1 for state in states.values() if state == "encoded"), total)

    def stop(self) -> None:
        self._timer.stop()
