"""How the real window behaves while the model works (offscreen Qt, real LiteMedSAM).

    QT_QPA_PLATFORM=offscreen python benchmarks/ui_responsiveness.py [--data ../shared/data]

1. UI-thread stall: a 10 ms QTimer's lateness while a fresh engine encodes every slice
   of the dcmqi CT (the encoder runs on its worker thread).
2. A dragged box on the 20-slice TotalSegmentator CT: 30 box changes 33 ms apart
   (mouse moves on the canvas, the event loop idle in between), at two moments: right
   after opening, while the encoder computes the neighbours of the visible slice, and
   with the encoder idle (every slice encoded). Previews shown per second, the decoder
   call median and the time from the last box to its preview, with the busy/idle
   ratio; "right after opening" is run with interaction first (the engine's
   InteractionGate) and with the gate disabled (the behaviour before it), alternately.
3. Neighbour encoding throughput (slices per minute, nobody prompting): the gate
   installed but idle against the gate disabled, alternately, in the same run.
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
REPEATS = 3  # drags per moment and gate setting; throughput runs per gate setting


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
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    app = QApplication(sys.argv[:1])
    from medsam_gui.engine import Engine
    from medsam_gui.ui.main_window import MainWindow

    engine = Engine.create(model_name="litemedsam", device="cpu", disk_cache=False)
    window = MainWindow(engine=engine)
    window.resize(1200, 900)
    window.show()
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

    ct_folder = args.data / "totalseg" / "example_ct_dicom"
    window.use_box_tool()
    drags: dict[str, list[dict]] = {"after opening, interaction first": [], "after opening, gate disabled": [], "encoder idle": []}
    throughput: dict[str, list[float]] = {"gate installed, idle": [], "gate disabled": []}
    for _ in range(REPEATS):
        for label, gate_enabled in (("after opening, interaction first", True), ("after opening, gate disabled", False)):
            engine.interaction.enabled = gate_enabled
            queued = open_fresh(window, engine, ct_folder)
            drags[label].append({**drag_box(window), "queued": queued})
    for _ in range(REPEATS):
        for label, gate_enabled in (("gate installed, idle", True), ("gate disabled", False)):
            engine.interaction.enabled = gate_enabled
            throughput[label].append(neighbour_slices_per_minute(window, engine, ct_folder))
    engine.interaction.enabled = True
    wait_until(lambda: not engine.scheduler.queued() and engine.scheduler.in_flight() is None)
    for _ in range(REPEATS):
        drags["encoder idle"].append(drag_box(window))

    depth = window.document.volume.shape_zyx[0]
    journal_rows = measure_journal_cost(window)
    window.document.mark_saved()
    window.close()

    print_table(["measure", "value"], stall_rows)
    print(f"\ndragged box on the TotalSegmentator CT ({depth} slices): "
          f"{DRAG_STEPS} box changes {DRAG_INTERVAL_MS} ms apart, median of {REPEATS} drags")
    idle = summarise(drags["encoder idle"])
    rows = []
    for label, runs in drags.items():
        summary = summarise(runs)
        ratio = "" if label == "encoder idle" else (
            f"{summary['previews_per_s'] / idle['previews_per_s']:.2f} / {summary['decoder_ms'] / idle['decoder_ms']:.2f} / "
            f"{summary['last_box_ms'] / max(idle['last_box_ms'], 1.0):.2f}")
        queued = f"{int(np.median([run['queued'] for run in runs]))}" if "queued" in runs[0] else "0"
        rows.append((label, queued, f"{summary['previews']:.0f}", f"{summary['previews_per_s']:.1f}",
                     f"{summary['decoder_ms']:.0f}", f"{summary['last_box_ms']:.0f}", ratio))
    print_table(["moment", "slices queued", "previews", "previews/s", "decoder median ms", "last box -> preview ms",
                 "busy/idle: previews/s, decoder, last box"], rows)
    print(f"\nneighbour encoding, nobody prompting ({THROUGHPUT_SLICES} neighbours per run, median of {REPEATS})")
    reference = float(np.median(throughput["gate disabled"]))
    print_table(["gate", "slices per minute", "ratio to disabled"],
                [(label, f"{np.median(values):.1f}", f"{np.median(values) / reference:.3f}") for label, values in throughput.items()])
    print("\nedit journal (UI-thread ms per action, median of 20; budget 50 ms)")
    print("action            | no journal | journal | ratio | durable after (median)")
    print("------------------|------------|---------|-------|-----------------------")
    for name, without_ms, with_ms, durable_ms in journal_rows:
        print(f"{name:<17} | {without_ms:>10.2f} | {with_ms:>7.2f} | {with_ms / max(without_ms, 1e-6):>5.2f} | {durable_ms:.2f} ms")
    return 0


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
            writer = window.autosaver.writer
            writer.wait_durable(writer.last_seq)
            durable_ms = (time.perf_counter() - started) * 1000.0 - ui_ms * per
        return ui_ms, durable_ms

    results = []
    for name, action, per in (("accept mask", accept, 1), ("brush dab", brush, 20), ("3D mask", volume_mask, 1)):
        window.autosaver.detach()
        without = [timed(action, False, per)[0] for _ in range(repeats)]
        window.autosaver.attach(document)
        journaled = [timed(action, True, per) for _ in range(repeats)]
        results.append((name, float(np.median(without)), float(np.median([ui for ui, _ in journaled])),
                        float(np.median([d for _, d in journaled]))))
    return results


if __name__ == "__main__":
    sys.exit(main())
