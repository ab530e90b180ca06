"""Open a CT to the first mask in the real window (issue 14's target: a 20-slice CT in <= 1.5 s).

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_first_mask.py [--repeats 3] [--case spleen]
        [--data ../shared/data]

The real MainWindow (offscreen) with LiteMedSAM loaded on the app's default device
(``auto``: ONNX Runtime's CPU provider where onnxruntime is installed) and an empty disk
embedding cache (a fresh folder per run). Each run opens the scan the way File > Open
does (``OpeningController.open_path``, without the file dialog); as soon as the first
slice is painted it drags a box as a user does (mouse press, moves, release on the view
in box mode) around an organ found on that slice from the TotalSegmentator labels
(resampled onto the scan by geometry): a large one (the liver: decoded on the whole
slice) and, in another run, a small one (ROI zoom: a second encoder pass on a crop).
The 20-slice CT has no kidney, so its small organ is the spleen; the NIfTI CT
(122x101x30) has one, the right kidney, but a 122-pixel slice is too small to zoom into
(``RoiPolicy``: a crop must magnify 1.5x), so that box is decoded on the whole slice.

Seconds from the open call to: the volume read (on the loader thread), the slice painted,
each encoder pass starting and ending (whole slice or crop), the embedding of the slice
on screen ready, and the first preview mask painted; with the UI thread's longest stall
(a 10 ms timer's worst lateness) over the run.

The case marked "pydicom's decoders (before)" reads the series the old way
(``bench_dicom_read.old_decoders``: pydicom's GIL-holding plugins, one slice at a time);
compare its read time and UI stall with the case above it.

Reference, the floor of this path, measured alternately in the same run: ``open_volume``
alone, then one ``backend.encode`` of the region the box needs (the whole slice, or the
crop for a small organ), then one ``backend.decode`` of the box. On a shared machine one
encoder pass varies by tens of percent from run to run, so beside the ratio of the totals
the table gives the app's overhead (read done -> the start of the encoder pass the mask
needs, plus that pass's end -> the mask painted), to compare with the floor's decode.
Prints tables; not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench_dicom_read import old_decoders  # noqa: E402  (the benchmarks' folder is on sys.path when run as a script)
from bench_next_case import wait_for  # noqa: E402
from ui_responsiveness import print_table  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 120.0
BOX_MARGIN = 4  # pixels of slack around the organ's tight box, as a user draws it
DRAG_STEPS = 4
DICOM_CT = ("totalseg/example_ct_dicom", "totalseg/example_seg_dicom.nii.gz")  # (scan, its labels)
NIFTI_CT = ("totalseg/example_ct_sm.nii.gz", "totalseg/example_seg.nii.gz")
LIVER, SPLEEN, RIGHT_KIDNEY = 5, 1, 2  # TotalSegmentator label values
OLD_DECODERS = ", pydicom's decoders (before)"
CASES = (  # (name, scan, labels, organ's label value)
    ("DICOM CT 20x512x512, liver", *DICOM_CT, LIVER),
    ("DICOM CT 20x512x512, liver" + OLD_DECODERS, *DICOM_CT, LIVER),
    ("DICOM CT 20x512x512, spleen (ROI)", *DICOM_CT, SPLEEN),
    ("NIfTI CT 30x101x122, liver", *NIFTI_CT, LIVER),
    ("NIfTI CT 30x101x122, kidney (too small a slice to zoom)", *NIFTI_CT, RIGHT_KIDNEY),
)


@dataclass
class Timeline:
    """Seconds from the open call to each moment of one run; ``passes``: the encoder passes
    as [start, end, job, finished] (see RecordingBackend)."""

    read: float = float("nan")
    on_screen: float = float("nan")
    slice_embedding: float = float("nan")
    crop_embedding: float = float("nan")
    heard: float = float("nan")
    preview: float = float("nan")
    first_preview_zoomed: bool = False
    decoder_ms: float = 0.0  # the decoder thread's call (engine.predict) that gave the first preview
    overhead_ms: float = 0.0  # read done -> its encoder pass starts, plus that pass's end -> preview painted
    longest_stall_ms: float = 0.0
    longest_stall_at: float = 0.0  # when it ended
    passes: list = field(default_factory=list)


class RecordingBackend:
    """The loaded backend, passed through, noting each encoder pass as it starts: a list
    [start, end, job, finished] (seconds from ``started``; ``end`` None while it runs;
    ``job`` the ``scheduler``'s (plane, slice, crop) in flight)."""

    def __init__(self, backend) -> None:
        self._backend = backend
        self.started = 0.0
        self.scheduler = None
        self.passes: list[list] = []

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def encode(self, image, between_blocks=None):
        entry = [time.perf_counter() - self.started, None, self.scheduler.in_flight(), False]
        self.passes.append(entry)
        try:
            embedding = self._backend.encode(image, between_blocks=between_blocks)
            entry[3] = True
            return embedding
        finally:
            entry[1] = time.perf_counter() - self.started


def organ_box(volume, labels_path: Path, value: int, slice_index: int) -> tuple[int, int, int, int]:
    """Inclusive (x0, y0, x1, y1) around label ``value`` on ``slice_index``, found by geometry."""
    from medsam_gui.io.resample import resample_onto

    organ = resample_onto(volume, labels_path)[slice_index] == value
    if not organ.any():
        raise SystemExit(f"label {value} of {labels_path.name} is not on slice {slice_index}")
    rows, cols = np.flatnonzero(organ.any(axis=1)), np.flatnonzero(organ.any(axis=0))
    height, width = organ.shape
    return (max(int(cols[0]) - BOX_MARGIN, 0), max(int(rows[0]) - BOX_MARGIN, 0),
            min(int(cols[-1]) + BOX_MARGIN, width - 1), min(int(rows[-1]) + BOX_MARGIN, height - 1))


def app_run(app, engine, recorder: RecordingBackend, scan: Path, box) -> Timeline:
    """One open-to-first-mask in a fresh window on ``engine`` (an empty disk cache)."""
    from PyQt6.QtCore import QEvent, QEventLoop, QObject, Qt, QTimer
    from PyQt6.QtTest import QTest

    from medsam_gui.ui import worker
    from medsam_gui.ui.main_window import MainWindow

    window = MainWindow(engine=engine)
    window.ask_save_changes = lambda: "discard"
    window.show()
    wait_for(app, lambda: window.isVisible() and window.encoder.isRunning(), "the window")
    view, timeline = window.view, Timeline()
    last_tick = [0.0]

    def tick() -> None:  # the UI thread's lateness
        now = time.perf_counter()
        lateness_ms = (now - last_tick[0] - 0.010) * 1000.0
        if lateness_ms > timeline.longest_stall_ms:
            timeline.longest_stall_ms, timeline.longest_stall_at = lateness_ms, now - started
        last_tick[0] = now

    def drag_box() -> None:
        viewport = view.viewport()

        def position(step: int):
            t = step / DRAG_STEPS
            return view.widget_position(box[0] + t * (box[2] - box[0]) + 0.5, box[1] + t * (box[3] - box[1]) + 0.5)

        QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, position(0))
        for step in range(1, DRAG_STEPS + 1):
            QTest.mouseMove(viewport, position(step))
        QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, position(DRAG_STEPS))

    class PaintWatcher(QObject):
        """Notes the first paint of the slice and of a preview on the axial view."""

        def eventFilter(self, _watched, event) -> bool:
            if event.type() != QEvent.Type.Paint:
                return False
            now = time.perf_counter() - started
            if np.isnan(timeline.on_screen) and window.document is not None and not view.image_item.pixmap().isNull():
                timeline.on_screen = now
                QTimer.singleShot(0, drag_box)  # the user draws as soon as the slice is there
            if np.isnan(timeline.preview) and not view.preview_item.pixmap().isNull():
                timeline.preview = now
                first_preview.append(window.prompts.preview)
                QTimer.singleShot(0, until_preview.quit)
            return False

    def timed_open_volume(*args, **kwargs):
        volume = open_volume(*args, **kwargs)
        timeline.read = time.perf_counter() - started
        return volume

    first_preview, heard = [], []
    # wait as the app does, idle in the event loop (a thread polling every millisecond made
    # ONNX Runtime's encoder 20-30 % faster on this machine: not what a user gets)
    until_preview = QEventLoop()
    window.encoder.embedding_ready.connect(  # queued into the UI thread, as the window's own slot
        lambda slice_index, *_: heard.append((slice_index, time.perf_counter() - started)))
    decoded = []
    window.prompts.decoded.connect(decoded.append)
    watcher = PaintWatcher()
    view.viewport().installEventFilter(watcher)
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(10)
    timer.timeout.connect(tick)
    open_volume = worker.open_volume
    worker.open_volume = timed_open_volume
    try:
        started = last_tick[0] = recorder.started = time.perf_counter()
        timer.start()
        window.opening.open_path(str(scan))  # what File > Open does after its dialog
        QTimer.singleShot(int(TIMEOUT_S * 1000), until_preview.quit)
        until_preview.exec()
        timer.stop()
        if np.isnan(timeline.preview):
            raise TimeoutError(f"no preview within {TIMEOUT_S:.0f} s")
    finally:
        worker.open_volume = open_volume
    on_screen = ("axial", window.document.slice_index)
    timeline.passes = [list(entry) for entry in recorder.passes]
    ready = [(end, job[2] is None) for _, end, job, finished in timeline.passes
             if finished and job[:2] == on_screen and end <= timeline.preview]
    timeline.slice_embedding = min((end for end, whole in ready if whole), default=float("nan"))
    timeline.crop_embedding = min((end for end, whole in ready if not whole), default=float("nan"))
    timeline.heard = max(moment for index, moment in heard if index == on_screen[1] and moment <= timeline.preview)
    rows, cols = window.document.volume.shape_zyx[1:]
    timeline.first_preview_zoomed = first_preview[0].crop != (0, 0, cols, rows)
    used = ("axial", on_screen[1], first_preview[0].crop if timeline.first_preview_zoomed else None)
    start, end = next((start, end) for start, end, job, finished in timeline.passes if finished and job == used)
    timeline.decoder_ms = decoded[0]
    timeline.overhead_ms = ((start - timeline.read) + (timeline.preview - end)) * 1000.0
    view.viewport().removeEventFilter(watcher)
    window.close()
    window.deleteLater()
    app.processEvents()
    return timeline


def floor_run(backend, scan: Path, box) -> dict:
    """The path's floor: ``open_volume``, one encode of the region the box needs, one decode."""
    from medsam_gui.core.document import Document
    from medsam_gui.engine import Engine
    from medsam_gui.engine.cache import EmbeddingCache
    from medsam_gui.engine.types import Prompts
    from medsam_gui.io.load import open_volume

    started = time.perf_counter()
    volume = open_volume(scan)
    read = time.perf_counter() - started
    engine = Engine(backend, EmbeddingCache(64, None))  # for its model input and ROI crop only
    engine.set_volume(volume)
    slice_index = Document(volume).slice_index  # the slice a new case opens on
    rows, cols = volume.shape_zyx[1:]
    crop = engine.roi_crop(box)
    image = engine.model_input_image(slice_index, crop)
    started = time.perf_counter()
    embedding = backend.encode(image)
    encode = time.perf_counter() - started
    x_start, y_start = crop[:2]
    prompts = Prompts(box_xyxy=(box[0] - x_start, box[1] - y_start, box[2] - x_start, box[3] - y_start))
    started = time.perf_counter()
    backend.decode(embedding, prompts)
    decode = time.perf_counter() - started
    return {"read": read, "encode": encode, "decode": decode, "total": read + encode + decode,
            "zoomed": crop != (0, 0, cols, rows)}


def seconds(values) -> str:
    """The median, or "" when there is none."""
    return f"{statistics.median(values):.3f}" if values else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path,
                        default=Path(os.environ.get("MEDSAM_GUI_DATA", REPO_ROOT.parent / "shared" / "data")))
    parser.add_argument("--repeats", type=int, default=3, help="runs of each case (app and floor, alternately)")
    parser.add_argument("--case", default="", help="only the cases whose name contains this text")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no data at {args.data} (set MEDSAM_GUI_DATA or --data)", file=sys.stderr)
        return 2
    temporary = Path(tempfile.mkdtemp(prefix="bench_first_mask_"))
    for name in ("MEDSAM_GUI_CONFIG_DIR", "MEDSAM_GUI_DATA_DIR"):  # recent files, journal: not the user's
        os.environ[name] = str(temporary / name)

    from PyQt6.QtWidgets import QApplication

    from medsam_gui.core.document import Document
    from medsam_gui.engine import Engine
    from medsam_gui.engine.cache import EmbeddingCache
    from medsam_gui.io.load import open_volume

    app = QApplication.instance() or QApplication(sys.argv[:1])
    started = time.perf_counter()
    loaded = Engine.create(model_name="litemedsam", device="auto")  # what the window's EngineLoader does
    backend = loaded.backend
    print(f"model: {backend.info.display_name} on {backend.info.device}, "
          f"loaded in {time.perf_counter() - started:.1f} s; "
          f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} at the start")
    cases = []
    for name, scan, labels, value in (case for case in CASES if args.case in case[0]):
        volume = open_volume(args.data / scan)
        box = organ_box(volume, args.data / labels, value, Document(volume).slice_index)  # on the slice a case opens on
        cases.append((name, args.data / scan, box))
    warm_up = [floor_run(backend, scan, box) for _, scan, box in cases]  # a session's first passes are slower
    results = {name: {"app": [], "floor": []} for name, _, _ in cases}
    for repeat in range(args.repeats):
        for run, (name, scan, box) in enumerate(cases):
            with old_decoders(name.endswith(OLD_DECODERS)):
                results[name]["floor"].append(floor_run(backend, scan, box))
                recorder = RecordingBackend(backend)
                # Engine.create's cache sizes; an empty disk cache folder for each run
                engine = Engine(recorder, EmbeddingCache(512, temporary / f"embeddings_{repeat}_{run}", 2048))
                recorder.scheduler = engine.scheduler
                results[name]["app"].append(app_run(app, engine, recorder, scan, box))
    print(f"load average {os.getloadavg()[0]:.1f} at the end; medians of {args.repeats} runs, "
          "seconds from the open call")
    print_results(results)
    first_floors = results[cases[0][0]]["floor"]
    print(f"\nthe session's first encode after loading (cold, {cases[0][0]}): {warm_up[0]['encode']:.3f} s; "
          f"warm: {seconds([run['encode'] for run in first_floors])} s")
    return 0


def print_results(results: dict) -> None:
    """The phase timeline of the app beside the floor, and the floor's parts."""
    rows = []
    for name, runs in results.items():
        app_runs, floors = runs["app"], runs["floor"]
        first_jobs = {describe_job(run.passes[0][2]) for run in app_runs}
        zoomed = floors[0]["zoomed"]
        preview = statistics.median(run.preview for run in app_runs)
        floor = statistics.median(run["total"] for run in floors)
        rows.append((
            name, seconds([run.read for run in app_runs]), seconds([run.on_screen for run in app_runs]),
            seconds([run.passes[0][0] for run in app_runs]), " / ".join(sorted(first_jobs)),
            seconds([run.slice_embedding for run in app_runs if not np.isnan(run.slice_embedding)]) or "after",
            (seconds([run.crop_embedding for run in app_runs if not np.isnan(run.crop_embedding)]) or "after")
            if zoomed else "-", seconds([run.heard for run in app_runs]), f"{preview:.3f}",
            "zoomed" if all(run.first_preview_zoomed for run in app_runs) else "whole slice",
            f"{statistics.median(run.longest_stall_ms for run in app_runs):.0f}", f"{floor:.3f}",
            f"{preview / floor:.2f}", f"{statistics.median(run.overhead_ms for run in app_runs):.0f}",
            f"{statistics.median(run.decoder_ms for run in app_runs):.0f}",
            f"{statistics.median(run['decode'] for run in floors) * 1000:.0f}"))
    print_table(["case", "read", "on screen", "encoder starts", "first job", "slice embedding", "crop embedding",
                 "UI hears it", "first preview", "preview of", "UI stall ms", "floor", "app / floor", "overhead ms",
                 "app decoder ms", "floor decode ms"], rows)
    print("overhead: read done -> the pass the preview needs starts, plus its end -> preview painted; the floor "
          "has only the decode there. Encoder passes vary most with the machine's load: compare these two.")
    print()
    print("floor parts (open_volume, one backend.encode of the region the box needs, one backend.decode):")
    print_table(["case", "read", "encode", "decode", "floor"], [
        (name, seconds([run["read"] for run in runs["floor"]]), seconds([run["encode"] for run in runs["floor"]]),
         f"{statistics.median(run['decode'] for run in runs['floor']) * 1000:.0f} ms",
         seconds([run["total"] for run in runs["floor"]])) for name, runs in results.items()])
    print()
    print("encoder passes of each app run up to its first preview (start-end s, job; ... = still running then, "
          "x = dropped and queued again):")
    for name, runs in results.items():
        for run in runs["app"]:
            passes = ", ".join(f"{start:.2f}-{'...' if end is None or end > run.preview else f'{end:.2f}'} "
                               f"{describe_job(job)}{' x' if end is not None and not finished else ''}"
                               for start, end, job, finished in run.passes if start <= run.preview)
            print(f"  {name}: {passes}; UI stall {run.longest_stall_ms:.0f} ms ending at {run.longest_stall_at:.2f}")


def describe_job(job) -> str:
    plane, slice_index, crop = job
    return f"{plane} {slice_index}" + ("" if crop is None else f" crop {crop[2] - crop[0]}x{crop[3] - crop[1]}")


if __name__ == "__main__":
    sys.exit(main())
