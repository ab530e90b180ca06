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

``--plane axial coronal sagittal``: walk along each plane's slice axis (key: the organ's
largest slice of that plane), one row per organ and plane. Each cell: Dice, the slices
written, then +slices written past the truth's ends / -truth slices short of them (both
ends summed).
"before tail rule" configurations switch off ``tail_fraction`` (issue: the coronal
right kidney ran 28 slices past its end), measured in the same run.

    python benchmarks/bench_propagation.py [--scan small|dicom] [--plane axial coronal] [--organs 1 2 3 5]
        [--configs "1 box, refit" ...] [--no-references]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from medsam_gui.core.planes import PLANES, PlaneGeometry
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
        "1 box, before tail rule": (replace(base, tail_fraction=0.0), "one"),
        "1 box, no intensity trim, before tail rule": (replace(base, box_refinement=off, tail_fraction=0.0), "one"),
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
    parser.add_argument("--plane", nargs="+", choices=PLANES, default=["axial"], help="walk along these planes' slice axes")
    parser.add_argument("--no-references", action="store_true", help="skip the tight-box and copy-key-mask columns")
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
    rows = []
    started_all = time.perf_counter()
    for plane in args.plane:
        geometry = PlaneGeometry.of(volume, plane)
        for value in args.organs:
            row = _organ_row(engine, geometry, ground_truth == value, chosen, args.no_references)
            if row is not None:
                rows.append({"organ": ORGAN_NAMES.get(value, str(value)), "plane": plane, **row})
    print(f"LiteMedSAM, CPU 2 threads, {SCANS[args.scan][0]} {volume.shape_zyx}, {time.perf_counter() - started_all:.0f} s; "
          f"base settings margin {args.margin} px, max_intensity_shift {args.max_intensity_shift}, "
          f"pixel_intensity_sd {args.pixel_intensity_sd}, min_score {args.min_score}; load average "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    names = list(chosen)
    references = [] if args.no_references else ["tight", "copy"]
    print("| organ | plane | GT slices | " + " | ".join(f"{n}: Dice (slices) +past/-short" for n in names)
          + (" | tight box every slice (ceiling) | copy key mask" if references else "") + " |")
    print("|" + "---|" * (len(names) + len(references) + 3))
    for row in rows:
        cells = [f"{row[n][0]:.3f} ({row[n][1]}) +{row[n][2]}/-{row[n][3]}" for n in names] + [f"{row[r]:.3f}" for r in references]
        print(f"| {row['organ']} | {row['plane']} | {row['gt']} | " + " | ".join(cells) + " |")
    for plane in args.plane:
        mine = [row for row in rows if row["plane"] == plane]
        if mine:
            cells = [f"{np.mean([r[n][0] for r in mine]):.3f} +{sum(r[n][2] for r in mine)}/-{sum(r[n][3] for r in mine)}"
                     for n in names]
            cells += [f"{np.mean([r[ref] for r in mine]):.3f}" for ref in references]
            print(f"| mean | {plane} | | " + " | ".join(cells) + " |")


def _organ_row(engine, geometry: PlaneGeometry, organ: np.ndarray, chosen, no_references: bool) -> dict | None:
    """One organ (bool ``[z, y, x]``) walked along ``geometry``'s slice axis under each configuration:
    {name: (Dice, 'first-last' slices written, slices written past the truth's ends, truth slices short of
    them), 'gt': ..., references}."""
    off = BoxRefinement(mode="off")
    plane = geometry.plane
    areas = np.array([geometry.take(organ, i).sum() for i in range(geometry.slice_count)])
    present = np.flatnonzero(areas)
    if present.size == 0:
        return None
    key = int(areas.argmax())
    key_result = segment_boxes(engine, {key: box_of_mask(geometry.take(organ, key))}, organ.shape, encode_inline=True,
                               box_refinement=off, plane=plane)
    key_mask = geometry.take(key_result.mask_zyx, key)
    row = {"gt": f"{present[0]}-{present[-1]}"}
    for name, (settings, keying) in chosen.items():
        if keying == "one":
            result = propagate(engine, key, key_mask, geometry.slice_count, settings, encode_inline=True, plane=plane)
        else:  # key boxes at the largest slice and a quarter of the extent in from each end
            span = present[-1] - present[0]
            keys = sorted({key, int(present[0] + span // 4), int(present[-1] - span // 4)})
            result = propagate_from_keys(engine, {i: box_of_mask(geometry.take(organ, i)) for i in keys},
                                         geometry.slice_count, settings, encode_inline=True, plane=plane)
        first, last = int(present[0]), int(present[-1])
        past = max(first - result.first_slice, 0) + max(result.last_slice - last, 0)
        short = max(result.first_slice - first, 0) + max(last - result.last_slice, 0)
        row[name] = (dice(result.mask_zyx, organ), f"{result.first_slice}-{result.last_slice}", past, short)
    if not no_references:
        row["tight"] = dice(segment_boxes(engine, {int(i): box_of_mask(geometry.take(organ, i)) for i in present},
                                          organ.shape, encode_inline=True, box_refinement=off, plane=plane).mask_zyx, organ)
        copied = np.zeros_like(organ)
        for i in present:
            geometry.take(copied, int(i))[...] = key_mask
        row["copy"] = dice(copied, organ)
    return row


if __name__ == "__main__":
    main()
