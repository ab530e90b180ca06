"""How the real window behaves while the model works (offscreen Qt, real LiteMedSAM).

    QT_QPA_PLATFORM=offscreen python benchmarks/ui_responsiveness.py [--data ../shared/data]

1. UI-thread stall: a 10 ms QTimer's lateness while a fresh engine encodes every slice
   of the dcmqi CT (the encoder runs on its worker thread).
2. A dragged box: 25 box changes 20 ms apart on an encoded slice; how many decoder
   calls ran (latest request wins, so fewer than the changes), and the time from the
   last change to the preview of that exact box.
Prints one table. Timings on a shared machine are noisy: run it alone.
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
