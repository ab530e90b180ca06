"""Reading a compressed DICOM series: the time, and how long the UI thread waits meanwhile.

    python benchmarks/bench_dicom_read.py [--repeats 5] [--data ../shared/data]

Each series is read with ``open_volume`` on a background thread, as the app's loader does,
while the main thread stands in for the UI thread: it sleeps 1 ms and takes the GIL again,
over and over (as Qt does each time it calls back into Python). Its longest wait and its
99th percentile show how long the window would freeze.

Two paths, in turns in the same run:
- "pydicom's decoders (before)": every frame decoded by pydicom's plugins (GDCM,
  pylibjpeg), which hold the GIL for the whole frame, one slice after another;
- "GIL released (now)": grey JPEG 2000 / JPEG-LS / lossless JPEG frames decoded by
  imagecodecs (``io/dicom_codecs.py``), which releases the GIL, on ``DECODER_THREADS``
  threads.
Prints a table; not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
SERIES = (  # (name, folder under the data folder)
    ("CT 20x512x512, JPEG 2000 lossless", "totalseg/example_ct_dicom"),
    ("MR 4 slices, JPEG-LS lossless", "dicom2nifti/generic/compressed_jpegls/001"),
    ("MR 4 slices, JPEG lossless", "dicom2nifti/generic/compressed/001"),
)
OLD, NEW = "pydicom's decoders (before)", "GIL released (now)"


@contextmanager
def old_decoders(active: bool = True):
    """While active: every frame decoded by pydicom's plugins, one slice at a time (the path
    before ``io/dicom_codecs.py``)."""
    from medsam_gui.io import dicom_pixels, dicom_series

    saved = dicom_pixels.decode_without_gil, dicom_series.DECODER_THREADS
    if active:
        dicom_pixels.decode_without_gil, dicom_series.DECODER_THREADS = (lambda _dataset: None), 1
    try:
        yield
    finally:
        dicom_pixels.decode_without_gil, dicom_series.DECODER_THREADS = saved


def read_beside_ui(folder: Path) -> tuple[float, list[float]]:
    """Seconds to read ``folder`` on a thread, and the main thread's waits (s) meanwhile."""
    from medsam_gui.io.load import open_volume

    done = threading.Event()
    elapsed = []

    def read() -> None:
        started = time.perf_counter()
        open_volume(folder)
        elapsed.append(time.perf_counter() - started)
        done.set()

    waits = []
    reader = threading.Thread(target=read)
    last = time.perf_counter()
    reader.start()
    while not done.is_set():
        time.sleep(0.001)
        now = time.perf_counter()
        waits.append(now - last - 0.001)
        last = now
    reader.join()
    return elapsed[0], waits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path,
                        default=Path(os.environ.get("MEDSAM_GUI_DATA", REPO_ROOT.parent / "shared" / "data")))
    parser.add_argument("--repeats", type=int, default=5, help="reads of each series on each path, in turns")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no data at {args.data} (set MEDSAM_GUI_DATA or --data)", file=sys.stderr)
        return 2
    from medsam_gui.io.dicom_series import DECODER_THREADS
    from medsam_gui.io.load import open_volume

    print(f"{os.cpu_count()} CPU cores, {DECODER_THREADS} decoder threads, "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    rows = []
    for name, folder in SERIES:
        folder = args.data / folder
        open_volume(folder)  # imports and file cache warm
        runs = {OLD: [], NEW: []}
        for _ in range(args.repeats):
            for path in (OLD, NEW):
                with old_decoders(path == OLD):
                    runs[path].append(read_beside_ui(folder))
        read_old = statistics.median(seconds for seconds, _ in runs[OLD])
        for path in (OLD, NEW):
            reads = [seconds for seconds, _ in runs[path]]
            waits = np.concatenate([np.asarray(w) for _, w in runs[path]]) * 1000.0
            rows.append((name, path, f"{statistics.median(reads):.3f}", f"{statistics.median(reads) / read_old:.2f}",
                         f"{statistics.median(max(w) for _, w in runs[path]) * 1000.0:.1f}",
                         f"{np.percentile(waits, 99):.1f}"))
    print(f"load average {os.getloadavg()[0]:.1f} at the end; medians of {args.repeats} reads")
    from ui_responsiveness import print_table  # the benchmarks' folder is on sys.path when run as a script

    print_table(["series", "decoders", "read s", "read / before", "UI thread's longest wait ms (median)",
                 "its p99 wait ms"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
