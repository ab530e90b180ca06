"""The batch driver: plan the images, skip those done earlier, run the rest (here or
on Ray), write every output atomically, keep report.csv current, stop cleanly.

Ctrl+C (or SIGTERM) asks to stop: the image in hand is finished and written, then the
run ends with status 130; a second Ctrl+C aborts at once (atomic writes still leave
no half-written file). Rerunning the same command resumes.
"""

from __future__ import annotations

import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from medsam_gui.cluster.manifest import ImageJob, folder_jobs, read_manifest
from medsam_gui.cluster.progress import Progress
from medsam_gui.cluster.report import REPORT_NAME, write_label_table, write_report
from medsam_gui.cluster.resume import fingerprint, read_done_marker, remove_stale_temporaries, write_done_marker
from medsam_gui.cluster.work import BatchOptions, ImageOutcome, ImageWorker, RowResult, failed_outcome
from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.io.atomic import atomic_write_bytes, refuse_source_overwrite

LABELMAP_TAG = "_labels"


@dataclass(frozen=True)
class BatchSettings:
    """Everything ``medsam-gui batch`` was asked to do (see commands/batch.py)."""

    source: Path  # a manifest file, or a folder of scans (--embeddings-only)
    output_dir: Path
    model: str = "litemedsam"
    device: str = "auto"
    options: BatchOptions = BatchOptions()
    embeddings_only: bool = False
    cache_dir: str | None = None
    ray_address: str | None = None  # None: this process; 'local', 'auto' or host:port
    workers: int | None = None
    disk_cache_mb: float = 2048


class LocalExecutor:
    """Runs the images one after the other in this process; the model is loaded once,
    on the first image (a run that only resumes never loads it)."""

    def __init__(self, settings: BatchSettings) -> None:
        self.settings = settings
        self.worker: ImageWorker | None = None

    def describe(self) -> str:
        return "in this process"

    def run(self, jobs: list[ImageJob], handle, should_stop) -> None:
        for job in jobs:
            if should_stop():
                return
            if self.worker is None:
                self.worker = ImageWorker(self.settings.model, self.settings.device, self.settings.cache_dir,
                                          self.settings.disk_cache_mb)
            try:
                outcome = self.worker.process(job, self.settings.options, self.settings.embeddings_only)
            except Exception as error:  # report it and go on with the next image
                outcome = failed_outcome(job, f"{type(error).__name__}: {error}")
            handle(job, outcome)

    def close(self) -> None:
        self.worker = None


def run_batch(settings: BatchSettings, stream=None, out=None) -> int:
    """Run the batch; returns 0 (all rows ok), 1 (some rows failed or pending) or 130 (stopped).

    Raises MedsamGuiError for an unreadable manifest or bad usage (the CLI exits 2).
    """
    stream = stream if stream is not None else sys.stderr
    out = out if out is not None else sys.stdout
    jobs, results, table = _plan(settings)
    output_dir = settings.output_dir
    if output_dir.exists() and not output_dir.is_dir():
        raise MedsamGuiError("the output must be a folder", output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    for path in remove_stale_temporaries(output_dir):
        print(f"removed a temporary file left by an interrupted run: {path}", file=stream)
    if table is not None:
        write_label_table(output_dir, table)
    progress = Progress(len(jobs), stream)
    fingerprints: dict[str, str | None] = {}
    todo = []
    for job in jobs:
        if settings.embeddings_only:
            todo.append(job)
            continue
        fingerprints[job.image_path] = fingerprint(job, settings.model, settings.options.signature())
        marker = read_done_marker(output_dir, job, fingerprints[job.image_path])
        if marker is None:
            todo.append(job)
            continue
        for values in marker["rows"]:
            results[int(values["row"])] = RowResult.from_dict(values, resumed=True)
        progress.advance(job.image_text, 0, 0, None, resumed=True)
    write_report(output_dir, list(results.values()))
    counts = {"encoded": 0, "cached": 0}

    def handle(job: ImageJob, outcome: ImageOutcome) -> None:
        written = _write_outputs(output_dir, job, outcome, progress)
        if written and not settings.embeddings_only and fingerprints.get(job.image_path):
            write_done_marker(output_dir, job, fingerprints[job.image_path], written,
                              [result.to_dict() for result in outcome.rows])
        for result in _image_results(job, outcome, results):
            results[result.row_number] = result
        write_report(output_dir, list(results.values()))
        counts["encoded"] += outcome.encoded
        counts["cached"] += outcome.cached
        for note in outcome.notes:
            progress.note(f"{job.image_text}: {note}")
        ok = sum(result.status == "ok" for result in outcome.rows)
        progress.advance(job.image_text, ok, len(outcome.rows) - ok, outcome.seconds)

    stop = threading.Event()
    interrupted = False
    if todo:
        executor = _executor(settings)
        progress.note(f"batch: {len(todo)} of {len(jobs)} images to do, {executor.describe()}")
        with _stop_on_signals(stop, progress):
            try:
                executor.run(todo, handle, stop.is_set)
            finally:
                executor.close()
        interrupted = stop.is_set()
    progress.finish()
    return _summarise(settings, results, counts, len(jobs) - len(todo), interrupted, out)


def _plan(settings: BatchSettings):
    """(jobs, {row number: RowResult pending or failed}, label table or None)."""
    source = settings.source
    if source.is_dir():
        if not settings.embeddings_only:
            raise MedsamGuiError("a folder of scans is for --embeddings-only; segmenting needs a manifest", source)
        jobs = folder_jobs(source)
        results = {number: RowResult(number, job.image_text, "", "pending") for number, job in enumerate(jobs, start=1)}
        return jobs, results, None
    manifest = read_manifest(source)
    results = {}
    for row in manifest.rows:
        status = "pending" if row.image_path else "failed"
        results[row.row_number] = RowResult(row.row_number, row.image_text, row.label_name or row.label_text, status,
                                            error="" if row.image_path else (row.error or "no image given"))
    return list(manifest.jobs), results, None if settings.embeddings_only else manifest.labels


def _image_results(job: ImageJob, outcome: ImageOutcome, results: dict[int, RowResult]) -> list[RowResult]:
    """The report lines of an image: its rows, or (a folder's scan) the scan's own line."""
    if job.rows:
        return outcome.rows
    line = next((result for result in results.values() if result.image == job.image_text), None)
    if line is None:
        return []
    return [RowResult(line.row_number, job.image_text, "", "failed" if outcome.error else "ok",
                      seconds=round(outcome.seconds, 3), error=outcome.error)]


def _write_outputs(output_dir: Path, job: ImageJob, outcome: ImageOutcome, progress: Progress) -> list[str]:
    """Write the outcome's files atomically, the labelmap first; their names relative to OUT."""
    written = []
    for suffix, data in outcome.files.items():
        relative = f"{job.output_stem}{LABELMAP_TAG}{suffix}"
        target = output_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            refuse_source_overwrite(target, [job.image_path])
            atomic_write_bytes(target, data)
        except MedsamGuiError as error:
            for result in outcome.rows:
                if result.status == "ok":
                    result.status, result.error = "failed", f"cannot write the labelmap: {error}"
            return []
        written.append(relative)
    return written


def _executor(settings: BatchSettings):
    if settings.ray_address is None:
        return LocalExecutor(settings)
    from medsam_gui.cluster.ray_runner import RayExecutor

    return RayExecutor(settings)


class _stop_on_signals:
    """While active, the first Ctrl+C / SIGTERM sets ``stop``; a second Ctrl+C raises KeyboardInterrupt."""

    def __init__(self, stop: threading.Event, progress: Progress) -> None:
        self.stop, self.progress, self.previous = stop, progress, {}

    def _handler(self, signal_number, frame) -> None:
        if self.stop.is_set() and signal_number == signal.SIGINT:
            raise KeyboardInterrupt
        self.stop.set()
        self.progress.note("stopping after the current image (Ctrl+C again to abort at once)")

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                self.previous[number] = signal.signal(number, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)


def _summarise(settings: BatchSettings, results: dict[int, RowResult], counts: dict, skipped: int,
               interrupted: bool, out) -> int:
    statuses = [result.status for result in results.values()]
    ok, failed, pending = statuses.count("ok"), statuses.count("failed"), statuses.count("pending")
    what = "embeddings ready for" if settings.embeddings_only else "rows ok:"
    line = f"batch: {what} {ok}, failed {failed}"
    if pending:
        line += f", not done {pending}"
    if skipped:
        line += f"; {skipped} image(s) done earlier, skipped"
    if settings.embeddings_only:
        line += f"; {counts['encoded']} embeddings computed, {counts['cached']} already in the cache"
    print(f"{line} -> {settings.output_dir / REPORT_NAME}", file=out)
    for result in sorted(results.values(), key=lambda item: item.row_number):
        if result.status == "failed":
            print(f"  row {result.row_number} ({result.image}, {result.label or '-'}): {result.error}", file=out)
    if interrupted:
        print("batch: stopped; run the same command again to resume", file=out)
        return 130
    return 0 if failed == 0 and pending == 0 else 1
