"""Memory of a full-size case: a 512 x 512 x 300 CT with its labels, an undo history
of organ-sized edits and a full embedding cache, with the real LiteMedSAM engine.

The quality bar: all of it fits in 2 GiB. Prints the process's peak resident memory
after each stage (``ru_maxrss``), and the sizes the app accounts for itself.

    python benchmarks/bench_memory.py [--cache-mb 512]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np

SHAPE_ZYX = (300, 512, 512)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache-mb", type=float, default=512.0)
    args = parser.parse_args()
    rows = [("python + numpy", peak_mib(), "")]

    from medsam_gui.core.document import Document
    from medsam_gui.core.volume import Volume
    from medsam_gui.engine import Engine

    engine = Engine.create("litemedsam", device="cpu", memory_cache_mb=args.cache_mb, disk_cache=False)
    rows.append(("torch + LiteMedSAM loaded", peak_mib(), ""))

    rng = np.random.default_rng(0)
    voxels = rng.integers(-1000, 1500, size=SHAPE_ZYX, dtype=np.int16)
    volume = Volume(voxels, spacing_xyz=(0.8, 0.8, 1.0), modality="CT")
    document = Document(volume)
    rows.append(("CT 512x512x300 int16 + labelmap", peak_mib(), f"volume {voxels.nbytes / 2**20:.0f} MiB, labels {document.labels.nbytes / 2**20:.0f} MiB"))

    # 400 brush strokes, then 40 organ-sized 3D edits (propagations / imports); the
    # history keeps its newest 200 steps, so the 3D edits are all still undoable
    for stroke in range(400):
        document.begin_stroke()
        slice_index = int(rng.integers(0, SHAPE_ZYX[0]))
        for dab in range(10):
            disc = np.zeros(SHAPE_ZYX[1:], bool)
            cy, cx = rng.integers(20, 490, 2)
            disc[cy - 8 : cy + 8, cx - 8 : cx + 8] = True
            document.paint_slice(slice_index, disc)
        document.end_stroke()
    for organ in range(40):
        centre = rng.integers([60, 150, 150], [240, 360, 360])
        radius = rng.integers([20, 30, 30], [60, 80, 80])
        mask = np.zeros(SHAPE_ZYX, bool)
        lo, hi = centre - radius, centre + radius + 1
        z, y, x = np.ogrid[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        ellipsoid = ((z - centre[0]) / radius[0]) ** 2 + ((y - centre[1]) / radius[1]) ** 2 + ((x - centre[2]) / radius[2]) ** 2 <= 1
        mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = ellipsoid
        document.paint_volume(mask, value=1 + organ % 5)
    rows.append(("+ 400 brush strokes, 40 3D edits (undo history)", peak_mib(), f"history {document.history.nbytes / 2**20:.0f} MiB (limit {document.history.max_bytes / 2**20:.0f})"))

    # fill the embedding cache: one real encode, then distinct keys up to past the limit
    engine.set_volume(volume)
    engine.request(0)
    started = time.perf_counter()
    engine.run_next_job(timeout_s=0.0)
    encode_s = time.perf_counter() - started
    embedding = engine.cache.get_memory(engine._key((0, None)))
    per_entry_mib = embedding.nbytes / 2**20
    for index in range(int(args.cache_mb / per_entry_mib) + 50):
        features = engine.backend.features_from_array(engine.backend.features_to_array(embedding.features))
        copy = type(embedding)(features, embedding.frame)
        engine.cache.put(f"bench-{index}", copy, None)
    rows.append(("+ embedding cache filled past its limit", peak_mib(), f"cache {engine.cache.memory_bytes / 2**20:.0f} MiB (limit {args.cache_mb:.0f}), {per_entry_mib:.1f} MiB/slice, encode {encode_s:.1f} s"))

    print("| stage | peak RSS (MiB) | accounted |")
    print("|---|---|---|")
    for stage, mib, note in rows:
        print(f"| {stage} | {mib:7.0f} | {note} |")
    verdict = "fits" if rows[-1][1] <= 2048 else "DOES NOT fit"
    print(f"\npeak {rows[-1][1]:.0f} MiB: {verdict} in 2 GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
