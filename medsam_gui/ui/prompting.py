"""The prompt of the object being segmented, its decoder calls and its preview.

:class:`PromptSession` lives in the GUI thread. It holds the current prompt (plane,
slice of that plane, box, points: in the displayed pixels of that plane slice, see
``core.planes``), sends each change to the :class:`~medsam_gui.ui.worker.DecoderWorker`
(latest request wins) and keeps only the result of the newest request as the
preview. When the embedding is not ready, the prompt stays pending and is sent again
when the encoder reports that plane slice; before the model is loaded, it stays pending and is
sent when the decoder attaches. Accepting writes the preview into the Document
as one undo step, either adding to the active label or replacing it inside the box
(so a refined box can also shrink an object); discarding forgets prompt and preview.

Live while dragging: between ``begin_drag`` and ``end_drag`` the result of an older
request is shown too when it is newer than the preview on screen (the decoder cannot
keep up with every mouse move, and the newest result would otherwise always be stale
on arrival); outside a drag only the newest request's result is shown.

Interaction first: a prompt sent to the decoder holds the engine's interaction gate
open until its result (or "not ready") arrives, and a drag or a live preview touches
it, so background encoding of other slices gives the cores to the decoder until a
short grace time after; clearing the prompt ends the interaction at once.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from medsam_gui.ui.worker import DecodeRequest, DecoderWorker


class PromptSession(QObject):
    """Signals:
        prompt_changed(): box or points changed (redraw prompt graphics).
        preview_changed(): a new preview mask (or none) is available as ``preview``.
        waiting(int slice_index, str plane): the prompt waits for that plane slice's embedding.
        waiting_for_model(): no model yet; the prompt is sent when ``set_decoder`` is called.
        decoded(float milliseconds): time of the last decoder call.
        failed(str message)
    """

    prompt_changed = pyqtSignal()
    preview_changed = pyqtSignal()
    waiting = pyqtSignal(int, str)
    waiting_for_model = pyqtSignal()
    decoded = pyqtSignal(float)
    failed = pyqtSignal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._decoder: DecoderWorker | None = None
        self._request_id = 0
        self._oldest_live_request_id = 1  # results of earlier requests belong to a cleared prompt
        self._preview_request_id = 0
        self._dragging = False
        self._waiting_for: tuple[str, int] | None = None  # (plane, slice) whose embedding the prompt waits for
        self.plane = "axial"  # the plane of the view the prompt was drawn in
        self.slice_index: int | None = None  # its slice in that plane (None: no prompt)
        self.box_xyxy: tuple[int, int, int, int] | None = None
        self.points_xy: list[tuple[float, float]] = []
        self.point_labels: list[int] = []
        self.preview = None  # engine Prediction for the newest request, or None

    def set_decoder(self, decoder: DecoderWorker) -> None:
        """Start sending prompts to ``decoder`` (once the model is loaded); a prompt drawn
        before is sent now."""
        self._decoder = decoder
        decoder.predicted.connect(self._on_predicted)
        decoder.not_ready.connect(self._on_not_ready)
        decoder.failed.connect(self._on_failed)
        self._submit()

    # -- prompt edits ----------------------------------------------------------------
    @property
    def is_empty(self) -> bool:
        return self.box_xyxy is None and not self.points_xy

    def set_box(self, slice_index: int, box_xyxy: tuple[int, int, int, int], plane: str = "axial") -> None:
        """Set the box (inclusive corners x0 <= x1, y0 <= y1) on slice ``slice_index`` of ``plane`` and decode."""
        self._move_to_slice(plane, slice_index)
        self.box_xyxy = tuple(int(v) for v in box_xyxy)
        self._changed()

    def add_point(self, slice_index: int, x: float, y: float, positive: bool, plane: str = "axial") -> None:
        """Add a positive (1) or negative (0) click at pixel (x, y) of slice ``slice_index``
        of ``plane`` and decode."""
        self._move_to_slice(plane, slice_index)
        self.points_xy.append((float(x), float(y)))
        self.point_labels.append(1 if positive else 0)
        self._changed()

    def begin_drag(self) -> None:
        """A drag of the prompt began: show every result newer than the preview, and let
        background encoding give way."""
        self._dragging = True
        if self._decoder is not None:
            self._decoder.interaction.touch()

    def end_drag(self) -> None:
        """The drag ended (after its last ``set_box``): only the newest result is shown."""
        self._dragging = False

    def clear(self) -> None:
        """Forget prompt and preview (Escape, slice change, accept); interaction ends."""
        if self._decoder is not None:
            self._decoder.interaction.cancel()
        self._request_id += 1  # results still in flight become stale
        self._oldest_live_request_id = self._request_id + 1
        self._waiting_for = None
        self.slice_index = None
        self.box_xyxy = None
        self.points_xy = []
        self.point_labels = []
        had_preview = self.preview is not None
        self.preview = None
        self.prompt_changed.emit()
        if had_preview:
            self.preview_changed.emit()

    def is_on(self, plane: str, slice_index: int) -> bool:
        """True when the prompt lies on slice ``slice_index`` of ``plane``."""
        return self.slice_index is not None and (self.plane, self.slice_index) == (plane, slice_index)

    def _move_to_slice(self, plane: str, slice_index: int) -> None:
        if self.slice_index is not None and not self.is_on(plane, slice_index):
            self.clear()
        self.plane, self.slice_index = plane, slice_index

    def _changed(self) -> None:
        self.prompt_changed.emit()
        self._submit()

    def _submit(self) -> None:
        if self.is_empty or self.slice_index is None:
            return
        if self._decoder is None:
            self.waiting_for_model.emit()
            return
        self._request_id += 1
        self._decoder.interaction.begin()  # until the result of this request arrives
        points = np.asarray(self.points_xy, dtype=np.float64).reshape(-1, 2) if self.points_xy else None
        labels = np.asarray(self.point_labels, dtype=np.int64) if self.point_labels else None
        self._decoder.submit(DecodeRequest(self._request_id, self.slice_index, self.box_xyxy, points, labels,
                                           plane=self.plane))

    # -- accept ----------------------------------------------------------------------
    def accept_into(self, document, replace_in_box: bool = False) -> bool:
        """Write the preview into ``document`` (active label) as one undo step.

        The preview is written into the slice of the plane it was computed on. By
        default the mask is added to the label. With ``replace_in_box`` the label inside
        the prompt's box (the whole slice for points alone) becomes exactly the mask
        (``Document.paint_plane_prediction``). Returns True when labels changed. The
        prompt is cleared either way.
        """
        prediction = self.preview
        changed = prediction is not None and document.paint_plane_prediction(
            prediction.plane, prediction.slice_index, prediction.mask, prediction.box_xyxy, replace_in_box)
        self.clear()
        return changed

    # -- results from the workers ----------------------------------------------------
    def _on_predicted(self, request_id: int, prediction, milliseconds: float) -> None:
        self.decoded.emit(milliseconds)
        newest = request_id == self._request_id
        live_while_dragging = (self._dragging and request_id >= self._oldest_live_request_id
                               and request_id > self._preview_request_id)
        if not (newest or live_while_dragging):
            return  # a newer prompt exists; its result will come
        if newest:
            self._waiting_for = None
            self._decoder.interaction.end()  # the grace time runs from the preview
        else:
            self._decoder.interaction.touch()
        self._preview_request_id = request_id
        self.preview = prediction
        self.preview_changed.emit()

    def _on_not_ready(self, request_id: int, slice_index: int, plane: str) -> None:
        if request_id == self._request_id:
            self._decoder.interaction.end()  # the embedding is a foreground job: never paused
            self._waiting_for = (plane, slice_index)
            self.waiting.emit(slice_index, plane)

    def _on_failed(self, request_id: int, message: str) -> None:
        if request_id == self._request_id:
            self._decoder.interaction.end()
            self.failed.emit(message)

    def on_embedding_ready(self, slice_index: int, plane: str = "axial") -> None:
        """Re-send the pending prompt when the embedding it waited for (slice ``slice_index``
        of ``plane``) arrives."""
        if self._waiting_for == (plane, slice_index):
            self._waiting_for = None
            self._submit()
