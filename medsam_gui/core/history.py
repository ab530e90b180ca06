"""Undo/redo over LabelEdits, with grouping and a memory bound.

A step is a list of edits applied in order (one brush stroke of many dabs is one
step), and may carry label-table changes (a rename, a deleted label's entry) that the
Document applies when it undoes or redoes the step. The history is bounded by bytes
and by step count: the oldest steps go first. ``is_clean`` tells whether the labels
equal what was last saved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medsam_gui.core.edits import LabelEdit


@dataclass(frozen=True)
class TableChange:
    """Label ``value``'s table entry before and after a step (None: absent).

    ``before`` and ``after`` are :class:`~medsam_gui.core.labelmap.Label` entries.
    """

    value: int
    before: object | None
    after: object | None


@dataclass(frozen=True)
class Step:
    """One undoable user action: ``edits`` applied in order, plus label-table changes."""

    edits: tuple[LabelEdit, ...]
    description: str
    table_changes: tuple[TableChange, ...] = ()

    @property
    def nbytes(self) -> int:
        return sum(edit.nbytes for edit in self.edits)

    @property
    def slice_range(self) -> tuple[int, int] | None:
        """(first, last + 1) slices touched by the step; None when no voxel changed."""
        if not self.edits:
            return None
        return min(e.slice_range[0] for e in self.edits), max(e.slice_range[1] for e in self.edits)


class History:
    """Undo/redo stack of Steps over one labelmap array.

    Args:
        max_bytes: memory the stored steps may take; oldest steps are dropped past it
            (the newest step is always kept, so the last action can be undone).
        max_steps: the most steps kept.
    """

    def __init__(self, max_bytes: int = 256 * 1024 * 1024, max_steps: int = 200) -> None:
        self.max_bytes = max_bytes
        self.max_steps = max_steps
        self._undo: list[Step] = []
        self._redo: list[Step] = []
        self._group: list[LabelEdit] | None = None
        self._group_description = ""
        self._saved_marker: object | None = None  # the top step when last saved (None: empty)
        self._clean_unreachable = False

    # -- recording -----------------------------------------------------------------
    def apply(self, labels: np.ndarray, edit: LabelEdit | None) -> bool:
        """Apply ``edit`` to ``labels`` and record it; returns False for None (no change)."""
        if edit is None:
            return False
        edit.apply(labels)
        if self._group is not None:
            self._group.append(edit)
        else:
            self._push(Step((edit,), edit.description))
        return True

    def apply_step(self, labels: np.ndarray, edits: list[LabelEdit], description: str,
                   table_changes: tuple[TableChange, ...] = ()) -> Step | None:
        """Apply ``edits`` to ``labels`` and record them with ``table_changes`` as one
        step of their own (an open group is closed first); None when nothing changes."""
        self.end_group()
        if not edits and not table_changes:
            return None
        for edit in edits:
            edit.apply(labels)
        step = Step(tuple(edits), description, tuple(table_changes))
        self._push(step)
        return step

    def begin_group(self, description: str) -> None:
        """Start collecting edits into one step (a brush stroke)."""
        self.end_group()
        self._group = []
        self._group_description = description

    def end_group(self) -> Step | None:
        """Close the open group; it becomes one step if it changed anything."""
        if self._group is None:
            return None
        edits, self._group = self._group, None
        if not edits:
            return None
        step = Step(tuple(edits), self._group_description)
        self._push(step)
        return step

    def _push(self, step: Step) -> None:
        if self._saved_marker is not None and any(s is self._saved_marker for s in self._redo):
            self._clean_unreachable = True
        self._redo.clear()
        self._undo.append(step)
        self._trim()

    def _trim(self) -> None:
        total = sum(step.nbytes for step in self._undo)
        while len(self._undo) > 1 and (len(self._undo) > self.max_steps or total > self.max_bytes):
            dropped = self._undo.pop(0)
            total -= dropped.nbytes
            if dropped is self._saved_marker:
                self._clean_unreachable = True

    # -- undo / redo -----------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_description(self) -> str:
        return self._undo[-1].description if self._undo else ""

    @property
    def redo_description(self) -> str:
        return self._redo[-1].description if self._redo else ""

    def undo(self, labels: np.ndarray) -> Step | None:
        """Revert the last step in ``labels``; returns it (None when nothing to undo)."""
        self.end_group()
        if not self._undo:
            return None
        step = self._undo.pop()
        for edit in reversed(step.edits):
            edit.revert(labels)
        self._redo.append(step)
        return step

    def redo(self, labels: np.ndarray) -> Step | None:
        """Re-apply the last undone step; returns it (None when nothing to redo)."""
        if not self._redo:
            return None
        step = self._redo.pop()
        for edit in step.edits:
            edit.apply(labels)
        self._undo.append(step)
        return step

    @property
    def nbytes(self) -> int:
        return sum(step.nbytes for step in self._undo) + sum(step.nbytes for step in self._redo)

    # -- clean state -----------------------------------------------------------------
    def mark_clean(self) -> None:
        """The labels were saved as they are now."""
        self._saved_marker = self._undo[-1] if self._undo else None
        self._clean_unreachable = False

    @property
    def is_clean(self) -> bool:
        """True when the labels equal the last saved state (or no edit was ever made)."""
        if self._clean_unreachable or self._group:
            return False
        top = self._undo[-1] if self._undo else None
        return top is self._saved_marker

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()
        self._group = None
        self._saved_marker = None
        self._clean_unreachable = False
