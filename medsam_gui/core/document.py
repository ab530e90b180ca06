"""Document: one open case - the volume, its labels, the undo history, the view state.

All label changes go through a Document so that each one is undoable and every
listener hears about it. The GUI thread alone mutates a Document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from medsam_gui.core import edits
from medsam_gui.core.history import History, Step, TableChange
from medsam_gui.core.labelmap import Label, LabelTable, new_label_array
from medsam_gui.core.planes import PlaneGeometry
from medsam_gui.core.volume import Volume
from medsam_gui.core.window import default_display_window

LabelsChangedListener = Callable[[int, int], None]  # (first slice, last slice + 1)
CursorListener = Callable[[tuple[int, int, int], tuple[int, int, int]], None]  # (previous zyx, new zyx)
RefusedEditListener = Callable[[str], None]  # (description of the refused edit)
DisplayWindowListener = Callable[[float, float], None]  # (window centre, window width)
MIN_WINDOW_WIDTH = 1.0


@dataclass(frozen=True)
class DocumentChange:
    """What one Document mutation did, in enough detail to replay it on a copy.

    Attributes:
        writes: ``(edit, forward)`` pairs in the order they were written into the
            labels: ``forward`` writes the edit's new values, otherwise its old values
            (an undo). Replaying them in order on a copy of the labels as they were
            gives the labels as they are.
        label_table: a copy of the whole label table after the change.
        view: ``{"slice_index", "active_label", "window_center", "window_width"}``.
        saved: True when the document was just saved as it is (nothing to replay).
    """

    writes: tuple[tuple[edits.LabelEdit, bool], ...]
    label_table: LabelTable
    view: dict
    saved: bool = False


ChangeListener = Callable[[DocumentChange], None]


class Document:
    """An open scan with its labelmap ``labels`` ``[z, y, x]`` uint8 and label table.

    Attributes:
        volume: the scan.
        labels: uint8 ``[z, y, x]`` on the volume's display grid.
        label_table: names and colours of the label values.
        history: undo/redo of every change to ``labels``.
        cursor_zyx: the linked 3D cursor (z, y, x): each plane's view shows the slice
            through it (axial z, coronal y, sagittal x); set with ``set_cursor``.
        slice_index: the axial slice on screen, the cursor's z (assigning it moves the cursor).
        active_label: value new masks and brush strokes go into.
        window_center, window_width: the display window (never what the model sees).
        read_only: when True, label edits, label renames/recolours/deletions, undo and
            redo change nothing (they return False/None) and each refusal is announced
            to the refused-edit listeners (an approved or locked project case).
    """

    def __init__(self, volume: Volume, history_max_bytes: int = 256 * 1024 * 1024) -> None:
        self.volume = volume
        self.labels = new_label_array(volume.shape_zyx)
        self.label_table = LabelTable()
        self.history = History(max_bytes=history_max_bytes)
        self._cursor_listeners: list[CursorListener] = []
        self.cursor_zyx: tuple[int, int, int] = tuple(int(size) // 2 for size in volume.shape_zyx)
        self.active_label = self.label_table.add().value
        self.window_center, self.window_width = default_display_window(
            volume.voxels, volume.modality, volume.default_window
        )
        self._listeners: list[LabelsChangedListener] = []
        self._change_listeners: list[ChangeListener] = []
        self._refused_edit_listeners: list[RefusedEditListener] = []
        self._display_window_listeners: list[DisplayWindowListener] = []
        self.read_only = False
        self.history.mark_clean()

    # -- listeners -------------------------------------------------------------------
    def add_labels_listener(self, listener: LabelsChangedListener) -> None:
        """``listener(first_slice, end_slice)`` is called after every label change."""
        self._listeners.append(listener)

    def _notify(self, first_slice: int, end_slice: int) -> None:
        for listener in self._listeners:
            listener(first_slice, end_slice)

    def add_cursor_listener(self, listener: CursorListener) -> None:
        """``listener(previous_zyx, cursor_zyx)`` is called after every move of the 3D cursor."""
        self._cursor_listeners.append(listener)

    def add_display_window_listener(self, listener: DisplayWindowListener) -> None:
        """``listener(center, width)`` is called after every change of the display window."""
        self._display_window_listeners.append(listener)

    # -- the display window ----------------------------------------------------------
    def set_display_window(self, center: float, width: float) -> None:
        """Show the slices through ``center`` / ``width`` (at least :data:`MIN_WINDOW_WIDTH`)
        in the volume's units, and announce it. View state: not an undoable edit, and never
        what the model sees; kept in sessions through :meth:`view_state`."""
        self.window_center, self.window_width = float(center), max(float(width), MIN_WINDOW_WIDTH)
        for listener in list(self._display_window_listeners):
            listener(self.window_center, self.window_width)

    # -- the 3D cursor ---------------------------------------------------------------
    def set_cursor(self, cursor_zyx) -> bool:
        """Move the 3D cursor to voxel (z, y, x) (clamped into the volume) and announce it.
        Returns True when it moved."""
        clamped = tuple(min(max(int(v), 0), size - 1) for v, size in zip(cursor_zyx, self.labels.shape))
        previous = self.cursor_zyx
        if clamped == previous:
            return False
        self.cursor_zyx = clamped
        for listener in list(self._cursor_listeners):
            listener(previous, clamped)
        return True

    @property
    def slice_index(self) -> int:
        """The axial slice on screen: the cursor's z."""
        return self.cursor_zyx[0]

    @slice_index.setter
    def slice_index(self, slice_index: int) -> None:
        self.set_cursor((slice_index, self.cursor_zyx[1], self.cursor_zyx[2]))

    def plane_geometry(self, plane: str) -> PlaneGeometry:
        """How ``plane`` ('axial', 'coronal', 'sagittal') of this volume is cut and shown."""
        return PlaneGeometry.of(self.volume, plane)

    def plane_index(self, plane: str) -> int:
        """The slice of ``plane`` through the cursor."""
        return self.plane_geometry(plane).from_volume(*self.cursor_zyx)[0]

    def add_change_listener(self, listener: ChangeListener) -> None:
        """``listener(change: DocumentChange)`` is called after every change of the
        labels or the label table, and after ``mark_saved`` (the edit journal's feed)."""
        self._change_listeners.append(listener)

    def remove_change_listener(self, listener: ChangeListener) -> None:
        self._change_listeners.remove(listener)

    def add_refused_edit_listener(self, listener: RefusedEditListener) -> None:
        """``listener(description)`` is called when an edit is refused because the document is read-only."""
        self._refused_edit_listeners.append(listener)

    def _refuse_if_read_only(self, description: str) -> bool:
        """True (and the refusal announced) when the document is read-only."""
        if not self.read_only:
            return False
        for listener in self._refused_edit_listeners:
            listener(description)
        return True

    def _announce(self, writes: Iterable[tuple[edits.LabelEdit, bool]] = (), saved: bool = False) -> None:
        if not self._change_listeners:
            return
        change = DocumentChange(tuple(writes), self.label_table.copy(), self.view_state(), saved)
        for listener in self._change_listeners:
            listener(change)

    def view_state(self) -> dict:
        """The slice on screen, the active label and the display window (JSON-able)."""
        return {"slice_index": int(self.slice_index), "active_label": int(self.active_label),
                "window_center": float(self.window_center), "window_width": float(self.window_width)}

    def _record(self, edit: edits.LabelEdit | None) -> bool:
        if not self.history.apply(self.labels, edit):
            return False
        self._announce([(edit, True)])
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
        if self._refuse_if_read_only(description):
            return False
        value = self.active_label if value is None else value
        return self._record(edits.edit_paint_slice(self.labels, slice_index, mask_yx, value, mode, description, within_yx))

    def paint_plane(self, plane: str, index: int, mask_2d: np.ndarray, value: int | None = None, mode: str = "add",
                    description: str = "paint", within: np.ndarray | None = None) -> bool:
        """Write a 2D mask ``[row, column]`` (as the plane is displayed, see
        ``core.planes``) into slice ``index`` of ``plane`` as one LabelEdit (modes as
        ``paint_slice``). Returns True when a voxel changed; joins an open brush stroke."""
        if self._refuse_if_read_only(description):
            return False
        value = self.active_label if value is None else value
        return self._record(edits.edit_paint_plane(self.labels, self.plane_geometry(plane), index, mask_2d, value, mode,
                                                   description, within))

    def paint_volume(self, mask_zyx: np.ndarray, value: int | None = None, description: str = "3D mask") -> bool:
        """Paint a 3D mask ``[z, y, x]`` with ``value`` as one undo step."""
        if self._refuse_if_read_only(description):
            return False
        value = self.active_label if value is None else value
        return self._record(edits.edit_paint_volume(self.labels, mask_zyx, value, description))

    def paint_plane_prediction(self, plane: str, index: int, mask_2d: np.ndarray,
                               box_xyxy: tuple[int, int, int, int] | None = None, replace_in_box: bool = False) -> bool:
        """Write a model's mask ``[row, column]`` of slice ``index`` of ``plane`` (as
        displayed, see ``core.planes``) into the active label as one undo step.

        By default the mask is added to the label. With ``replace_in_box`` the label
        inside ``box_xyxy`` (inclusive (x0, y0, x1, y1) in that slice's pixels; the whole
        slice when None) becomes exactly the mask: its pixels there that the mask leaves
        out are cleared; outside the box nothing changes. Returns True when a voxel changed.
        """
        mask_2d = np.asarray(mask_2d, dtype=bool)
        if not replace_in_box:
            return bool(mask_2d.any()) and self.paint_plane(plane, index, mask_2d, mode="add", description="AI mask")
        within = np.zeros(mask_2d.shape, dtype=bool)
        if box_xyxy is None:
            within[:] = True
        else:
            x0, y0, x1, y1 = (int(v) for v in box_xyxy)
            within[y0 : y1 + 1, x0 : x1 + 1] = True
        return self.paint_plane(plane, index, mask_2d, mode="replace", description="AI mask (replace in box)",
                                within=within)

    def replace_label_on_slices(self, mask_zyx: np.ndarray, slices: np.ndarray, value: int,
                                description: str = "3D mask", plane: str = "axial") -> bool:
        """On each slice of ``plane`` where ``slices`` (bool, one per slice of that plane:
        ``[z]`` axial, ``[y]`` coronal, ``[x]`` sagittal) is set, label ``value`` becomes
        exactly ``mask_zyx`` (bool ``[z, y, x]``) there: its voxels outside the mask are
        cleared, the mask's voxels take ``value``; other slices stay. One undo step (a
        3D job's result, which may shrink what an earlier job wrote)."""
        if self._refuse_if_read_only(description):
            return False
        geometry = self.plane_geometry(plane)
        chosen = np.flatnonzero(np.asarray(slices, dtype=bool))
        planned = (edits.edit_paint_plane(self.labels, geometry, int(index), geometry.take(mask_zyx, int(index)), value,
                                          "replace", description) for index in chosen)
        changes = [edit for edit in planned if edit is not None]  # disjoint slices: each planned on the labels as they are
        step = self.history.apply_step(self.labels, changes, description)
        if step is None:
            return False
        self._announce([(edit, True) for edit in changes])
        self._notify(*step.slice_range)
        return True

    def replace_labels(self, new_labels_zyx: np.ndarray, description: str = "import labels") -> bool:
        """Make the labelmap equal ``new_labels_zyx`` (an import) as one undo step."""
        if new_labels_zyx.shape != self.labels.shape:
            raise ValueError(f"labels of shape {new_labels_zyx.shape} do not fit the volume {self.labels.shape}")
        if self._refuse_if_read_only(description):
            return False
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
        self._announce()
        return self.active_label

    def merge_labels(self, labels: Iterable[Label]) -> None:
        """Take names, colours and visibility of ``labels`` into the table: labels of
        the same value are updated, new values added (an import, a recovery)."""
        for label in labels:
            if label.value in self.label_table:
                self.label_table.update(label.value, name=label.name, colour=label.colour, visible=label.visible)
            else:
                self.label_table.add(label.name, label.colour, label.value)
        self._announce()
        self._notify_everywhere()

    def load_saved_state(self, labels_zyx: np.ndarray, label_table: LabelTable, view: dict | None = None) -> None:
        """Start from saved work (a session, a project case): its labels ``[z, y, x]``
        uint8, table and ``view`` (keys of ``view_state``, each optional) become the
        document's saved, un-undoable starting point."""
        if labels_zyx.shape != self.labels.shape:
            raise ValueError(f"labels of shape {labels_zyx.shape} do not fit the volume {self.labels.shape}")
        view = view or {}
        self.label_table = label_table.copy()
        self.window_center = float(view.get("window_center", self.window_center))
        self.window_width = float(view.get("window_width", self.window_width))
        self.slice_index = min(max(int(view.get("slice_index", self.slice_index)), 0), self.labels.shape[0] - 1)
        if view.get("active_label") in self.label_table:
            self.active_label = int(view["active_label"])
        elif self.active_label not in self.label_table:
            self.active_label = next(iter(self.label_table)).value if len(self.label_table) else self.add_label()
        # not replace_labels: loading saved work is no edit, and works on a read-only document too
        self._record(edits.edit_from_new_values(self.labels, labels_zyx.astype(np.uint8), (0, 0, 0), "open saved labels"))
        self.history.clear()
        self.mark_saved()
        self._notify_everywhere()

    def update_label(self, value: int, **changes) -> None:
        """Rename (``name=``), recolour (``colour=``) or hide (``visible=``) a label.

        Names and colours are part of the saved work (they go into every export), so
        changing them is an undo step and marks the document modified; visibility is
        only a view setting.
        """
        if ({"name", "colour"} & changes.keys()) and self._refuse_if_read_only("rename/recolour label"):
            return
        before = self.label_table.get(value)
        after = self.label_table.update(value, **changes)
        if before == after:
            return
        if (before.name, before.colour) != (after.name, after.colour):
            self.history.apply_step(self.labels, [], f"rename/recolour label {before.name}",
                                    (TableChange(value, before, after),))
            self._notify_everywhere()
        self._announce()

    def delete_label(self, value: int) -> None:
        """Erase the label's voxels and remove it from the table, as one undo step
        (undo brings back the voxels with the label's own name and colour)."""
        if self._refuse_if_read_only("delete label"):
            return
        label = self.label_table.get(value)
        edit = edits.edit_relabel(self.labels, value, 0, f"delete label {label.name}")
        self.label_table.remove(value)
        self.history.apply_step(self.labels, [edit] if edit is not None else [], f"delete label {label.name}",
                                (TableChange(value, label, None),))
        if self.active_label == value:
            remaining = [entry.value for entry in self.label_table]
            self.active_label = remaining[0] if remaining else self.label_table.add().value
        self._announce([(edit, True)] if edit is not None else [])
        self._notify_everywhere()

    def _notify_everywhere(self) -> None:
        """Tell listeners every slice may look different (a label's colour or name changed)."""
        self._notify(0, self.labels.shape[0])

    # -- undo / redo -----------------------------------------------------------------
    def undo(self) -> Step | None:
        if self._refuse_if_read_only("undo"):
            return None
        step = self.history.undo(self.labels)
        self._after_history_move(step, undone=True)
        return step

    def redo(self) -> Step | None:
        if self._refuse_if_read_only("redo"):
            return None
        step = self.history.redo(self.labels)
        self._after_history_move(step, undone=False)
        return step

    def _after_history_move(self, step: Step | None, undone: bool) -> None:
        """Put the step's table entries back as they were (undo) or became (redo), add
        default entries for any other label value it brought back, then notify."""
        if step is None:
            return
        writes = [(edit, False) for edit in reversed(step.edits)] if undone else [(edit, True) for edit in step.edits]
        for change in step.table_changes:
            entry = change.before if undone else change.after
            if entry is None:
                self.label_table.remove(change.value)
            elif change.value in self.label_table:
                self.label_table.update(change.value, name=entry.name, colour=entry.colour)
            else:
                self.label_table.add(entry.name, entry.colour, change.value)
        if self.active_label not in self.label_table:
            self.active_label = next(iter(self.label_table)).value if len(self.label_table) else self.label_table.add().value
        for edit in step.edits:
            now_present = edit.old_values if undone else edit.new_values
            for value in np.unique(now_present):
                if value and int(value) not in self.label_table:
                    self.label_table.add(value=int(value))
        self._announce(writes)
        if step.table_changes:
            self._notify_everywhere()
        else:
            self._notify(*step.slice_range)

    @property
    def is_modified(self) -> bool:
        """True when the labels or their names/colours differ from the last save."""
        return not self.history.is_clean

    def mark_saved(self) -> None:
        """The labels and table were saved as they are now."""
        self.history.mark_clean()
        self._announce(saved=True)
