"""Segment3DController: carry a label through the volume, steered by the user.

One job: the 3D segmentation jobs of the Segment menu. Propagation runs up, down or
both ways from the slice on screen; key boxes on several slices are segmented and
propagated between, or interpolated (MedSAM's recipe). A job runs on a plain thread
(the encoder worker keeps running the engine's queue) with a cancellable progress
dialog; the GUI thread writes its result into the Document as one undo step.

Slices the user made by hand are never overwritten: a slice that holds the active
label and is not exactly what an earlier job of this controller wrote there (an
accepted mask, a brush stroke, a corrected propagated slice) is protected, and a walk
stops before it. So "re-propagate from this slice" is the same action as the first
propagation, from a corrected slice. After a job the slice strip marks the slices whose
model confidence or intensity was weak; ``next_weak_slice`` jumps to them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
from PyQt6.QtCore import QObject, QTimer
from PyQt6.QtWidgets import QProgressDialog, QWidget

from medsam_gui.engine.propagate import interpolate_boxes, propagate, propagate_from_keys, segment_boxes

PROGRESS_POLL_MS = 50


class Segment3DController(QObject):
    """Propagation and key boxes for one window.

    Args:
        window: parent of the progress dialog.
        current_document(), current_engine(): the window's Document and Engine (or None).
        current_box(): the box drawn on the slice on screen (x0, y0, x1, y1), or None.
        show_slice(index), render(): navigate and redraw.
        status(message, milliseconds), show_error(message): tell the user.
        slice_strip: the slice strip; shows the weak slices of the last job.
    """

    def __init__(self, window: QWidget, current_document: Callable, current_engine: Callable, current_box: Callable,
                 show_slice: Callable[[int], None], render: Callable[[], None], status: Callable[[str, int], None],
                 show_error: Callable[[str], None], slice_strip) -> None:
        super().__init__(window)
        self._window = window
        self._document = current_document
        self._engine = current_engine
        self._box = current_box
        self._show_slice = show_slice
        self._render = render
        self._status = status
        self._show_error = show_error
        self._strip = slice_strip
        self.key_boxes: dict[int, tuple[int, int, int, int]] = {}  # slice -> box_xyxy, on the document below
        self._key_boxes_document = None
        self._written: dict[tuple[int, int], np.ndarray] = {}  # (slice, label) -> the mask a job wrote there
        self._written_document = None
        self._weak_slices: list[int] = []
        self._job: dict | None = None

    # -- actions -----------------------------------------------------------------------
    def propagate_both(self) -> None:
        """Carry the active label's mask on this slice up and down (one undo step)."""
        self._propagate("both")

    def propagate_up(self) -> None:
        """Carry it to higher slice numbers only."""
        self._propagate("up")

    def propagate_down(self) -> None:
        """Carry it to lower slice numbers only."""
        self._propagate("down")

    def add_key_box(self) -> None:
        """Keep the box drawn on this slice as a key box."""
        document = self._document()
        box = self._box()
        if document is None or box is None:
            self._show_error("draw a box on this slice first, then add it as a key box")
            return
        if self._key_boxes_document is not document:
            self.key_boxes, self._key_boxes_document = {}, document
        self.key_boxes[document.slice_index] = box
        self._status(f"Key boxes on slices {', '.join(str(index) for index in sorted(self.key_boxes))}", 8000)

    def propagate_from_key_boxes(self) -> None:
        """Segment each key slice from its box and propagate between and around them."""
        boxes = self._take_key_boxes(minimum=1)
        if boxes is None:
            return
        document = self._document()
        protected = self._protected_slices(document, exclude=boxes.keys())
        self._start("Segmenting from the key boxes...", "key boxes + propagation",
                    lambda progress, cancel: propagate_from_keys(
                        self._engine(), boxes, document.labels.shape[0], progress=progress, cancel=cancel,
                        protected_slices=protected))

    def interpolate_key_boxes(self) -> None:
        """MedSAM's 3D recipe: boxes interpolated between key slices, each slice
        segmented from its box (one undo step)."""
        boxes = self._take_key_boxes(minimum=2)
        if boxes is None:
            return
        shape = self._document().labels.shape
        interpolated = interpolate_boxes(boxes)
        self._start("Segmenting the interpolated boxes...", "interpolated boxes",
                    lambda progress, cancel: segment_boxes(self._engine(), interpolated, shape, progress=progress,
                                                           cancel=cancel))

    def next_weak_slice(self) -> None:
        """Go to the next slice the last 3D job flagged as weak (after the one on screen)."""
        document = self._document()
        if document is None or not self._weak_slices:
            self._status("No weak slices flagged (run a propagation first)", 4000)
            return
        later = [index for index in self._weak_slices if index > document.slice_index]
        target = later[0] if later else self._weak_slices[0]
        self._show_slice(target)
        self._status(f"Weak slice {target} ({len(self._weak_slices)} flagged: {self._weak_slice_text()})", 6000)

    def cancel(self) -> None:
        """Stop the running job (closing the window)."""
        if self._job is not None:
            self._job["cancel"].set()

    # -- internals ---------------------------------------------------------------------
    def _propagate(self, direction: str) -> None:
        if not self._ready():
            return
        document = self._document()
        key_slice, value = document.slice_index, document.active_label
        key_mask = document.labels[key_slice] == value
        if not key_mask.any():
            self._show_error(f"label '{document.label_table.get(value).name}' has no voxels on this slice: "
                             "accept a mask first")
            return
        protected = self._protected_slices(document, exclude=(key_slice,))
        self._start("Propagating through the volume...", "propagate",
                    lambda progress, cancel: propagate(self._engine(), key_slice, key_mask, document.labels.shape[0],
                                                       progress=progress, cancel=cancel, direction=direction,
                                                       protected_slices=protected))

    def _take_key_boxes(self, minimum: int) -> dict | None:
        if not self._ready():
            return None
        if self._key_boxes_document is not self._document() or len(self.key_boxes) < minimum:
            what = "a key box" if minimum == 1 else f"key boxes on at least {minimum} slices"
            self._show_error(f"add {what} first (draw a box, then Segment > Add key box)")
            return None
        boxes, self.key_boxes = dict(self.key_boxes), {}
        return boxes

    def _protected_slices(self, document, exclude) -> np.ndarray:
        """bool ``[z]``: slices holding the active label that no job of this controller
        wrote as they are now (made or corrected by hand), less ``exclude``."""
        value = document.active_label
        present = (document.labels == value).any(axis=(1, 2))
        protected = present.copy()
        if self._written_document is document:
            for slice_index in np.flatnonzero(present):
                written = self._written.get((int(slice_index), value))
                if written is not None and np.array_equal(written, document.labels[slice_index] == value):
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

    def _start(self, text: str, description: str, compute) -> None:
        """Run ``compute(progress, cancel) -> PropagationResult`` on a plain thread with
        a cancellable progress dialog; ``_finish`` writes the result on the GUI thread."""
        document = self._document()
        job = {"done": 0, "total": 1, "result": None, "error": None, "cancel": threading.Event(),
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
        self._finish(job["document"], job["result"], job["value"], job["description"])

    def _finish(self, document, result, value: int, description: str) -> None:
        """Write ``result`` as one undo step: on each slice it decided, the label becomes
        exactly its mask; remember what was written; flag the weak slices."""
        written_slices = result.slice_written
        document.replace_label_on_slices(result.mask_zyx, written_slices, value, description)
        if self._written_document is not document:
            self._written, self._written_document = {}, document
        for slice_index in np.flatnonzero(written_slices):
            self._written[(int(slice_index), value)] = result.mask_zyx[slice_index].copy()
        self._weak_slices = [int(index) for index in np.flatnonzero(result.slice_weak)]
        self._strip.set_weak_slices(self._weak_slices, result.slice_score)
        self._render()
        reasons = "; ".join(result.stop_reasons.values())
        weak_text = f"; weak: {self._weak_slice_text()} (W jumps there)" if self._weak_slices else ""
        self._status(f"{description}: slices {result.first_slice}-{result.last_slice} ({reasons}){weak_text}", 10000)

    def _weak_slice_text(self) -> str:
        shown = ", ".join(str(index) for index in self._weak_slices[:8])
        return shown + (" ..." if len(self._weak_slices) > 8 else "")
