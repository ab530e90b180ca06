"""Batch throughput: rows per minute and peak memory, three ways.

1. ``segment``: one ``medsam-gui segment`` process per row (what a script did before
   ``batch``), the model loaded again for every row;
2. ``batch``: ``medsam-gui batch`` in one process, the model loaded once;
3. ``batch --ray local --workers 2``: the same on a local 2-CPU Ray instance.

The manifest is built from the organ labels of the shared data (``MEDSAM_GUI_DATA``,
default ``../shared/data``): tight boxes of labelled organs on
``totalseg/example_ct_sm.nii.gz`` and ``dcmqi/ct-3slice``, repeated ``--repeat`` times
(as copies of the scans, so every repeat is encoded again). Each way starts with an
empty embedding cache of its own. Peak memory: the largest single process
(``getrusage(RUSAGE_CHILDREN)``) and the largest sum over the process tree, sampled from
/proc every 0.2 s (psutil when installed), so Ray's worker processes count. Prints a
table; not a test.

    python benchmarks/bench_batch.py [--repeat 1] [--device cpu] [--skip segment,ray]
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = Path(os.environ.get("MEDSAM_GUI_DATA", REPO_ROOT.parent / "shared" / "data"))
sys.path.insert(0, str(REPO_ROOT))


def build_manifest(folder: Path, repeat: int) -> Path:
    """Rows from tight boxes of ground-truth organs; scans copied ``repeat`` times."""
    import numpy as np

    from medsam_gui.io.load import open_volume
    from medsam_gui.io.resample import resample_onto

    def box(mask):
        rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        return [int(columns[0]), int(rows[0]), int(columns[-1]), int(rows[-1])]

    small = DATA_ROOT / "totalseg" / "example_ct_sm.nii.gz"
    small_labels = resample_onto(open_volume(small), DATA_ROOT / "totalseg" / "example_seg.nii.gz")
    series = DATA_ROOT / "dcmqi" / "ct-3slice"
    series_volume = open_volume(series)
    prompts = [
        ("example_ct_sm.nii.gz", small, "liver", 15, small_labels[15] == 5),
        ("example_ct_sm.nii.gz", small, "spleen", 15, small_labels[15] == 1),
        ("example_ct_sm.nii.gz", small, "kidney_left", 11, small_labels[11] == 3),
        ("ct-3slice", series, "liver", 1, resample_onto(series_volume, DATA_ROOT / "dcmqi" / "liver_seg.nrrd")[1] > 0),
        ("ct-3slice", series, "heart", 1, resample_onto(series_volume, DATA_ROOT / "dcmqi" / "heart_seg.nrrd")[1] > 0),
    ]
    rows = []
    for copy in range(repeat):
        for name, source, label, slice_index, mask in prompts:
            if not mask.any():
                continue
            target = folder / f"case{copy}" / name
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
            rows.append([str(target.relative_to(folder)), label, slice_index, *box(mask)])
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "label", "slice", "x0", "y0", "x1", "y1"])
        writer.writerows(rows)
    return manifest


def _tree_rss_bytes(root_pid: int) -> int:
    """Summed RSS of ``root_pid`` and its descendants (psutil, else /proc)."""
    try:
        import psutil

        root = psutil.Process(root_pid)
        return sum(process.memory_info().rss for process in [root, *root.children(recursive=True)])
    except ImportError:
        pass
    except Exception:
        return 0
    parents, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
            parents[int(entry)] = int(fields["PPid"])
            rss[int(entry)] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
        except (OSError, KeyError, ValueError):
            continue
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(rss.get(pid, 0) for pid in tree)


def run_measured(commands: list[list[str]], env: dict) -> tuple[float, int, int]:
    """(seconds, peak single-process RSS, peak tree RSS) of running ``commands`` one by one."""
    peak_tree = 0
    started = time.perf_counter()
    for command in commands:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        stop = threading.Event()

        def sample(pid=process.pid) -> None:
            nonlocal peak_tree
            while not stop.is_set():
                peak_tree = max(peak_tree, _tree_rss_bytes(pid))
                stop.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, error = process.communicate()
        stop.set()
        sampler.join()
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{error[-2000:]}")
    seconds = time.perf_counter() - started
    peak_single = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # kB on Linux; a running max
    return seconds, peak_single, peak_tree


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="copies of the scans (rows = 5 x repeat)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip", default="", help="comma-separated: segment, batch, ray")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    medsam = [sys.executable, "-m", "medsam_gui"]
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
        folder = Path(scratch)
        manifest = build_manifest(folder / "data", args.repeat)
        with manifest.open() as handle:
            rows = list(csv.DictReader(handle))
        ways = []
        if "segment" not in skip:
            commands = [[*medsam, "segment", str(manifest.parent / row["image"]), "--slice", row["slice"], "--box",
                         row["x0"], row["y0"], row["x1"], row["y1"], "--device", args.device,
                         "-o", str(folder / f"segment-{number}.nii.gz")] for number, row in enumerate(rows)]
            ways.append(("segment, one process per row", commands))
        if "batch" not in skip:
            ways.append(("batch, in-process", [[*medsam, "batch", str(manifest), "-o", str(folder / "batch"),
                                                 "--device", args.device]]))
        if "ray" not in skip:
            ways.append(("batch --ray local --workers 2", [[*medsam, "batch", str(manifest), "-o", str(folder / "ray"),
                                                            "--device", args.device, "--ray", "local", "--workers", "2"]]))
        results = []
        for name, commands in ways:
            env = {**os.environ, "MEDSAM_GUI_CACHE_DIR": str(folder / f"cache-{len(results)}"), "HF_HUB_OFFLINE": "1"}
            seconds, peak_single, peak_tree = run_measured(commands, env)
            results.append((name, seconds, peak_single, peak_tree))
            print(f"{name}: {seconds:.1f} s", file=sys.stderr)
    print(f"\n{len(rows)} rows on {args.device}, {os.cpu_count()} CPUs visible\n")
    print(f"| {'way':<32} | {'seconds':>7} | {'rows/min':>8} | {'peak RSS, largest process':>25} | {'peak RSS, process tree':>22} |")
    print(f"|{'-' * 34}|{'-' * 9}|{'-' * 10}|{'-' * 27}|{'-' * 24}|")
    for name, seconds, peak_single, peak_tree in results:
        print(f"| {name:<32} | {seconds:>7.1f} | {len(rows) / seconds * 60:>8.1f} | {peak_single / 2**20:>21.0f} MiB "
              f"| {peak_tree / 2**20:>18.0f} MiB |")
    print("\n(peak RSS, largest process: getrusage(RUSAGE_CHILDREN), a running maximum over the ways so far)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
