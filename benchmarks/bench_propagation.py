"""Dice of 3D propagation from ONE key-slice box vs slice-by-slice tight boxes.

TotalSegmentator CT (shared data ``totalseg/example_ct_sm.nii.gz`` + ``example_seg.nii.gz``; with
``--scan dicom`` the 20-slice DICOM CT ``example_ct_dicom`` + ``example_seg_dicom.nii.gz``),
LiteMedSAM on CPU. For each organ: the key slice is the one with the largest organ
area; its tight ground-truth box gives the key mask; propagation carries it up and
down. Several configurations side by side (the defaults; as before issue 13's rules: no
per-pixel intensity cleaning, intensity stop at 1.0 SD; box refinement per slice, box
margin, mask_input, and three key boxes with propagate_from_keys). References: a tight
ground-truth box on every slice (the ceiling, needing the user to draw every slice),
and copying the key mask to every organ slice.

    python benchmarks/bench_propagation.py [--scan small|dicom] [--organs 1 2 3 5] [--configs "1 box, refit" ...]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from medsam_gui.engine import Engine, RoiPolicy
from medsam_gui.engine.box_refine import BoxRefinement
from medsam_gui.engine.propagate import PropagationSettings, box_of_mask, propagate, propagate_from_keys, segment_boxes
from medsam_gui.io.load import open_volume
from medsam_gui.io.resample import resample_onto

SCANS = {"small": ("example_ct_sm.nii.gz", "example_seg.nii.gz"), "dicom": ("example_ct_dicom", "example_seg_dicom.nii.gz")}
ORGAN_NAMES = {1: "spleen", 2: "kidney right", 3: "kidney left", 4: "gallbladder", 5: "liver", 6: "stomach", 7: "pancreas"}


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return float(2 * (a & b).sum() / total) if total else 1.0


def configs(args) -> dict[str, tuple[PropagationSettings, str]]:
    """name -> (settings, how the key mask is made: 'one' box or 'keys3' boxes)."""
    base = PropagationSettings(use_mask_input=args.mask_input, box_margin_px=args.margin, min_score=args.min_score,
                               max_intensity_shift=args.max_intensity_shift, pixel_intensity_sd=args.pixel_intensity_sd)
    off, refit = BoxRefinement(mode="off"), BoxRefinement(mode="refit")
    before = replace(base, box_refinement=off, max_intensity_shift=1.0, pixel_intensity_sd=0.0)
    table = {
        "1 box": (base, "one"),  # the engine's default box rule, as the app propagates (intensity trim)
        "1 box, no intensity trim": (replace(base, box_refinement=off), "one"),
        "1 box, as before (stop 1.0 SD, no pixel cleaning)": (before, "one"),
        "1 box, pixel cleaning, stop 1.0 SD": (replace(before, pixel_intensity_sd=2.0), "one"),
        "1 box, stop 0.8 SD, no pixel cleaning": (replace(before, max_intensity_shift=0.8), "one"),
        "1 box, pixel cleaning 1.75 SD": (replace(base, box_refinement=off, pixel_intensity_sd=1.75), "one"),
        "1 box, pixel cleaning 2.25 SD": (replace(base, box_refinement=off, pixel_intensity_sd=2.25), "one"),
        "1 box, stop 0.9 SD": (replace(base, box_refinement=off, max_intensity_shift=0.9), "one"),
        "1 box, refit": (replace(base, box_refinement=refit), "one"),
        "1 box, margin 10% + refit": (replace(base, box_margin_fraction=0.10, box_refinement=refit), "one"),
        "1 box, margin 5% + refit": (replace(base, box_margin_fraction=0.05, box_refinement=refit), "one"),
        "1 box, mask_input": (replace(base, use_mask_input=True, box_refinement=off), "one"),
        "3 key boxes": (replace(base, box_refinement=off), "keys3"),
    }
    return {name: table[name] for name in (args.configs or table)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=os.environ.get("MEDSAM_GUI_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data")))
    parser.add_argument("--organs", type=int, nargs="+", default=[1, 2, 3, 5, 6, 4, 7])
    parser.add_argument("--mask-input", action="store_true", help="also pass the previous slice's logits")
    parser.add_argument("--min-zoom", type=float, default=RoiPolicy.min_zoom, help="ROI zoom only above this magnification")
    parser.add_argument("--min-score", type=float, default=PropagationSettings.min_score, help="stop below this predicted IoU")
    parser.add_argument("--max-intensity-shift", type=float, default=PropagationSettings.max_intensity_shift,
                        help="stop when the mask's mean is this many key-slice SDs away (0: off)")
    parser.add_argument("--pixel-intensity-sd", type=float, default=PropagationSettings.pixel_intensity_sd,
                        help="drop propagated mask pixels this many key-slice SDs from the key mean (0: off)")
    parser.add_argument("--margin", type=int, default=PropagationSettings.box_margin_px, help="box margin around the previous mask (px)")
    parser.add_argument("--configs", nargs="*", help="names of the configurations to run (default: all)")
    parser.add_argument("--scan", choices=sorted(SCANS), default="small",
                        help="small: example_ct_sm (the scan the defaults were tuned on); dicom: the 20-slice DICOM CT "
                             "(0.98 mm pixels, 2 mm slices), a check on a scan they were not tuned on")
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = Path(args.data) / "totalseg"
    scan, segmentation = SCANS[args.scan]
    volume = open_volume(data / scan)
    ground_truth = resample_onto(volume, data / segmentation)  # by geometry: the DICOM labels are stored y-flipped
    engine = Engine.create("litemedsam", device="cpu", roi_policy=RoiPolicy(min_zoom=args.min_zoom))
    engine.set_volume(volume)
    chosen = configs(args)
    off = BoxRefinement(mode="off")
    rows = []
    started_all = time.perf_counter()
    for value in args.organs:
        organ = ground_truth == value
        present = np.flatnonzero(organ.any(axis=(1, 2)))
        if present.size == 0:
            continue
        key = int(present[np.argmax(organ[present].sum(axis=(1, 2)))])
        key_result = segment_boxes(engine, {key: box_of_mask(organ[key])}, organ.shape, encode_inline=True, box_refinement=off)
        key_mask = key_result.mask_zyx[key]
        row = {"organ": ORGAN_NAMES.get(value, str(value)), "gt": f"{present[0]}-{present[-1]}"}
        for name, (settings, keying) in chosen.items():
            if keying == "one":
                result = propagate(engine, key, key_mask, organ.shape[0], settings, encode_inline=True,
                                   )
            else:  # key boxes at the largest slice and a quarter of the extent in from each end
                span = present[-1] - present[0]
                keys = sorted({key, int(present[0] + span // 4), int(present[-1] - span // 4)})
                result = propagate_from_keys(engine, {z: box_of_mask(organ[z]) for z in keys}, organ.shape[0], settings,
                                             encode_inline=True)
            row[name] = (dice(result.mask_zyx, organ), f"{result.first_slice}-{result.last_slice}")
        row["tight"] = dice(segment_boxes(engine, {int(z): box_of_mask(organ[z]) for z in present}, organ.shape,
                                          encode_inline=True, box_refinement=off).mask_zyx, organ)
        copied = np.zeros_like(organ)
        copied[present] = key_mask
        row["copy"] = dice(copied, organ)
        rows.append(row)
    print(f"LiteMedSAM, CPU 2 threads, {SCANS[args.scan][0]} {volume.shape_zyx}, {time.perf_counter() - started_all:.0f} s; "
          f"base settings margin {args.margin} px, max_intensity_shift {args.max_intensity_shift}, "
          f"pixel_intensity_sd {args.pixel_intensity_sd}, min_score {args.min_score}")
    names = list(chosen)
    print("| organ | GT slices | " + " | ".join(f"{n} (slices)" for n in names) + " | tight box every slice (ceiling) | copy key mask |")
    print("|" + "---|" * (len(names) + 4))
    for row in rows:
        cells = [f"{row[n][0]:.3f} ({row[n][1]})" for n in names]
        print(f"| {row['organ']} | {row['gt']} | " + " | ".join(cells) + f" | {row['tight']:.3f} | {row['copy']:.3f} |")
    if rows:
        means = [f"{np.mean([r[n][0] for r in rows]):.3f}" for n in names]
        print("| mean | | " + " | ".join(means) + f" | {np.mean([r['tight'] for r in rows]):.3f} | "
              f"{np.mean([r['copy'] for r in rows]):.3f} |")


if __name__ == "__main__":
    main()
