"""The work on one image, the same in this process and in a Ray actor.

:class:`ImageWorker` holds the model (loaded once) and turns an :class:`ImageJob` into
an :class:`ImageOutcome`: a result per row and the output files as bytes (the driver
writes them atomically, so a worker never leaves a half-written file in the output
folder). A bad row (box outside the image, slice out of range) fails alone; an image
that cannot be read fails all its rows; nothing stops the run.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medsam_gui.cluster.manifest import ImageJob, PromptRow
from medsam_gui.core.errors import MedsamGuiError

LABELMAP_SUFFIX = ".nii.gz"
SEG_SUFFIX = ".dcm"


@dataclass(frozen=True)
class BatchOptions:
    """propagate: carry every 2D-box mask through the volume; output_format: 'nifti' or
    'seg' (DICOM SEG, DICOM input only; other input falls back to NIfTI)."""

    propagate: bool = False
    output_format: str = "nifti"

    def signature(self) -> dict:
        return {"propagate": self.propagate, "format": self.output_format}


@dataclass
class RowResult:
    """One line of report.csv."""

    row_number: int
    image: str
    label: str
    status: str  # ok | failed | pending
    voxels: int | None = None
    predicted_iou: float | None = None
    seconds: float | None = None
    error: str = ""
    resumed: bool = False

    def to_dict(self) -> dict:
        return {"row": self.row_number, "image": self.image, "label": self.label, "status": self.status,
                "voxels": self.voxels, "predicted_iou": self.predicted_iou, "seconds": self.seconds,
                "error": self.error}

    @classmethod
    def from_dict(cls, values: dict, resumed: bool = False) -> "RowResult":
        return cls(int(values["row"]), values["image"], values["label"], values["status"], values.get("voxels"),
                   values.get("predicted_iou"), values.get("seconds"), values.get("error") or "", resumed)


@dataclass
class ImageOutcome:
    """What a worker returns for one image.

    files: {suffix: bytes} to write as ``<output stem><suffix>`` (the labelmap first);
    empty when no row succeeded or for --embeddings-only. notes: sentences for the user.
    encoded / cached: embeddings computed / found in the cache (--embeddings-only).
    """

    rows: list[RowResult]
    files: dict[str, bytes] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    encoded: int = 0
    cached: int = 0
    error: str = ""


def failed_outcome(job: ImageJob, reason: str) -> ImageOutcome:
    """Every row of ``job`` failed for ``reason`` (e.g. the image cannot be read)."""
    return ImageOutcome([RowResult(row.row_number, row.image_text, row.label_name or row.label_text, "failed",
                                   error=row.error or reason) for row in job.rows], error=reason)


def create_engine(model: str, device: str, cache_dir: str | None, memory_cache_mb: float = 512,
                  disk_cache_mb: float = 2048):
    """An Engine whose disk embedding cache is ``<cache_dir>/embeddings`` (the folder the app
    uses under MEDSAM_GUI_CACHE_DIR; default: the user cache folder). Weights are found as usual."""
    from medsam_gui.core.paths import user_cache_dir
    from medsam_gui.engine import Engine
    from medsam_gui.engine.cache import EmbeddingCache
    from medsam_gui.engine.models import load_backend

    root = Path(cache_dir) if cache_dir else user_cache_dir()
    backend = load_backend(model, device=device)
    return Engine(backend, EmbeddingCache(memory_cache_mb, root / "embeddings", disk_cache_mb))


class ImageWorker:
    """Holds one engine (model loaded once); ``segment`` / ``encode`` one image at a time.

    Also the Ray actor class (``ray.remote(ImageWorker)``), so both paths run this code.
    """

    def __init__(self, model: str = "litemedsam", device: str = "auto", cache_dir: str | None = None,
                 disk_cache_mb: float = 2048) -> None:
        self.engine = create_engine(model, device, cache_dir, disk_cache_mb=disk_cache_mb)

    def describe(self) -> str:
        info = self.engine.model_info
        return f"{info.name} on {info.device}"

    def process(self, job: ImageJob, options: BatchOptions, embeddings_only: bool = False) -> ImageOutcome:
        """``encode`` with ``embeddings_only``, else ``segment``; an unexpected failure of the
        whole image becomes a failed outcome (reported, never raised)."""
        try:
            return self.encode(job, options) if embeddings_only else self.segment(job, options)
        except MemoryError:
            return failed_outcome(job, "not enough memory for this image")

    # segmentation --------------------------------------------------------------

    def segment(self, job: ImageJob, options: BatchOptions) -> ImageOutcome:
        """Segment every row of ``job`` into one labelmap (later rows paint over earlier ones)."""
        from medsam_gui.io.load import open_volume

        started = time.perf_counter()
        try:
            volume = open_volume(job.image_path)
        except MedsamGuiError as error:
            return _timed(failed_outcome(job, str(error)), started)
        self.engine.set_volume(volume)
        labels = np.zeros(volume.shape_zyx, dtype=np.uint8)
        results = []
        for row in job.rows:
            row_started = time.perf_counter()
            result = RowResult(row.row_number, row.image_text, row.label_name or row.label_text, "failed")
            if row.error is not None:
                result.error = row.error
            else:
                try:
                    mask, score = self._segment_row(row, volume, options)
                    labels[mask] = row.label_value
                    result.status, result.voxels, result.predicted_iou = "ok", int(mask.sum()), round(float(score), 4)
                except MedsamGuiError as error:
                    result.error = error.reason if error.path in (None, job.image_path) else str(error)
                except Exception as error:  # a model or decoder failure fails this row, not the run
                    result.error = f"{type(error).__name__}: {error}"
            result.seconds = round(time.perf_counter() - row_started, 3)
            results.append(result)
        outcome = ImageOutcome(results)
        if any(result.status == "ok" for result in results):
            try:
                outcome.files = _encode_outputs(labels, volume, job, options, outcome.notes)
            except MedsamGuiError as error:
                for result in results:
                    if result.status == "ok":
                        result.status, result.error = "failed", f"cannot write the labelmap: {error}"
        return _timed(outcome, started)

    def _segment_row(self, row: PromptRow, volume, options: BatchOptions) -> tuple[np.ndarray, float]:
        """bool ``[z, y, x]`` mask of one row and its key slice's predicted IoU."""
        from medsam_gui.engine.headless import predict_blocking

        slice_count = volume.shape_zyx[0]
        key_slice = _key_slice(row, slice_count)
        prediction = predict_blocking(self.engine, key_slice, box_xyxy=row.box_xyxy)
        mask = np.zeros(volume.shape_zyx, dtype=bool)
        mask[key_slice] = prediction.mask
        if (row.z_range is not None or options.propagate) and prediction.mask.any() and slice_count > 1:
            from medsam_gui.engine.propagate import PropagationSettings, propagate

            settings = PropagationSettings(slice_range=row.z_range)
            result = propagate(self.engine, key_slice, prediction.mask, slice_count, settings,
                               encode_inline=True, key_prediction=prediction)
            mask |= result.mask_zyx
        return mask, prediction.score

    # embeddings ahead of time -----------------------------------------------------

    def encode(self, job: ImageJob, options: BatchOptions) -> ImageOutcome:
        """Fill the disk embedding cache for ``job``: every slice for a folder's scans and
        for rows that propagate (``--propagate``), z0..z1 for 3D boxes, else the rows'
        slices; and for each row whatever its first prediction encodes (the ROI-zoom crop
        of a small box), so the app's first prediction there needs no encoder pass."""
        from medsam_gui.engine.headless import predict_blocking
        from medsam_gui.io.load import open_volume

        started = time.perf_counter()
        try:
            volume = open_volume(job.image_path)
        except MedsamGuiError as error:
            return _timed(failed_outcome(job, str(error)), started)
        engine = self.engine
        engine.set_volume(volume)
        slice_count = volume.shape_zyx[0]
        outcome = ImageOutcome([])

        def count(done) -> None:
            if done.from_cache:
                outcome.cached += 1
            else:
                outcome.encoded += 1

        whole: set[int] = set(range(slice_count)) if job.all_slices else set()
        key_slices: dict[int, int | str] = {}  # row number -> key slice, or why the row fails
        for row in job.rows:
            if row.error is not None:
                continue
            try:
                key_slices[row.row_number] = _key_slice(row, slice_count)
            except MedsamGuiError as error:
                key_slices[row.row_number] = error.reason
                continue
            whole.add(key_slices[row.row_number])
            if row.z_range is not None:
                whole.update(range(row.z_range[0], row.z_range[1] + 1))
            elif options.propagate:
                whole.update(range(slice_count))
        for slice_index in sorted(whole):
            if engine.is_encoded(slice_index):
                outcome.cached += 1
            else:
                engine.request(slice_index, priority=-slice_index)
        while (done := engine.run_next_job(timeout_s=0.0)) is not None:
            count(done)
        for row in job.rows:
            row_started = time.perf_counter()
            result = RowResult(row.row_number, row.image_text, row.label_name or row.label_text, "failed",
                               error=row.error or "")
            key_slice = key_slices.get(row.row_number)
            if isinstance(key_slice, str):
                result.error = key_slice
            elif key_slice is not None:
                try:  # what the first prediction with this box encodes (an ROI-zoom crop)
                    encoded_before = outcome.encoded
                    prediction = predict_blocking(engine, key_slice, box_xyxy=row.box_xyxy, on_encoded=count)
                    _, rows_count, columns = volume.shape_zyx
                    if prediction.crop != (0, 0, columns, rows_count) and outcome.encoded == encoded_before:
                        outcome.cached += 1  # its crop was in the cache already
                    result.status = "ok"
                except MedsamGuiError as error:
                    result.error = error.reason if error.path in (None, job.image_path) else str(error)
            result.seconds = round(time.perf_counter() - row_started, 3)
            outcome.rows.append(result)
        return _timed(outcome, started)


def _timed(outcome: ImageOutcome, started: float) -> ImageOutcome:
    outcome.seconds = time.perf_counter() - started
    return outcome


def _key_slice(row: PromptRow, slice_count: int) -> int:
    """The slice a row's box is on: its ``slice``, a 3D box's middle slice, or 0 for a 2D image."""
    if row.z_range is not None:
        first, last = row.z_range
        if first < 0 or last >= slice_count:
            raise MedsamGuiError(f"z0..z1 {first}..{last} is outside the volume (slices 0..{slice_count - 1})")
        return row.slice_index if row.slice_index is not None else (first + last) // 2
    if row.slice_index is None:
        if slice_count == 1:
            return 0
        raise MedsamGuiError(f"no slice given: the volume has {slice_count} slices (0..{slice_count - 1})")
    if not 0 <= row.slice_index < slice_count:
        raise MedsamGuiError(f"slice {row.slice_index} is outside the volume (0..{slice_count - 1})")
    return row.slice_index


def _encode_outputs(labels: np.ndarray, volume, job: ImageJob, options: BatchOptions, notes: list[str]) -> dict[str, bytes]:
    """{suffix: bytes} of the labelmap (and its colour sidecars), written in a scratch folder."""
    table = job.label_table()
    with tempfile.TemporaryDirectory(prefix="medsam-batch-") as scratch:
        if options.output_format == "seg" and volume.dicom is not None:
            from medsam_gui.io.dicom_seg import write_dicom_seg

            paths = [write_dicom_seg(labels, volume, table, Path(scratch) / f"labels{SEG_SUFFIX}", on_warning=notes.append)]
        else:
            from medsam_gui.io.labelmap_export import write_labelmap

            if options.output_format == "seg":
                notes.append("not a DICOM scan: written as NIfTI instead of DICOM SEG")
            paths = write_labelmap(labels, volume, table, Path(scratch) / f"labels{LABELMAP_SUFFIX}", source_grid=True)
        return {path.name[len("labels"):]: path.read_bytes() for path in paths}
