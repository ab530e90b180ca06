"""How the real window behaves while the model works (offscreen Qt, real LiteMedSAM).

    QT_QPA_PLATFORM=offscreen python benchmarks/ui_responsiveness.py [--data ../shared/data]
        [--device auto] [--repeats 3] [--stall-only | --drag-only]

1. UI-thread stall: a 10 ms QTimer's lateness while a fresh engine encodes every slice
   of the dcmqi CT (the encoder runs on its worker thread). Then the same lateness on the
   20-slice TotalSegmentator CT with one view (axial) and with the three views side by
   side, alternately, while the encoder works through every axial slice and the 3D cursor
   moves every 50 ms (what a Ctrl+drag does: every shown view redraws); budget 50 ms worst.
2. A dragged box on the 20-slice TotalSegmentator CT: 30 box changes 33 ms apart
   (mouse moves on the canvas, the event loop idle in between), at two moments: right
   after opening (the visible slice encoded, its neighbours queued, a neighbour pass
   in flight) and with the encoder idle (the queue dropped and the pass in flight
   finished: one such drag right after each "after opening" drag, on the same slice,
   so both moments see the same machine load; the idle drag finds the decoder's
   per-embedding first block computed, one of its ~10 decoder calls cheaper).
   Previews shown per second, the decoder call median and the time from the last box
   to its preview, with the busy/idle ratio. "Right after opening" is run, alternately,
   with interaction first (the engine's InteractionGate: the encoder stage in flight
   at the press stops, the pass waits), with the gate pausing between stage graphs
   only (the stage in flight runs to its end), and with the gate disabled.
3. Neighbour encoding throughput (slices per minute, nobody prompting): the gate
   installed but idle against the gate disabled, alternately, in the same run.
--device: the app's default is ``auto`` (ONNX Runtime where installed).
4. The edit journal's cost: the UI-thread time of an accepted mask, one dab of a
   20-dab brush stroke (each mouse move paints one) and a 3D mask on every slice, with the journal attached and detached (the
   reference, same run), and how long after each action it was durable on disk.
Prints tables. Timings on a shared machine are noisy: run it alone.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PyQt6.QtCore import QEventLoop, Qt, QTimer  # noqa: E402
from PyQt6.QtTest import QTest  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
DRAG_STEPS = 30
DRAG_INTERVAL_MS = 33
THROUGHPUT_SLICES = 6  # neighbours timed per throughput run
LAYOUT_STALL_S = 8.0  # timer measured per layout run, the encoder busy throughout
CURSOR_MOVE_MS = 50
REPEATS = 3  # drags per moment and gate setting; throughput runs per gate setting (--repeats)


def idle_wait(milliseconds: int) -> None:
    """Run the event loop, idle (no polling), for ``milliseconds``."""
    loop = QEventLoop()
    QTimer.singleShot(milliseconds, Qt.TimerType.PreciseTimer, loop.quit)
    loop.exec()


def wait_until(condition, timeout_s: float = 300.0, poll_ms: int = 5) -> None:
    """Run the event loop (idle between checks every ``poll_ms``) until ``condition()``."""
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("condition not met in time")
        idle_wait(poll_ms)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--stall-only", action="store_true", help="measure the UI-thread stall (part 1) only")
    parser.add_argument("--drag-only", action="store_true", help="measure the dragged box and throughput (parts 2, 3) only")
    parser.add_argument("--device", default="auto", help="the engine's device (the app's default: auto)")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="drags per moment and setting, throughput runs")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    app = QApplication(sys.argv[:1])
    from medsam_gui.engine import Engine
    from medsam_gui.ui.main_window import MainWindow

    engine = Engine.create(model_name="litemedsam", device=args.device, disk_cache=False)
    window = MainWindow(engine=engine)
    window.resize(1200, 900)
    window.show()
    ct_folder = args.data / "totalseg" / "example_ct_dicom"
    print(f"device: {engine.model_info.device}")
    if args.drag_only:
        drags, throughput = measure_drags_and_throughput(window, engine, ct_folder, args.repeats)
        depth = window.document.volume.shape_zyx[0]
        window.document.mark_saved()
        window.close()
        print_drag_tables(drags, throughput, depth, args.repeats)
        return 0
    ticks: list[float] = []
    encode_seconds: list[float] = []
    window.encoder.embedding_ready.connect(lambda _i, _c, seconds: encode_seconds.append(seconds))
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    window.open_path(str(args.data / "dcmqi" / "ct-3slice"))
    wait_until(lambda: window.document is not None)
    count = window.document.volume.shape_zyx[0]
    wait_until(lambda: all(engine.is_encoded(i) for i in range(count)))
    timer.stop()
    lateness_ms = np.diff(ticks) * 1000.0 - 10.0
    stall_rows = [
        ("encoder pass", f"{count} slices, {sum(encode_seconds):.1f} s encoder time"),
        ("UI timer lateness median / p99 / worst", f"{np.median(lateness_ms):.1f} / {np.percentile(lateness_ms, 99):.1f} / {lateness_ms.max():.1f} ms"),
    ]

    remembered_layout = window.plane_views.layout
    layout_stalls: dict[str, list[np.ndarray]] = {"axial": [], "side_by_side": []}
    for _ in range(REPEATS):
        for layout in layout_stalls:
            layout_stalls[layout].append(layout_stall(window, engine, ct_folder, layout))
    window.plane_views.set_layout(remembered_layout)
    if args.stall_only:
        window.document.mark_saved()
        window.close()
        print_stall_tables(stall_rows, layout_stalls)
        return 0
    drags, throughput = measure_drags_and_throughput(window, engine, ct_folder, args.repeats)
    depth = window.document.volume.shape_zyx[0]
    journal_rows = measure_journal_cost(window)
    window.document.mark_saved()
    window.close()

    print_stall_tables(stall_rows, layout_stalls)
    print_drag_tables(drags, throughput, depth, args.repeats)
    print("\nedit journal (UI-thread ms per action, median of 20; budget 50 ms)")
    print("action            | no journal | journal | ratio | durable after (median)")
    print("------------------|------------|---------|-------|-----------------------")
    for name, without_ms, with_ms, durable_ms in journal_rows:
        print(f"{name:<17} | {without_ms:>10.2f} | {with_ms:>7.2f} | {with_ms / max(without_ms, 1e-6):>5.2f} | {durable_ms:.2f} ms")
    return 0


def measure_drags_and_throughput(window, engine, ct_folder: Path, repeats: int) -> tuple[dict, dict]:
    """Parts 2 and 3 (see the module docstring): ({moment: [drag_box results]},
    {gate setting: [slices per minute]})."""
    window.tools.use("box")
    gate = engine.interaction
    stop_stage_in_flight = gate.on_mark
    busy_settings = (  # label, gate enabled, the stage in flight stops at the press
        ("after opening, interaction first", True, True),
        ("after opening, gate between stages only", True, False),
        ("after opening, gate disabled", False, False),
    )
    drags: dict[str, list[dict]] = {label: [] for label, *_ in busy_settings}
    drags["encoder idle"] = []
    throughput: dict[str, list[float]] = {"gate installed, idle": [], "gate disabled": []}
    open_fresh(window, engine, ct_folder)
    drag_box(window)  # not counted: a process's first decoder runs allocate (cold for whichever setting came first)
    for _ in range(repeats):
        for label, gate_enabled, stop_stage in busy_settings:
            gate.enabled, gate.on_mark = gate_enabled, (stop_stage_in_flight if stop_stage else None)
            queued = open_fresh(window, engine, ct_folder)
            busy = {**drag_box(window), "queued": queued}
            gate.enabled, gate.on_mark = True, stop_stage_in_flight
            engine.cancel_pending()
            wait_until(lambda: engine.scheduler.in_flight() is None)
            idle = drag_box(window)
            drags[label].append({**busy, "idle": idle})
            drags["encoder idle"].append(idle)
    for _ in range(repeats):
        for label, gate_enabled in (("gate installed, idle", True), ("gate disabled", False)):
            gate.enabled = gate_enabled
            throughput[label].append(neighbour_slices_per_minute(window, engine, ct_folder))
    gate.enabled = True
    return drags, throughput


def print_drag_tables(drags: dict, throughput: dict, depth: int, repeats: int) -> None:
    print(f"\ndragged box on the TotalSegmentator CT ({depth} slices): "
          f"{DRAG_STEPS} box changes {DRAG_INTERVAL_MS} ms apart, median of {repeats} drags per setting "
          f"({len(drags['encoder idle'])} idle, each right after a busy one)")
    rows = []
    for label, runs in drags.items():
        summary = summarise(runs)
        ratio = "" if label == "encoder idle" else " / ".join(
            f"{np.median([run[name] / max(run['idle'][name], 1.0) for run in runs]):.2f}"
            for name in ("previews_per_s", "decoder_ms", "last_box_ms"))
        queued = f"{int(np.median([run['queued'] for run in runs]))}" if "queued" in runs[0] else "0"
        rows.append((label, queued, f"{summary['previews']:.0f}", f"{summary['previews_per_s']:.1f}",
                     f"{summary['decoder_ms']:.0f}", f"{summary['last_box_ms']:.0f}", ratio))
    print_table(["moment", "slices queued", "previews", "previews/s", "decoder median ms", "last box -> preview ms",
                 "busy/idle (median of per-pair ratios): previews/s, decoder, last box"], rows)
    print(f"\nneighbour encoding, nobody prompting ({THROUGHPUT_SLICES} neighbours per run, median of {repeats})")
    reference = float(np.median(throughput["gate disabled"]))
    print_table(["gate", "slices per minute", "ratio to disabled"],
                [(label, f"{np.median(values):.1f}", f"{np.median(values) / reference:.3f}") for label, values in throughput.items()])


def print_stall_tables(stall_rows: list[tuple], layout_stalls: dict[str, list[np.ndarray]]) -> None:
    print_table(["measure", "value"], stall_rows)
    print(f"\nUI timer lateness while the encoder works on the TotalSegmentator CT, the 3D cursor moving every "
          f"{CURSOR_MOVE_MS} ms ({REPEATS} runs of {LAYOUT_STALL_S:.0f} s per layout, alternately; budget 50 ms worst)")
    one_view_worst = float(np.concatenate(layout_stalls["axial"]).max())
    rows = []
    for layout, runs in layout_stalls.items():
        lateness = np.concatenate(runs)
        rows.append(("one view (axial)" if layout == "axial" else "three views side by side",
                     f"{np.median(lateness):.1f}", f"{np.percentile(lateness, 99):.1f}", f"{lateness.max():.1f}",
                     f"{lateness.max() / max(one_view_worst, 1e-6):.2f}"))
    print_table(["layout", "median ms", "p99 ms", "worst ms", "worst / one view"], rows)


def layout_stall(window, engine, folder: Path, layout: str) -> np.ndarray:
    """Timer lateness (ms, one per 10 ms tick) over ``LAYOUT_STALL_S`` with ``layout`` shown,
    the encoder encoding every axial slice of ``folder`` from an empty cache, and the 3D
    cursor moved in the axial view every ``CURSOR_MOVE_MS`` (``move_cursor_to``: what a
    Ctrl+drag calls), so every shown view redraws its slice; the axial slice stays, so
    the encoder's queue is the same in both layouts."""
    reopen_with_empty_cache(window, engine, folder)
    window.plane_views.set_layout(layout)
    document, axial = window.document, window.plane_views.axial
    depth, rows, cols = document.volume.shape_zyx
    for index in range(depth):
        engine.request(index)
    wait_until(lambda: engine.scheduler.in_flight() is not None)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    started, step = time.perf_counter(), 0
    while time.perf_counter() - started < LAYOUT_STALL_S:
        step += 1
        angle = step * 0.15
        window.plane_views.move_cursor_to(axial, cols / 2 + cols / 4 * np.cos(angle), rows / 2 + rows / 4 * np.sin(angle))
        idle_wait(CURSOR_MOVE_MS)
    timer.stop()
    return np.diff(ticks) * 1000.0 - 10.0


def print_table(header: list[str], rows: list[tuple]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    print(" | ".join(name.ljust(width) for name, width in zip(header, widths)))
    print("-|-".join("-" * width for width in widths))
    for row in rows:
        print(" | ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))


def open_fresh(window, engine, folder: Path) -> int:
    """Open ``folder`` with an empty embedding cache and return once the visible slice is
    encoded and a neighbour pass is under way: the moment right after opening. Returns
    how many slices were still queued or encoding then."""
    reopen_with_empty_cache(window, engine, folder)
    wait_until(lambda: engine.is_encoded(window.document.slice_index))
    idle_wait(300)
    return sum(1 for state in engine.slice_states().values() if state != "encoded")


def reopen_with_empty_cache(window, engine, folder: Path) -> None:
    """Let the pass in flight finish, forget every embedding, open ``folder`` and wait for
    its Document (the engine then encodes its visible slice, then the neighbours)."""
    engine.cancel_pending()
    wait_until(lambda: engine.scheduler.in_flight() is None)
    engine.cache.clear_memory()
    previous = window.document
    window.open_path(str(folder))
    wait_until(lambda: window.document is not previous)


def drag_box(window) -> dict:
    """Press on the canvas, ``DRAG_STEPS`` moves ``DRAG_INTERVAL_MS`` apart with the event
    loop idle in between, release; then wait for the preview of the last box.

    Returns previews (shown from the first move to the last box's preview), their rate
    per second over that span, the median decoder call and last box -> its preview (ms).
    """
    prompts = window.prompts
    previews: list[float] = []
    decoder_ms: list[float] = []

    def on_preview() -> None:
        if prompts.preview is not None:
            previews.append(time.perf_counter())

    preview_listener = prompts.preview_changed.connect(on_preview)
    decoded_listener = prompts.decoded.connect(decoder_ms.append)
    viewport = window.view.viewport()

    def position(step):  # every box is over 160 px wide: decoded on the whole slice, no ROI crop
        grown = 160 + 4 * step if step else 0
        return window.view.widget_position(120.5 + grown, 150.5 + 0.8 * grown)

    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, position(0))
    first_move = last_move = 0.0
    for step in range(1, DRAG_STEPS + 1):
        QTest.mouseMove(viewport, position(step))
        last_move = time.perf_counter()
        first_move = first_move or last_move
        idle_wait(DRAG_INTERVAL_MS)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, position(DRAG_STEPS))
    last_box = prompts.box_xyxy
    wait_until(lambda: prompts.preview is not None and tuple(prompts.preview.box_xyxy) == tuple(last_box)
               and previews and previews[-1] >= last_move)
    prompts.preview_changed.disconnect(preview_listener)
    prompts.decoded.disconnect(decoded_listener)
    prompts.clear()
    shown = [moment for moment in previews if moment >= first_move]
    return {
        "previews": len(shown),
        "previews_per_s": len(shown) / (shown[-1] - first_move),
        "decoder_ms": float(np.median(decoder_ms)),
        "last_box_ms": (shown[-1] - last_move) * 1000.0,
    }


def summarise(runs: list[dict]) -> dict:
    return {name: float(np.median([run[name] for run in runs])) for name in ("previews", "previews_per_s", "decoder_ms", "last_box_ms")}


def neighbour_slices_per_minute(window, engine, folder: Path) -> float:
    """Open ``folder`` with an empty cache, nobody prompting; slices per minute of the
    first ``THROUGHPUT_SLICES`` neighbours encoded after the visible slice."""
    encoded_at: list[float] = []
    listener = window.encoder.embedding_ready.connect(
        lambda _index, cached, _s: None if cached else encoded_at.append(time.perf_counter()))
    reopen_with_empty_cache(window, engine, folder)
    wait_until(lambda: len(encoded_at) >= THROUGHPUT_SLICES + 1)  # the visible slice, then neighbours
    window.encoder.embedding_ready.disconnect(listener)
    return THROUGHPUT_SLICES * 60.0 / (encoded_at[THROUGHPUT_SLICES] - encoded_at[0])


def measure_journal_cost(window, repeats: int = 20) -> list[tuple[str, float, float, float]]:
    """UI-thread time of accept / brush / 3D-mask edits with and without the journal,
    and the time from each journaled action to its fsync (the writer thread's work)."""
    document = window.document
    depth, rows, cols = document.labels.shape
    yy, xx = np.ogrid[:rows, :cols]
    organ = (yy - rows // 2) ** 2 / (rows / 4) ** 2 + (xx - cols // 2) ** 2 / (cols / 3) ** 2 <= 1.0

    def accept() -> None:
        document.paint_slice(document.slice_index, organ, description="AI mask")

    def brush() -> None:
        document.begin_stroke("brush")
        for dab in range(20):
            document.paint_slice(document.slice_index, (yy - 100 - 3 * dab) ** 2 + (xx - 120 - 4 * dab) ** 2 <= 64)
        document.end_stroke()

    def volume_mask() -> None:
        document.paint_volume(np.broadcast_to(organ, (depth, rows, cols)), description="propagate")

    def timed(action, journaled: bool, per: int) -> tuple[float, float]:
        document.undo() if document.history.can_undo else None
        started = time.perf_counter()
        action()
        ui_ms = (time.perf_counter() - started) * 1000.0 / per
        durable_ms = 0.0
        if journaled:
            writer = window.case_files.autosaver.writer
            writer.wait_durable(writer.last_seq)
            durable_ms = (time.perf_counter() - started) * 1000.0 - ui_ms * per
        return ui_ms, durable_ms

    results = []
    for name, action, per in (("accept mask", accept, 1), ("brush dab", brush, 20), ("3D mask", volume_mask, 1)):
        window.case_files.autosaver.detach()
        without = [timed(action, False, per)[0] for _ in range(repeats)]
        window.case_files.autosaver.attach(document)
        journaled = [timed(action, True, per) for _ in range(repeats)]
        results.append((name, float(np.median(without)), float(np.median([ui for ui, _ in journaled])),
                        float(np.median([d for _, d in journaled]))))
    return results


if __name__ == "__main__":
    sys.exit(main())
