"""The public engine: stateless-per-slice prediction over a volume, never blocking.

One long-lived worker thread calls :meth:`Engine.run_next_job` in a loop; any other
thread (the GUI) calls ``focus`` / ``request`` / ``predict``. ``predict`` raises
:class:`EmbeddingNotReady` (after queueing the missing embedding at top priority)
instead of waiting for the encoder.

Interaction first: ``Engine.interaction`` (an :class:`InteractionGate`) is marked by
the GUI while the user prompts. Meanwhile the worker starts no background job (below
``FOREGROUND_PRIORITY``: the neighbours of the visible slice), and a background pass in
flight waits between network blocks; on a backend with ``interrupt_encode`` (ONNX
Runtime) the block it is running stops at once and runs again afterwards. When a
foreground job (the visible slice, an embedding a prompt waits for, e.g. an ROI crop)
is queued meanwhile, the background pass is dropped and queued again, so that job
starts at once. A foreground pass that no prompt waits for (the visible slice,
propagation) never waits for the user, except to let a job a prompt waits for (e.g.
the ROI crop of a small box drawn meanwhile) through: that job runs between its network
blocks (the block in flight stopped on backends with ``interrupt_encode``, and run
again), the pass waits while the prompt is decoded, then goes on where it stopped. The
prompt's mask comes a pass earlier; the pass loses at most one block. When an
embedding a user's prompt found missing (``predict`` while the gate is active) is
stored, the gate is touched: the prompt's decode, which comes next, has the cores
before the next background pass.

ROI zoom: a box smaller than ``RoiPolicy.switch_fraction`` of the slice is decoded
against the embedding of a square crop around it (cached under its own key). While
that crop is being encoded ``predict`` raises EmbeddingNotReady rather than showing a
whole-slice mask that would then jump when the zoomed one arrives.

Planes: every method that names a slice takes ``plane`` ('axial' by default, see
core/planes.py). Prompts and masks are in the plane's displayed voxel pixels. The
model sees an axial slice as it is; a coronal or sagittal slice resampled to square
physical pixels (core/plane_resample.py), so ROI crops and embeddings of those planes
live in resampled pixels (their cache key hashes the plane slice and the resampling
grid), and masks come back onto the voxel grid by sampling at voxel centres. Prefetch
stays axial.

The backend (see the contract in :mod:`medsam_gui.engine.models`) is spoken to in
numpy: ``decode`` returns low-res logits float32 ``[L, L]``, ``mask_from_logits`` /
``reframe_logits`` post-process them, ``features_to_array`` gives the cache its copy;
the embedding's features stay the backend's own. No torch here.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.core.paths import user_cache_dir
from medsam_gui.core.plane_resample import SquarePixelGrid
from medsam_gui.core.planes import PlaneGeometry, check_plane
from medsam_gui.core.volume import Volume
from medsam_gui.core.window import ModelInputPreset, default_model_input_preset, resolve_model_input, to_model_input
from medsam_gui.engine.cache import EmbeddingCache, embedding_key
from medsam_gui.engine.interaction import InteractionGate
from medsam_gui.engine.roi import RoiPolicy
from medsam_gui.engine.scheduler import FOCUS_PRIORITY, FOREGROUND_PRIORITY, PREDICT_PRIORITY, EncodeScheduler, Job
from medsam_gui.engine.types import EmbeddingNotReady, EncodeResult, LowResLogits, Prediction, Prompts, SliceWithoutContrast

DEFAULT_NEIGHBOURS = 8
# a paused background pass looks this often whether a foreground job queued behind it
FOREGROUND_POLL_S = 0.02


class _ForegroundFirst(Exception):
    """Raised between blocks of a background pass to drop it: a prompt waits for a
    foreground job queued behind it."""


class _Unwanted(Exception):
    """Raised between blocks of a pass whose job was discarded (the box it was for moved
    on): the pass stops and is not queued again."""


class Engine:
    """See the module docstring and ARCHITECTURE.md for the contract."""

    def __init__(self, backend, cache: EmbeddingCache, roi_policy: RoiPolicy | None = None) -> None:
        self.backend = backend
        self.cache = cache
        self.roi_policy = roi_policy if roi_policy is not None else RoiPolicy()
        # the logit above which a pixel is in the mask: the backend's measured choice, else 0
        self.mask_threshold_logit = float(getattr(backend, "mask_threshold_logit", 0.0))
        self.scheduler = EncodeScheduler()
        self.interaction = InteractionGate(on_mark=self._interrupt_background_block)
        self._paused_job: Job | None = None
        self._prefetch: list[tuple[Volume, ModelInputPreset, int]] = []  # (volume, resolved preset, slice)
        self._lock = threading.RLock()
        self._volume: Volume | None = None
        self._preset: ModelInputPreset | None = None
        self._generation = 0
        self._keys: dict[Job, str] = {}
        self._encoded: set[Job] = set()
        self._last_crops: dict[tuple[str, int], tuple[int, int, int, int]] = {}  # (plane, slice) -> crop
        self._constant_value_of_slice: dict[tuple[str, int], float | None] = {}  # (plane, slice) -> value
        self._awaited: set[Job] = set()  # jobs a user's prompt found missing: it waits for them
        self._planes: dict[str, tuple[PlaneGeometry, SquarePixelGrid | None]] = {}

    @classmethod
    def create(
        cls,
        model_name: str = "litemedsam",
        device: str = "auto",
        memory_cache_mb: float = 512,
        disk_cache: bool = True,
        disk_cache_mb: float = 2048,
        roi_policy: RoiPolicy | None = None,
        progress=None,
        export_progress=None,
        server_url: str | None = None,
        token: str | None = None,
        server_timeout_s: float | None = None,
        server_cafile: str | None = None,
    ) -> "Engine":
        """Load ``model_name`` (see :func:`medsam_gui.engine.list_models`) on ``device``.

        ``progress(done_bytes, total_bytes)`` is called while weights download;
        ``export_progress(step, done, total)`` during the one-time ONNX export.
        ``server_url``: encode on that encoder service (``token``, ``server_cafile``;
        see :mod:`medsam_gui.engine.remote`), decode here; the local encoder takes
        over whenever the service fails.
        """
        from medsam_gui.engine.models import load_backend

        backend = load_backend(model_name, device=device, progress=progress, export_progress=export_progress)
        if server_url:
            from medsam_gui.engine.remote import DEFAULT_TIMEOUT_S, EncoderServiceClient, RemoteBackend

            client = EncoderServiceClient(server_url, token, server_timeout_s or DEFAULT_TIMEOUT_S, server_cafile)
            backend = RemoteBackend(backend, client)
        disk_dir = user_cache_dir() / "embeddings" if disk_cache else None
        return cls(backend, EmbeddingCache(memory_cache_mb, disk_dir, disk_cache_mb), roi_policy)

    @property
    def model_info(self):
        return self.backend.info

    # volume and model input -------------------------------------------------

    def set_volume(self, volume: Volume, input_preset: ModelInputPreset | None = None) -> None:
        """Use ``volume`` from now on; queued jobs of the previous one are dropped.

        ``input_preset`` decides what the model sees (default: CT soft tissue, 8-bit
        as is, otherwise the volume's 0.5-99.5 percentile window).
        """
        preset = input_preset or default_model_input_preset(volume.voxels, volume.modality)
        resolved = resolve_model_input(preset, volume.voxels)
        with self._lock:
            self.scheduler.clear()
            self._volume = volume
            self._preset = resolved
            self._generation += 1
            self._keys = {}
            self._encoded = set()
            self._last_crops = {}
            self._constant_value_of_slice = {}
            self._awaited = set()
            self._planes = {}

    def prefetch(self, volume: Volume, slice_indices, input_preset: ModelInputPreset | None = None) -> None:
        """Encode whole slices of ``volume`` (the case the user will open next) into the
        cache when the encoder has nothing else to do, in the order given; a later call
        replaces the list. ``set_volume(volume)`` then finds them (the cache key is the
        slice content, model and preprocessing), so its first box answers at decoder speed.
        """
        preset = input_preset or default_model_input_preset(volume.voxels, volume.modality)
        resolved = resolve_model_input(preset, volume.voxels)
        count = volume.shape_zyx[0]
        with self._lock:
            self._prefetch = [(volume, resolved, int(index)) for index in slice_indices if 0 <= int(index) < count]

    @property
    def prefetch_pending(self) -> int:
        """How many prefetch slices are still to encode."""
        with self._lock:
            return len(self._prefetch)

    def _run_prefetch_job(self) -> bool:
        """Encode the next prefetch slice into the cache; False when there is none."""
        with self._lock:
            pending = self._prefetch
            if not pending:
                return False
            volume, preset, slice_index = pending.pop(0)
        region = volume.slice(slice_index)
        rows, cols = region.shape[:2]
        key = embedding_key(region, preset.signature(), self.backend.model_id, self.backend.preprocessing_signature,
                            (0, 0, cols, rows))
        if self.cache.in_memory(key) or self.cache.on_disk(key):
            return True
        try:
            embedding = self.backend.encode(to_model_input(region, preset), between_blocks=self._give_way_to_interaction)
        except _ForegroundFirst:
            with self._lock:
                if self._prefetch is pending:  # not replaced meanwhile: this slice is still wanted first
                    pending.insert(0, (volume, preset, slice_index))
            return True
        self.cache.put(key, embedding, self.backend.features_to_array(embedding.features).astype(np.float16))
        return True

    def _give_way_to_interaction(self, job: Job | None = None) -> float:
        """Between network blocks of a background pass (of ``job``; None for prefetch):
        wait while the user interacts; returns the seconds waited. Raises _ForegroundFirst
        when a foreground job is queued while the user interacts (a prompt waits for that
        embedding): the caller drops the pass and runs it again later, so that job starts now."""
        waited_from = time.perf_counter()
        try:
            while self.interaction.is_active:
                if self.scheduler.has_queued_at_least(FOREGROUND_PRIORITY):
                    raise _ForegroundFirst
                self._paused_job = job
                self.interaction.wait_if_interacting(FOREGROUND_POLL_S)
        finally:
            self._paused_job = None
        return time.perf_counter() - waited_from

    def _interrupt_background_block(self) -> None:
        """The user prompts (the gate was marked): a background pass stops the network block
        it is running now, not at that block's end (ONNX Runtime stage graphs run ~50-300
        ms on two cores), on backends that can (``interrupt_encode``); it then waits, or
        is dropped when a foreground job is queued (see _give_way_to_interaction)."""
        interrupt = getattr(self.backend, "interrupt_encode", None)
        priority = self.scheduler.in_flight_priority()
        if interrupt is not None and priority is not None and priority < FOREGROUND_PRIORITY:
            interrupt()  # a foreground pass gives way between blocks only to jobs a prompt waits for

    def _let_prompts_job_through(self) -> None:
        """A user's prompt waits for a job now queued behind the pass in flight: that pass
        stops the network block it is running (on backends with ``interrupt_encode``), so
        the job starts now, between its blocks; it runs that block again afterwards."""
        interrupt = getattr(self.backend, "interrupt_encode", None)
        priority = self.scheduler.in_flight_priority()
        if (interrupt is not None and priority is not None and priority < PREDICT_PRIORITY
                and self.scheduler.has_queued_at_least(PREDICT_PRIORITY)):
            interrupt()

    @property
    def volume(self) -> Volume:
        """The volume set by :meth:`set_volume` (MedsamGuiError before that)."""
        return self._require_volume()

    @property
    def input_preset(self) -> ModelInputPreset | None:
        return self._preset

    def _require_volume(self) -> Volume:
        if self._volume is None:
            raise MedsamGuiError("no volume loaded in the engine (call set_volume first)")
        return self._volume

    def _check_slice(self, slice_index: int, plane: str = "axial") -> int:
        geometry, _ = self._plane(plane)
        count = geometry.slice_count
        if not 0 <= int(slice_index) < count:
            where = "the volume" if plane == "axial" else f"the volume's {plane} slices"
            raise MedsamGuiError(f"slice {slice_index} is outside {where} (0..{count - 1})")
        return int(slice_index)

    def _plane(self, plane: str) -> tuple[PlaneGeometry, SquarePixelGrid | None]:
        """The plane's geometry and the square-pixel grid its slices are resampled to for
        the model (None for axial: the model sees axial slices as they are)."""
        with self._lock:
            found = self._planes.get(plane)
            if found is None:
                geometry = PlaneGeometry.of(self._require_volume(), check_plane(plane))
                grid = None if plane == "axial" else SquarePixelGrid.for_pixels(geometry.image_shape,
                                                                                 geometry.pixel_size_mm)
                found = self._planes[plane] = (geometry, grid)
            return found

    def _model_image(self, plane: str, slice_index: int) -> np.ndarray:
        """The slice as the model's pixels: ``[rows, cols]`` (or ``[rows, cols, 3]``), the axial
        slice itself, or a coronal/sagittal slice resampled to square pixels."""
        geometry, grid = self._plane(plane)
        if grid is None:
            return self._require_volume().slice(slice_index)
        return grid.resample_image(geometry.take(self._require_volume().voxels, slice_index))

    def _refuse_slice_without_contrast(self, slice_index: int, plane: str = "axial") -> None:
        """SliceWithoutContrast when every voxel of the slice has the same value (blank, or NaN
        replaced on reading): the model would return a mask of nothing in particular.

        The slice's min/max is computed once per plane, slice and volume, not per prompt.
        """
        with self._lock:
            if (plane, slice_index) not in self._constant_value_of_slice:
                geometry, _ = self._plane(plane)
                voxels = geometry.take(self._require_volume().voxels, slice_index)
                lowest, highest = voxels.min(), voxels.max()
                self._constant_value_of_slice[(plane, slice_index)] = float(lowest) if lowest == highest else None
            constant_value = self._constant_value_of_slice[(plane, slice_index)]
        if constant_value is not None:
            where = "slice" if plane == "axial" else f"{plane} slice"
            raise SliceWithoutContrast(
                f"{where} {slice_index} has no contrast (every voxel is {constant_value:g}): nothing to segment"
            )

    def _model_shape(self, plane: str) -> tuple[int, int]:
        """(rows, cols) of the image the model is given for a slice of ``plane``."""
        geometry, grid = self._plane(plane)
        return grid.shape if grid is not None else geometry.image_shape

    def _whole(self, plane: str = "axial") -> tuple[int, int, int, int]:
        rows, cols = self._model_shape(plane)
        return (0, 0, cols, rows)

    def _key(self, job: Job) -> str:
        with self._lock:
            key = self._keys.get(job)
            if key is None:
                plane, slice_index, crop = job
                x_start, y_start, x_stop, y_stop = crop or self._whole(plane)
                geometry, grid = self._plane(plane)
                preprocessing = self.backend.preprocessing_signature
                if grid is None:
                    region = self._volume.slice(slice_index)[y_start:y_stop, x_start:x_stop]
                else:  # resampled pixels follow from the slice and the grid: hash those (10x cheaper)
                    region = geometry.take(self._volume.voxels, slice_index)
                    preprocessing = f"{preprocessing}|square pixels {grid.shape}"
                key = embedding_key(
                    region, self._preset.signature(), self.backend.model_id,
                    preprocessing, (x_start, y_start, x_stop, y_stop),
                )
                self._keys[job] = key
            return key

    def model_input_image(self, slice_index: int, crop: tuple[int, int, int, int] | None = None,
                          plane: str = "axial") -> np.ndarray:
        """uint8 ``[rows, cols, 3]``: what the encoder is given for a slice (or crop, in the
        model image's pixels) of ``plane``; coronal/sagittal slices resampled to square pixels."""
        with self._lock:
            preset = self._preset
        slice_index = self._check_slice(slice_index, plane)
        x_start, y_start, x_stop, y_stop = crop or self._whole(plane)
        region = self._model_image(plane, slice_index)[y_start:y_stop, x_start:x_stop]
        return to_model_input(region, preset)

    # scheduling ---------------------------------------------------------------

    def request(self, slice_index: int, priority: int = 0, plane: str = "axial", box_xyxy=None) -> None:
        """Queue the embedding ``predict`` needs on ``slice_index`` of ``plane`` (no-op when
        encoded): the whole slice, or with ``box_xyxy`` (inclusive voxel corners) the
        region a box there would be decoded against (an ROI-zoom crop for a small box)."""
        slice_index = self._check_slice(slice_index, plane)
        crop = None
        if box_xyxy is not None:
            rows, cols = self._plane(plane)[0].image_shape
            crop = self.roi_crop(_clean_box(box_xyxy, rows, cols), plane=plane)
            crop = None if crop == self._whole(plane) else crop
        job = (plane, slice_index, crop)
        if not self._is_job_ready(job):
            self.scheduler.request(job, priority)

    def focus(self, slice_index: int, neighbours: int | None = None, plane: str = "axial") -> None:
        """``slice_index`` of ``plane`` is visible: encode it first, then ``neighbours``
        slices of that plane on each side, nearest first. Other queued requests (of any
        plane) are dropped as stale (jobs of the focused slice itself, e.g. ROI crops, stay)."""
        slice_index = self._check_slice(slice_index, plane)
        count = self._plane(plane)[0].slice_count
        reach = DEFAULT_NEIGHBOURS if neighbours is None else max(int(neighbours), 0)
        jobs: list[tuple[Job, int]] = [((plane, slice_index, None), FOCUS_PRIORITY)]
        for distance in range(1, reach + 1):
            for neighbour in (slice_index - distance, slice_index + distance):
                if 0 <= neighbour < count:
                    jobs.append(((plane, neighbour, None), FOCUS_PRIORITY - distance))
        jobs = [(job, priority) for job, priority in jobs if not self._is_job_ready(job)]
        self.scheduler.replace(jobs, keep=lambda job: job[:2] == (plane, slice_index))

    def cancel_pending(self) -> None:
        """Drop every queued job; a pass in flight finishes and is cached."""
        self.scheduler.clear()

    def _is_job_ready(self, job: Job) -> bool:
        key = self._key(job)
        ready = self.cache.in_memory(key) or self.cache.on_disk(key)
        if ready:
            with self._lock:
                self._encoded.add(job)
        return ready

    def is_encoded(self, slice_index: int, plane: str = "axial") -> bool:
        """True when ``predict`` on the whole slice of ``plane`` would not need the encoder."""
        return self._is_job_ready((plane, self._check_slice(slice_index, plane), None))

    def slice_states(self, plane: str = "axial") -> dict[int, str]:
        """{slice_index: 'queued' | 'encoding' | 'encoded'} for whole-slice embeddings of ``plane``."""
        check_plane(plane)
        with self._lock:
            states = {index: "encoded" for job_plane, index, crop in self._encoded
                      if job_plane == plane and crop is None}
        for job_plane, index, crop in self.scheduler.queued():
            if job_plane == plane and crop is None:
                states[index] = "queued"
        for job_plane, index, crop in self.scheduler.jobs_in_flight():
            if job_plane == plane and crop is None and self._volume is not None:
                states[index] = "encoding"
        return states

    # the worker ---------------------------------------------------------------

    def run_next_job(self, timeout_s: float = 0.1, on_result=None) -> EncodeResult | None:
        """Wait up to ``timeout_s`` for a job, encode it (or load it from the cache),
        store it; None when idle. Called by one long-lived worker thread.

        While the user interacts only foreground jobs start, and a background pass
        waits between network blocks (see the module docstring); ``seconds`` in the
        result leaves that waiting out. A background pass dropped for a foreground job
        (see _give_way_to_interaction) is queued again and this returns None.

        A prompt never waits behind a whole pass: between the network blocks of any
        other foreground pass (the visible slice, propagation) each job a prompt waits
        for (queued by ``predict`` at top priority: e.g. the ROI crop of a small box
        drawn while the visible slice is encoding) runs to its end, then that pass goes
        on where it stopped, once the user's interaction (the prompt's decode) is over
        (see the module docstring). ``on_result(EncodeResult)``, when given, hears of each such
        job as it finishes; the result returned is the outer pass's. A pass whose job
        ``predict`` has discarded (the crop of a box that moved on) stops at its next
        block: None.
        """
        min_priority = FOREGROUND_PRIORITY if self.interaction.is_active else None
        job = self.scheduler.pop(timeout_s, min_priority)
        if job is None:
            if not self.interaction.is_active:
                self._run_prefetch_job()  # idle: the next case's first slices
            return None
        return self._run_job(job, on_result)

    def _run_job(self, job: Job, on_result) -> EncodeResult | None:
        """Encode ``job`` (just popped: the innermost job in flight) or load it from the cache."""
        priority = self.scheduler.in_flight_priority()
        background = priority < FOREGROUND_PRIORITY
        set_aside_s = 0.0  # waiting for the user, or running jobs a prompt waits for

        def between_blocks() -> None:
            nonlocal set_aside_s
            if self.scheduler.is_unwanted(job):
                raise _Unwanted
            if background:
                set_aside_s += self._give_way_to_interaction(job)
            elif priority < PREDICT_PRIORITY:  # a job a prompt waits for lets nothing through
                set_aside_s += self._run_jobs_prompts_wait_for(on_result)

        with self._lock:
            generation = self._generation
        dropped = False
        try:
            started = time.perf_counter()
            with self._lock:
                key = self._key(job)
            embedding, source = self.cache.get(key, self.backend.features_from_array)
            if embedding is None:
                image = self.model_input_image(job[1], job[2], plane=job[0])
                embedding = self.backend.encode(image, between_blocks=between_blocks)
                self.cache.put(key, embedding, self.backend.features_to_array(embedding.features).astype(np.float16))
            with self._lock:
                awaited = job in self._awaited
                self._awaited.discard(job)
                if generation == self._generation:
                    self._encoded.add(job)
            if awaited:  # the prompt's decode comes next: it gets the cores, not a background pass
                self.interaction.touch()
            return EncodeResult(job[1], source != "miss", time.perf_counter() - started - set_aside_s, job[2], job[0])
        except _ForegroundFirst:
            dropped = True
            return None
        except _Unwanted:
            return None
        finally:
            self.scheduler.done(job)
            if dropped and generation == self._generation:
                self.scheduler.request(job, priority)  # after the foreground job

    def _run_jobs_prompts_wait_for(self, on_result) -> float:
        """Between the blocks of a foreground pass: run every queued job a prompt waits
        for (``PREDICT_PRIORITY``) now, telling ``on_result``. After one, the pass waits
        while the user interacts (the prompt's decode comes next: it gets the cores),
        running any further such job. Returns the seconds taken."""
        started = time.perf_counter()
        let_through = False
        while True:
            job = self.scheduler.pop(0, PREDICT_PRIORITY)
            if job is not None:
                let_through = True
                result = self._run_job(job, on_result)
                if result is not None and on_result is not None:
                    on_result(result)
            elif let_through and self.interaction.is_active:
                self.interaction.wait_if_interacting(FOREGROUND_POLL_S)
            else:
                return time.perf_counter() - started

    def paused_job(self) -> Job | None:
        """The background job whose encoder pass now waits for interaction to end, or None."""
        return self._paused_job

    # prediction ---------------------------------------------------------------

    def roi_crop(self, box_xyxy, slice_index: int | None = None, plane: str = "axial") -> tuple[int, int, int, int]:
        """The region ``predict`` encodes for this box (inclusive voxel corners on a slice
        of ``plane``): the whole model image if the box is not small. In the pixels of the
        image the model is given (resampled to square pixels for coronal/sagittal). With
        ``slice_index``, the crop last used there is reused while it still fits."""
        _, grid = self._plane(plane)
        box = tuple(int(v) for v in box_xyxy)
        if grid is not None:
            box = grid.box_to_resampled(box)
        previous = self._last_crops.get((plane, slice_index)) if slice_index is not None else None
        return self.roi_policy.crop_for(box, self._model_shape(plane), previous)

    def predict(self, slice_index: int, box_xyxy=None, points_xy=None, point_labels=None, mask_input=None,
                box_refinement=None, plane: str = "axial") -> Prediction:
        """Mask for a box and/or points on ``slice_index`` of ``plane`` (see ARCHITECTURE.md).

        box_xyxy: (x0, y0, x1, y1) inclusive pixel corners; points_xy: (n, 2) (x, y);
        both in the plane's displayed voxel pixels (``PlaneGeometry.take``).
        point_labels: (n,) 1/0; mask_input: an earlier Prediction on this slice and plane.
        box_refinement: a ``box_refine.BoxRefinement`` for a box without points (None:
        ``box_refine.DEFAULT_REFINEMENT``): extra decoder passes against the same
        embedding/crop that make a loosely drawn box give a tight box's mask.
        ``Prediction.box_xyxy`` stays the box as drawn; ``Prediction.mask`` is on the
        plane's voxel grid (a coronal/sagittal slice is decoded resampled to square
        pixels and its mask sampled back at the voxel centres).
        Raises EmbeddingNotReady (the job queued at top priority) or MedsamGuiError
        (also for a slice whose voxels all have one value: nothing to segment).
        """
        slice_index = self._check_slice(slice_index, plane)
        self._refuse_slice_without_contrast(slice_index, plane)
        geometry, grid = self._plane(plane)
        box = _clean_box(box_xyxy, *geometry.image_shape)
        points, labels = _clean_points(points_xy, point_labels)
        if box is None and points is None:
            raise MedsamGuiError("predict needs a box or at least one point")
        model_box = box if grid is None or box is None else grid.box_to_resampled(box)
        if grid is not None and points is not None:
            points = grid.points_to_resampled(points)
        whole = self._whole(plane)
        crop = self.roi_crop(box, slice_index, plane) if box is not None else whole
        job: Job = (plane, slice_index, None if crop == whole else crop)
        if job[2] is not None:
            with self._lock:
                self._last_crops[(plane, slice_index)] = crop
        # the box moved on (e.g. a drag grew it past ROI zoom): crops queued for earlier boxes here are stale
        self.scheduler.discard(lambda queued: queued[:2] == job[:2] and queued[2] not in (None, job[2]))
        key = self._key(job)
        embedding, _ = self.cache.get(key, self.backend.features_from_array)
        if embedding is None:
            users_prompt = self.interaction.is_active  # headless callers run the encoder themselves
            if users_prompt:
                with self._lock:
                    self._awaited.add(job)
            self.scheduler.request(job, PREDICT_PRIORITY)
            if users_prompt:
                self._let_prompts_job_through()
            raise EmbeddingNotReady(slice_index, job[2], plane)
        x_start, y_start, x_stop, y_stop = crop
        offset = np.array([x_start, y_start], dtype=np.float64)
        from medsam_gui.engine import box_refine

        mask_logits = self._mask_input_logits(mask_input, plane, slice_index, crop, embedding.frame)

        def values_to_mask(values):  # low-res logits [L, L] -> bool mask on the crop grid
            return self.backend.mask_from_logits(values, embedding.frame, self.mask_threshold_logit)

        def decode(crop_box) -> box_refine.Decoded:  # a box in crop pixels, same embedding each time
            prompts = Prompts(box_xyxy=crop_box, points_xy=None if points is None else points - offset,
                              point_labels=labels, mask_logits=mask_logits)
            values, score = self.backend.decode(embedding, prompts)
            return box_refine.Decoded(values_to_mask(values), float(score), values)

        crop_box = None if model_box is None else (model_box[0] - x_start, model_box[1] - y_start,
                                                   model_box[2] - x_start, model_box[3] - y_start)
        refinement = box_refinement if box_refinement is not None else box_refine.DEFAULT_REFINEMENT
        if crop_box is not None and points is None:
            image = None  # the crop's voxel values, for a rule that reads them
            if refinement.intensity_trim is not None:
                image = self._model_image(plane, slice_index)[y_start:y_stop, x_start:x_stop]
            decoded, _, _ = box_refine.refine(decode, crop_box, refinement, values_to_mask, image)
        else:
            decoded = decode(crop_box)
        mask = np.zeros((whole[3], whole[2]), dtype=bool)
        mask[y_start:y_stop, x_start:x_stop] = decoded.mask
        if grid is not None:
            mask = grid.mask_to_voxels(mask)
        logits = LowResLogits(decoded.logits, embedding.frame, crop)
        return Prediction(mask, decoded.score, logits, slice_index, box, crop, plane,
                          None if grid is None else grid.shape)

    def _mask_input_logits(self, mask_input, plane, slice_index, crop, frame):
        if mask_input is None:
            return None
        if (not isinstance(mask_input, Prediction) or mask_input.slice_index != slice_index
                or mask_input.plane != plane):
            raise MedsamGuiError("mask_input must be a Prediction on the same slice and plane")
        if mask_input.logits.crop == crop and mask_input.logits.frame == frame:
            return mask_input.logits.values
        return self.backend.reframe_logits(mask_input.logits, crop, frame)


def _clean_box(box_xyxy, rows: int, cols: int):
    """Validated inclusive int box clipped to the slice, or None."""
    if box_xyxy is None:
        return None
    values = np.asarray(box_xyxy, dtype=np.float64).reshape(-1)
    if values.size != 4 or not np.all(np.isfinite(values)):
        raise MedsamGuiError(f"a box needs four finite numbers x0 y0 x1 y1, got {box_xyxy!r}")
    x0, x1 = sorted((values[0], values[2]))
    y0, y1 = sorted((values[1], values[3]))
    if x1 < 0 or y1 < 0 or x0 > cols - 1 or y0 > rows - 1:
        raise MedsamGuiError(f"box {tuple(box_xyxy)} lies outside the {cols} x {rows} slice")
    clip_x = lambda v: int(min(max(round(v), 0), cols - 1))  # noqa: E731
    clip_y = lambda v: int(min(max(round(v), 0), rows - 1))  # noqa: E731
    return (clip_x(x0), clip_y(y0), clip_x(x1), clip_y(y1))


def _clean_points(points_xy, point_labels):
    if points_xy is None or len(points_xy) == 0:
        return None, None
    points = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    labels = np.ones(len(points), dtype=np.int64) if point_labels is None else np.asarray(point_labels, dtype=np.int64).reshape(-1)
    if len(labels) != len(points) or not np.isin(labels, (0, 1)).all():
        raise MedsamGuiError("point_labels must give 1 (positive) or 0 (negative) for every point")
    return points, labels
