"""Document: one open case - the volume, its labels, the undo history, the view state.

All label changes go through a Document so that each one is undoable and every
listener hears about it. The GUI thread alone mutates a Document.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from medsam_gui.core import edits
from medsam_gui.core.history import History, Step, TableChange
from medsam_gui.core.labelmap import LabelTable, new_label_array
from medsam_gui.core.volume import Volume
from medsam_gui.core.window import default_display_window

LabelsChangedListener = Callable[[int, int], None]  # (first slice, last slice + 1)


class Document:
    """An open scan with its labelmap ``labels`` ``[z, y, x]`` uint8 and label table.

    Attributes:
        volume: the scan.
        labels: uint8 ``[z, y, x]`` on the volume's display grid.
        label_table: names and colours of the label values.
        history: undo/redo of every change to ``labels``.
        slice_index: the slice on screen.
        active_label: value new masks and brush strokes go into.
        window_center, window_width: the display window (never what the model sees).
    """

    def __init__(self, volume: Volume, history_max_bytes: int = 256 * 1024 * 1024) -> None:
        self.volume = volume
        self.labels = new_label_array(volume.shape_zyx)
        self.label_table = LabelTable()
        self.history = History(max_bytes=history_max_bytes)
        self.slice_index = volume.shape_zyx[0] // 2
        self.active_label = self.label_table.add().value
        self.window_center, self.window_width = default_display_window(
            volume.voxels, volume.modality, volume.default_window
        )
        self._listeners: list[LabelsChangedListener] = []
        self.history.mark_clean()

    # -- listeners -------------------------------------------------------------------
    def add_labels_listener(self, listener: LabelsChangedListener) -> None:
        """``listener(first_slice, end_slice)`` is called after every label change."""
        self._listeners.append(listener)

    def _notify(self, first_slice: int, end_slice: int) -> None:
        for listener in self._listeners:
            listener(first_slice, end_slice)

    def _record(self, edit: edits.LabelEdit | None) -> bool:
        if not self.history.apply(self.labels, edit):
            return False
        self._notify(*edit.slice_range)
        return True

    # -- label edits -----------------------------------------------------------------
    def paint_slice(self, slice_index: int, mask_yx: np.ndarray, value: int | None = None, mode: str = "add",
                    description: str = "paint", within_yx: np.ndarray | None = None) -> bool:
        """Write a 2D mask ``[y, x]`` into one slice (see ``edits.edit_paint_slice`` for
        the modes and ``within_yx``).

        Returns True when a voxel changed. Inside a brush stroke (``begin_stroke``)
        the edit joins the stroke's single undo step.
        """
        value = self.active_label if value is None else value
        return self._record(edits.edit_paint_slice(self.labels, slice_index, mask_yx, value, mode, description, within_yx))

    def paint_volume(self, mask_zyx: np.ndarray, value: int | None = None, description: str = "3D mask") -> bool:
        """Paint a 3D mask ``[z, y, x]`` with ``value`` as one undo step."""
        value = self.active_label if value is None else value
        return self._record(edits.edit_paint_volume(self.labels, mask_zyx, value, description))

    def replace_labels(self, new_labels_zyx: np.ndarray, description: str = "import labels") -> bool:
        """Make the labelmap equal ``new_labels_zyx`` (an import) as one undo step."""
        if new_labels_zyx.shape != self.labels.shape:
            raise ValueError(f"labels of shape {new_labels_zyx.shape} do not fit the volume {self.labels.shape}")
        return self._record(edits.edit_from_new_values(self.labels, new_labels_zyx.astype(np.uint8), (0, 0, 0), description))

    def begin_stroke(self, description: str = "brush") -> None:
        """Start a brush stroke: every paint until ``end_stroke`` is one undo step."""
        self.history.begin_group(description)

    def end_stroke(self) -> Step | None:
        return self.history.end_group()

    # -- labels table ----------------------------------------------------------------
    def add_label(self, name: str | None = None, colour: tuple[int, int, int] | None = None) -> int:
        """Add a label and make it active; returns its value."""
        self.active_label = self.label_table.add(name, colour).value
        return self.active_label

    def update_label(self, value: int, **changes) -> None:
        """Rename (``name=``), recolour (``colour=``) or hide (``visible=``) a label.

        Names and colours are part of the saved work (they go into every export), so
        changing them is an undo step and marks the document modified; visibility is
        only a view setting.
        """
        before = self.label_table.get(value)
        after = self.label_table.update(value, **changes)
        if (before.name, before.colour) != (after.name, after.colour):
            self.history.apply_step(self.labels, [], f"rename/recolour label {before.name}",
                                    (TableChange(value, before, after),))
            self._notify_everywhere()

    def delete_label(self, value: int) -> None:
        """Erase the label's voxels and remove it from the table, as one undo step
        (undo brings back the voxels with the label's own name and colour)."""
        label = self.label_table.get(value)
        edit = edits.edit_relabel(self.labels, value, 0, f"delete label {label.name}")
        self.label_table.remove(value)
        self.history.apply_step(self.labels, [edit] if edit is not None else [], f"delete label {label.name}",
                                (TableChange(value, label, None),))
        if self.active_label == value:
            remaining = [entry.value for entry in self.label_table]
            self.active_label = remaining[0] if remaining else self.add_label()
        self._notify_everywhere()

    def _notify_everywhere(self) -> None:
        """Tell listeners every slice may look different (a label's colour or name changed)."""
        self._notify(0, self.labels.shape[0])

    # -- undo / redo -----------------------------------------------------------------
    def undo(self) -> Step | None:
        step = self.history.undo(self.labels)
        self._after_history_move(step, undone=True)
        return step

    def redo(self) -> Step | None:
        step = self.history.redo(self.labels)
        self._after_history_move(step, undone=False)
        return step

    def _after_history_move(self, step: Step | None, undone: bool) -> None:
        """Put the step's table entries back as they were (undo) or became (redo), add
        default entries for any other label value it brought back, then notify."""
        if step is None:
            return
        for change in step.table_changes:
            entry = change.before if undone else change.after
            if entry is None:
                self.label_table.remove(change.value)
            elif change.value in self.label_table:
                self.label_table.update(change.value, name=entry.name, colour=entry.colour)
            else:
                self.label_table.add(entry.name, entry.colour, change.value)
        if self.active_label not in self.label_table:
            self.active_label = next(iter(self.label_table)).value if len(self.label_table) else self.add_label()
        for edit in step.edits:
            now_present = edit.old_values if undone else edit.new_values
            for value in np.unique(now_present):
                if value and int(value) not in self.label_table:
                    self.label_table.add(value=int(value))
        if step.table_changes:
            self._notify_everywhere()
        else:
            self._notify(*step.slice_range)

    @property
    def is_modified(self) -> bool:
        """True when the labels or their names/colours differ from the last save."""
        return not self.history.is_clean

    def mark_saved(self) -> None:
        self.history.mark_clean()
