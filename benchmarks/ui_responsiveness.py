"""How the real window behaves while the model works (offscreen Qt, real LiteMedSAM).

    QT_QPA_PLATFORM=offscreen python benchmarks/ui_responsiveness.py [--data ../shared/data]

1. UI-thread stall: a 10 ms QTimer's lateness while a fresh engine encodes every slice
   of the dcmqi CT (the encoder runs on its worker thread).
2. A dragged box: 25 box changes 20 ms apart on an encoded slice; how many decoder
   calls ran (latest request wins, so fewer than the changes), and the time from the
   last change to the preview of that exact box.
3. The edit journal's cost: the UI-thread time of an accepted mask, one dab of a
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
from PyQt6.QtCore import QTimer  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]


def wait_until(app: QApplication, condition, timeout_s: float = 300.0) -> None:
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("condition not met in time")
        app.processEvents()
        time.sleep(0.002)


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
    window.show()
    ticks: list[float] = []
    encode_seconds: list[float] = []
    window.encoder.embedding_ready.connect(lambda _i, _c, seconds: encode_seconds.append(seconds))
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    window.open_path(str(args.data / "dcmqi" / "ct-3slice"))
    wait_until(app, lambda: window.document is not None)
    count = window.document.volume.shape_zyx[0]
    wait_until(app, lambda: all(engine.is_encoded(i) for i in range(count)))
    timer.stop()
    lateness_ms = np.diff(ticks) * 1000.0 - 10.0

    decoder_calls: list[float] = []
    window.prompts.decoded.connect(decoder_calls.append)
    slice_index = window.document.slice_index
    boxes = [(100 + 4 * step, 150 + 3 * step, 300 + 4 * step, 330 + 3 * step) for step in range(25)]
    for box in boxes:
        window.prompts.set_box(slice_index, box)
        end = time.perf_counter() + 0.02
        while time.perf_counter() < end:
            app.processEvents()
    last_change = time.perf_counter()
    wait_until(app, lambda: window.prompts.preview is not None and tuple(window.prompts.preview.box_xyxy) == boxes[-1])
    final_latency_ms = (time.perf_counter() - last_change) * 1000.0
    journal_rows = measure_journal_cost(window)
    window.document.mark_saved()
    window.close()

    rows = [
        ("encoder pass", f"{count} slices, {sum(encode_seconds):.1f} s encoder time"),
        ("UI timer lateness median / p99 / worst", f"{np.median(lateness_ms):.1f} / {np.percentile(lateness_ms, 99):.1f} / {lateness_ms.max():.1f} ms"),
        ("box changes during drag", f"{len(boxes)} at 20 ms"),
        ("decoder calls run", f"{len(decoder_calls)} (median {np.median(decoder_calls):.0f} ms each)"),
        ("last box -> its preview", f"{final_latency_ms:.0f} ms"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'measure'.ljust(width)} | value\n{'-' * width}-|------")
    for name, value in rows:
        print(f"{name.ljust(width)} | {value}")
    print("\nedit journal (UI-thread ms per action, median of 20; budget 50 ms)")
    print("action            | no journal | journal | ratio | durable after (median)")
    print("------------------|------------|---------|-------|-----------------------")
    for name, without_ms, with_ms, durable_ms in journal_rows:
        print(f"{name:<17} | {without_ms:>10.2f} | {with_ms:>7.2f} | {with_ms / max(without_ms, 1e-6):>5.2f} | {durable_ms:.2f} ms")
    return 0


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
