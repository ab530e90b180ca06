"""Segment3DController: carry a label through the volume, steered by the user.

One job: the 3D segmentation jobs of the Segment menu, along the slice axis of any plane.
Propagation runs up, down or both ways (higher/lower slice numbers of that plane) from
the slice on screen of the plane in use: from a coronal key slice it carries the mask
front-to-back. Key boxes on several slices of one plane are segmented and propagated
between, or interpolated (MedSAM's recipe): sagittal key boxes interpolate left-right.
The result (``PropagationResult.mask_zyx``, always ``[z, y, x]``) is written through the
Document into the slices of that plane the job decided. A job runs on a plain thread
(the encoder worker keeps running the engine's queue) with a cancellable progress
dialog; the GUI thread writes its result into the Document as one undo step.

Slices the user made by hand are never overwritten: a slice of the job's plane that
holds the active label and is not exactly what an earlier job of this controller wrote
there (an accepted mask, a brush stroke, a corrected propagated slice) is protected,
and a walk stops before it. So "re-propagate from this slice" is the same action as the
first propagation, from a corrected slice. After a job the slice strip marks the slices
of its plane whose model confidence or intensity was weak; ``next_weak_slice`` jumps to them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
from PyQt6.QtCore import QObject, QTimer
from PyQt6.QtWidgets import QProgressDialog, QWidget

from medsam_gui.core.planes import slice_axis
from medsam_gui.engine.propagate import interpolate_boxes, propagate, propagate_from_keys, segment_boxes

PROGRESS_POLL_MS = 50


class Segment3DController(QObject):
    """Propagation and key boxes for one window.

    Args:
        window: parent of the progress dialog.
        current_document(), current_engine(): the window's Document and Engine (or None).
        current_plane(): the plane in use ('axial', 'coronal' or 'sagittal').
        current_box(): (plane, slice index, (x0, y0, x1, y1)) of the box drawn on a slice on
            screen, or None.
        show_plane_slice(plane, index), render(): navigate and redraw.
        status(message, milliseconds), show_error(message): tell the user.
        slice_strip: the slice strip; shows the weak slices of the last job.
    """

    def __init__(self, window: QWidget, current_document: Callable, current_engine: Callable,
                 current_plane: Callable[[], str], current_box: Callable, show_plane_slice: Callable[[str, int], None],
                 render: Callable[[], None], status: Callable[[str, int], None], show_error: Callable[[str], None],
                 slice_strip) -> None:
        super().__init__(window)
        self._window = window
        self._document = current_document
        self._engine = current_engine
        self._plane = current_plane
        self._box = current_box
        self._show_plane_slice = show_plane_slice
        self._render = render
        self._status = status
        self._show_error = show_error
        self._strip = slice_strip
        self.key_boxes: dict[int, tuple[int, int, int, int]] = {}  # slice -> box_xyxy, of the plane and document below
        self.key_plane = "axial"
        self._key_boxes_document = None
        self._written: dict[tuple[str, int, int], np.ndarray] = {}  # (plane, slice, label) -> the mask a job wrote there
        self._written_document = None
        self._weak_slices: list[int] = []
        self._weak_plane = "axial"
        self._job: dict | None = None

    # -- actions -----------------------------------------------------------------------
    def propagate_both(self) -> None:
        """Carry the active label's mask on this slice up and down (one undo step)."""
        self._propagate("both")

    def propagate_up(self) -> None:
        """Carry it to higher slice numbers (of the plane in use) only."""
        self._propagate("up")

    def propagate_down(self) -> None:
        """Carry it to lower slice numbers only."""
        self._propagate("down")

    def add_key_box(self) -> None:
        """Keep the box drawn on this slice as a key box (key boxes lie on one plane: a box
        on another plane starts a new set)."""
        document = self._document()
        drawn = self._box()
        if document is None or drawn is None:
            self._show_error("draw a box on this slice first, then add it as a key box")
            return
        plane, index, box = drawn
        if self._key_boxes_document is not document or self.key_plane != plane:
            self.key_boxes, self._key_boxes_document, self.key_plane = {}, document, plane
        self.key_boxes[index] = box
        where = "slices" if plane == "axial" else f"{plane} slices"
        self._status(f"Key boxes on {where} {', '.join(str(index) for index in sorted(self.key_boxes))}", 8000)

    def propagate_from_key_boxes(self) -> None:
        """Segment each key slice from its box and propagate between and around them."""
        boxes = self._take_key_boxes(minimum=1)
        if boxes is None:
            return
        document, plane = self._document(), self.key_plane
        protected = self._protected_slices(document, plane, exclude=boxes.keys())
        slice_count = document.plane_geometry(plane).slice_count
        self._start(plane, "Segmenting from the key boxes...", "key boxes + propagation",
                    lambda progress, cancel: propagate_from_keys(
                        self._engine(), boxes, slice_count, progress=progress, cancel=cancel,
                        protected_slices=protected, plane=plane))

    def interpolate_key_boxes(self) -> None:
        """MedSAM's 3D recipe: boxes interpolated between key slices, each slice
        segmented from its box (one undo step)."""
        boxes = self._take_key_boxes(minimum=2)
        if boxes is None:
            return
        shape, plane = self._document().labels.shape, self.key_plane
        interpolated = interpolate_boxes(boxes)
        self._start(plane, "Segmenting the interpolated boxes...", "interpolated boxes",
                    lambda progress, cancel: segment_boxes(self._engine(), interpolated, shape, progress=progress,
                                                           cancel=cancel, plane=plane))

    def next_weak_slice(self) -> None:
        """Go to the next slice the last 3D job flagged as weak (after the one on screen),
        in the plane that job ran in."""
        document, plane = self._document(), self._weak_plane
        if document is None or not self._weak_slices:
            self._status("No weak slices flagged (run a propagation first)", 4000)
            return
        later = [index for index in self._weak_slices if index > document.plane_index(plane)]
        target = later[0] if later else self._weak_slices[0]
        self._show_plane_slice(plane, target)
        name = "slice" if plane == "axial" else f"{plane} slice"
        self._status(f"Weak {name} {target} ({len(self._weak_slices)} flagged: {self._weak_slice_text()})", 6000)

    def busy_reason(self) -> str:
        """Why the model must not change now ('' when it may): a 3D job uses it."""
        return "a 3D segmentation is running (stop it first)" if self._job is not None else ""

    def cancel(self) -> None:
        """Stop the running job (closing the window)."""
        if self._job is not None:
            self._job["cancel"].set()

    # -- internals ---------------------------------------------------------------------
    def _propagate(self, direction: str) -> None:
        if not self._ready():
            return
        document, plane = self._document(), self._plane()
        geometry = document.plane_geometry(plane)
        key_slice, value = document.plane_index(plane), document.active_label
        key_mask = geometry.take(document.labels, key_slice) == value
        if not key_mask.any():
            where = "this slice" if plane == "axial" else f"this {plane} slice"
            self._show_error(f"label '{document.label_table.get(value).name}' has no voxels on {where}: "
                             "accept a mask first")
            return
        protected = self._protected_slices(document, plane, exclude=(key_slice,))
        self._start(plane, "Propagating through the volume...", "propagate",
                    lambda progress, cancel: propagate(self._engine(), key_slice, key_mask, geometry.slice_count,
                                                       progress=progress, cancel=cancel, direction=direction,
                                                       protected_slices=protected, plane=plane))

    def _take_key_boxes(self, minimum: int) -> dict | None:
        if not self._ready():
            return None
        if self._key_boxes_document is not self._document() or len(self.key_boxes) < minimum:
            what = "a key box" if minimum == 1 else f"key boxes on at least {minimum} slices"
            self._show_error(f"add {what} first (draw a box, then Segment > Add key box)")
            return None
        boxes, self.key_boxes = dict(self.key_boxes), {}
        return boxes

    def _protected_slices(self, document, plane: str, exclude) -> np.ndarray:
        """bool, one per slice of ``plane``: slices holding the active label that no job of
        this controller wrote as they are now (made or corrected by hand), less ``exclude``."""
        value, geometry = document.active_label, document.plane_geometry(plane)
        label_zyx = document.labels == value
        present = label_zyx.any(axis=tuple(axis for axis in range(3) if axis != slice_axis(plane)))
        protected = present.copy()
        if self._written_document is document:
            for slice_index in np.flatnonzero(present):
                written = self._written.get((plane, int(slice_index), value))
                if written is not None and np.array_equal(written, geometry.take(label_zyx, slice_index)):
                    protected[slice_index] = False
        protected[list(exclude)] = False
        return protected

    def _ready(self) -> bool:
        if self._document() is None or self._engine() is None:
            self._show_error("open a scan and wait for the model first")
            return False
        if self._job is not None:
            self._show_error("a 3D segmentation is already running")
            return False
        return True

    def _start(self, plane: str, text: str, description: str, compute) -> None:
        """Run ``compute(progress, cancel) -> PropagationResult`` (a walk along ``plane``)
        on a plain thread with a cancellable progress dialog; ``_finish`` writes the
        result on the GUI thread."""
        document = self._document()
        job = {"done": 0, "total": 1, "result": None, "error": None, "cancel": threading.Event(), "plane": plane,
               "value": document.active_label, "document": document, "description": description}

        def run() -> None:
            try:
                job["result"] = compute(lambda done, total: job.update(done=done, total=total), job["cancel"])
            except Exception as error:  # shown to the user on the GUI thread
                job["error"] = error

        dialog = QProgressDialog(text, "Cancel", 0, 100, self._window)
        dialog.setObjectName("propagation_progress")
        dialog.setMinimumDuration(0)
        dialog.canceled.connect(job["cancel"].set)
        job["dialog"] = dialog
        job["thread"] = threading.Thread(target=run, name="segment-3d", daemon=True)
        job["timer"] = QTimer(self)
        job["timer"].setInterval(PROGRESS_POLL_MS)
        job["timer"].timeout.connect(self._poll)
        self._job = job
        job["thread"].start()
        job["timer"].start()
        dialog.show()

    def _poll(self) -> None:
        job = self._job
        job["dialog"].setValue(int(100 * job["done"] / max(job["total"], 1)))
        if job["thread"].is_alive():
            return
        job["timer"].stop()
        job["dialog"].reset()
        job["dialog"].close()
        self._job = None
        if job["error"] is not None:
            self._show_error(f"{job['description']} failed: {job['error']}")
            return
        if self._document() is not job["document"]:
            self._status(f"{job['description']} dropped: another case was opened meanwhile", 8000)
            return
        self._finish(job["document"], job["plane"], job["result"], job["value"], job["description"])

    def _finish(self, document, plane: str, result, value: int, description: str) -> None:
        """Write ``result`` as one undo step: on each slice of ``plane`` it decided, the
        label becomes exactly its mask; remember what was written; flag the weak slices."""
        written_slices = result.slice_written
        document.replace_label_on_slices(result.mask_zyx, written_slices, value, description, plane=plane)
        if self._written_document is not document:
            self._written, self._written_document = {}, document
        geometry = document.plane_geometry(plane)
        for slice_index in np.flatnonzero(written_slices):
            self._written[(plane, int(slice_index), value)] = geometry.take(result.mask_zyx, slice_index).copy()
        self._weak_slices = [int(index) for index in np.flatnonzero(result.slice_weak)]
        self._weak_plane = plane
        self._strip.set_weak_slices(self._weak_slices, result.slice_score, plane)
        self._render()
        reasons = "; ".join(result.stop_reasons.values())
        weak_text = f"; weak: {self._weak_slice_text()} (W jumps there)" if self._weak_slices else ""
        where = "slices" if plane == "axial" else f"{plane} slices"
        self._status(f"{description}: {where} {result.first_slice}-{result.last_slice} ({reasons}){weak_text}", 10000)

    def _weak_slice_text(self) -> str:
        shown = ", ".join(str(index) for index in self._weak_slices[:8])
        return shown + (" ..." if len(self._weak_slices) > 8 else "")
