"""Dice of 3D propagation from ONE key-slice box vs slice-by-slice tight boxes.

TotalSegmentator CT (shared data ``totalseg/example_ct_sm.nii.gz`` + ``example_seg.nii.gz``),
LiteMedSAM on CPU. For each organ: the key slice is the one with the largest organ
area; its tight ground-truth box gives the key mask; propagation carries it up and
down. References: a tight ground-truth box on every slice (an upper bound needing
the user to draw every slice), and copying the key mask to every organ slice.

    python benchmarks/bench_propagation.py [--organs 1 2 3 5] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from medsam_gui.engine import Engine, RoiPolicy
from medsam_gui.engine.propagate import PropagationSettings, box_of_mask, propagate, segment_boxes
from medsam_gui.io.load import open_volume
from medsam_gui.io.resample import resample_onto

ORGAN_NAMES = {1: "spleen", 2: "kidney right", 3: "kidney left", 4: "gallbladder", 5: "liver", 6: "stomach", 7: "pancreas"}


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return float(2 * (a & b).sum() / total) if total else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=os.environ.get("MEDSAM_GUI_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data")))
    parser.add_argument("--organs", type=int, nargs="+", default=[1, 2, 3, 5, 6, 4, 7])
    parser.add_argument("--mask-input", action="store_true", help="also pass the previous slice's logits")
    parser.add_argument("--min-zoom", type=float, default=RoiPolicy.min_zoom, help="ROI zoom only above this magnification")
    parser.add_argument("--min-score", type=float, default=PropagationSettings.min_score, help="stop below this predicted IoU")
    parser.add_argument("--max-intensity-shift", type=float, default=PropagationSettings.max_intensity_shift,
                        help="stop when the mask's mean is this many key-slice SDs away (0: off)")
    parser.add_argument("--margin", type=int, default=PropagationSettings.box_margin_px, help="box margin around the previous mask (px)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = Path(args.data) / "totalseg"
    volume = open_volume(data / "example_ct_sm.nii.gz")
    ground_truth = resample_onto(volume, data / "example_seg.nii.gz")
    engine = Engine.create("litemedsam", device="cpu", roi_policy=RoiPolicy(min_zoom=args.min_zoom))
    engine.set_volume(volume)
    settings = PropagationSettings(use_mask_input=args.mask_input, box_margin_px=args.margin, min_score=args.min_score,
                                   max_intensity_shift=args.max_intensity_shift)
    rows = []
    for value in args.organs:
        organ = ground_truth == value
        present = np.flatnonzero(organ.any(axis=(1, 2)))
        if present.size == 0:
            continue
        key = int(present[np.argmax(organ[present].sum(axis=(1, 2)))])
        started = time.perf_counter()
        key_result = segment_boxes(engine, {key: box_of_mask(organ[key])}, organ.shape, encode_inline=True)
        key_mask = key_result.mask_zyx[key]
        propagated = propagate(engine, key, key_mask, organ.shape[0], settings, encode_inline=True)
        tight = segment_boxes(
            engine, {int(z): box_of_mask(organ[z]) for z in present}, organ.shape, encode_inline=True
        ).mask_zyx
        copied = np.zeros_like(organ)
        copied[present] = key_mask
        rows.append(
            (
                ORGAN_NAMES.get(value, str(value)),
                f"{present[0]}-{present[-1]}",
                f"{propagated.first_slice}-{propagated.last_slice}",
                dice(propagated.mask_zyx, organ),
                dice(tight, organ),
                dice(copied, organ),
                time.perf_counter() - started,
            )
        )
    print(f"LiteMedSAM, CPU 2 threads, example_ct_sm {volume.shape_zyx}, {settings}")
    print(f"| organ | GT slices | propagated slices | Dice propagate (1 box) | Dice tight box every slice | Dice copy key mask | seconds |")
    print("|---|---|---|---|---|---|---|")
    for name, gt_range, got_range, d_prop, d_tight, d_copy, seconds in rows:
        print(f"| {name} | {gt_range} | {got_range} | {d_prop:.3f} | {d_tight:.3f} | {d_copy:.3f} | {seconds:.0f} |")
    if rows:
        print(f"| mean | | | {np.mean([r[3] for r in rows]):.3f} | {np.mean([r[4] for r in rows]):.3f} | {np.mean([r[5] for r in rows]):.3f} | |")


if __name__ == "__main__":
    main()
