"""Background threads: the encoder loop, the latest-wins decoder, and file opening.

The GUI thread alone mutates the Document; these threads only compute and hand
results back as Qt signals (queued into the GUI thread).

- :class:`EncoderWorker` is the one long-lived thread that runs the engine's queue
  (``engine.run_next_job``) and emits ``embedding_ready`` with the slice and its plane.
- :class:`DecoderWorker` runs ``engine.predict`` with a single request slot: a new
  request replaces one that has not started, so a dragged box never queues up. Its
  ``interaction`` is the engine's gate that the GUI marks while the user prompts, so
  background encoding gives the decoder the cores.
- :class:`VolumeLoader` opens a file or DICOM folder once, off the GUI thread.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from PyQt6.QtCore import QThread, pyqtSignal

from medsam_gui.core.errors import AmbiguousSeriesError, MedsamGuiError
from medsam_gui.engine import EmbeddingNotReady, Engine
# imported here, on the GUI thread at start-up: a reader's first import (SimpleITK, GDCM
# extension modules) holds the GIL for a while and would stall the window mid-open
from medsam_gui.io.load import open_volume


class EncoderWorker(QThread):
    """Loops ``engine.run_next_job`` until stopped.

    Signals:
        embedding_ready(int slice_index, bool from_cache, float seconds, str plane): the
            whole-slice embedding of ``slice_index`` of ``plane`` is there (a slot may
            take the first three only: PyQt drops the rest).
        failed(str message): a job raised; the loop goes on with the next job.
    """

    embedding_ready = pyqtSignal(int, bool, float, str)
    failed = pyqtSignal(str)

    def __init__(self, engine, parent=None) -> None:
        super().__init__(parent)
        self._engine = engine
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            try:  # a job a prompt waits for may finish in the middle of another pass: announced at once
                result = self._engine.run_next_job(timeout_s=0.1, on_result=self._announce)
            except Exception as error:  # shown to the user; the loop must survive
                self.failed.emit(f"encoding failed: {error}")
                time.sleep(0.2)
                continue
            if result is not None:
                self._announce(result)

    def _announce(self, result) -> None:
        self.embedding_ready.emit(int(result.slice_index), bool(result.from_cache), float(result.seconds),
                                  str(result.plane))

    def stop(self) -> None:
        """Ask the loop to end after the job in flight (never killed) and wait for it;
        a background pass paused for interaction resumes at once."""
        self.request_stop()
        self.wait()

    def request_stop(self) -> None:
        """Ask the loop to end after the job in flight, without waiting (a model change)."""
        self._stop.set()
        self._engine.interaction.cancel()


@dataclass(frozen=True)
class DecodeRequest:
    """One decoder call: prompts in the displayed pixels of slice ``slice_index`` of
    ``plane`` ('axial', 'coronal' or 'sagittal'; see ``core.planes``).

    box_xyxy: inclusive (x0, y0, x1, y1) or None; points_xy: float (n, 2) (x, y) or
    None; point_labels: int (n,) 1/0 or None; mask_input: an earlier Prediction or None.
    """

    request_id: int
    slice_index: int
    box_xyxy: tuple[int, int, int, int] | None
    points_xy: np.ndarray | None
    point_labels: np.ndarray | None
    mask_input: object | None = None
    plane: str = "axial"


class DecoderWorker(QThread):
    """Runs ``engine.predict`` for the newest request only.

    Signals:
        predicted(int request_id, object prediction, float milliseconds)
        not_ready(int request_id, int slice_index, str plane): the embedding is queued for encoding.
        failed(int request_id, str message)
    """

    predicted = pyqtSignal(int, object, float)
    not_ready = pyqtSignal(int, int, str)
    failed = pyqtSignal(int, str)

    def __init__(self, engine, parent=None) -> None:
        super().__init__(parent)
        self._engine = engine
        self._condition = threading.Condition()
        self._pending: DecodeRequest | None = None
        self._stopping = False

    @property
    def interaction(self):
        """The engine's :class:`~medsam_gui.engine.interaction.InteractionGate`."""
        return self._engine.interaction

    def submit(self, request: DecodeRequest) -> None:
        """Put ``request`` in the slot, replacing any request that has not started."""
        with self._condition:
            self._pending = request
            self._condition.notify()

    def run(self) -> None:
        while True:
            with self._condition:
                while self._pending is None and not self._stopping:
                    self._condition.wait()
                if self._stopping:
                    return
                request, self._pending = self._pending, None
            started = time.perf_counter()
            try:
                prediction = self._engine.predict(
                    request.slice_index,
                    box_xyxy=request.box_xyxy,
                    points_xy=request.points_xy,
                    point_labels=request.point_labels,
                    mask_input=request.mask_input,
                    plane=request.plane,
                )
            except EmbeddingNotReady:
                self.not_ready.emit(request.request_id, request.slice_index, request.plane)
                continue
            except Exception as error:  # shown to the user; the worker must survive
                self.failed.emit(request.request_id, f"segmentation failed: {error}")
                continue
            self.predicted.emit(request.request_id, prediction, (time.perf_counter() - started) * 1000.0)

    def stop(self) -> None:
        self.request_stop()
        self.wait()

    def request_stop(self) -> None:
        """Ask the loop to end after the decode in flight, without waiting (a model change)."""
        with self._condition:
            self._stopping = True
            self._condition.notify()


class VolumeLoader(QThread):
    """Opens ``path`` (optionally one series of a DICOM folder) off the GUI thread.

    Signals:
        loaded(object volume)
        ambiguous(str path, list series): a folder with several series; ask the user.
        failed(str message): the file and the reason.
    """

    loaded = pyqtSignal(object)
    ambiguous = pyqtSignal(str, list)
    failed = pyqtSignal(str)

    def __init__(self, path: str, series_uid: str | None = None, parent=None) -> None:
        super().__init__(parent)
        self.path = path
        self.series_uid = series_uid

    def run(self) -> None:
        try:
            volume = open_volume(self.path, series_uid=self.series_uid)
        except AmbiguousSeriesError as error:
            self.ambiguous.emit(self.path, list(error.series))
        except MedsamGuiError as error:
            self.failed.emit(str(error))
        except Exception as error:  # an unexpected reader bug still reaches the user in words
            self.failed.emit(f"{self.path}: could not be opened ({type(error).__name__}: {error})")
        else:
            self.loaded.emit(volume)


class EngineLoader(QThread):
    """Creates the engine (loads weights) off the GUI thread.

    Signals: ready(object engine), failed(str message), preparing(str message): a
    one-time step (the weights' download, the ONNX export) is running (the window says so).
    """

    ready = pyqtSignal(object)
    failed = pyqtSignal(str)
    preparing = pyqtSignal(str)

    def __init__(self, model_name: str = "litemedsam", device: str = "auto", parent=None) -> None:
        super().__init__(parent)
        self.model_name = model_name
        self.device = device
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        """Stop at the next progress step of the download or the export (any thread); the
        loader then ends with ``failed``. A download resumes where it stopped next time."""
        self._cancelled.set()

    def _step(self, message: str) -> None:
        if self._cancelled.is_set():
            raise MedsamGuiError(f"loading model '{self.model_name}' was cancelled")
        self.preparing.emit(message)

    def run(self) -> None:
        def downloaded(done_bytes: int, total_bytes: int) -> None:
            total = f" / {total_bytes / 2**20:.0f}" if total_bytes else ""
            self._step(f"Downloading the model, once ({done_bytes / 2**20:.0f}{total} MB)")

        try:
            engine = Engine.create(model_name=self.model_name, device=self.device, progress=downloaded,
                                   export_progress=lambda step, done, total:
                                   self._step(f"Preparing the model for this machine, once ({done}/{total})"))
        except Exception as error:  # a missing model must not stop the viewer
            self.failed.emit(f"model '{self.model_name}' could not be loaded: {error}")
        else:
            self.ready.emit(engine)
