"""Mean Dice against real ground truth, per data group: tight boxes (whole slice,
ROI crop, the engine's default switch-over), boxes jittered by up to 10 % of their
size, the tight box plus one simulated corrective click (at the centre of the largest
error region: positive where the mask misses, negative where it overshoots), and the
box-fill baseline. Also the ROI switch-over sweep, and the loose-box table: boxes with a
random 0-20 % margin per side (seeded) and tight boxes, each with every box-refinement
candidate of engine/box_refine.py (decoder passes against the same embedding, and the
intensity trim of engine/intensity_trim.py).

    python benchmarks/bench_quality.py [--model litemedsam] [--jitter-seed 0] [--loose-seed 1]

Off-axis (issue 12): ``--planes`` prints instead the tight-box Dice of each CT organ with 3D
ground truth on the axial, coronal and sagittal slice through its centre (coronal and
sagittal resampled to square pixels by the engine, and, for comparison, given to the model
as they are), next to box fill.

    python benchmarks/bench_quality.py --planes [--planes-organs 6]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality_cases import all_cases, organ_volumes  # noqa: E402

from medsam_gui.engine import Engine, RoiPolicy  # noqa: E402
from medsam_gui.engine.box_refine import BoxRefinement  # noqa: E402
from medsam_gui.engine.intensity_trim import IntensityTrim  # noqa: E402
from medsam_gui.engine.headless import predict_blocking  # noqa: E402

SWEEP = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 1.01)
# box-refinement candidates compared on loose and tight boxes (name -> setting)
CANDIDATES = {
    "off": BoxRefinement(mode="off"),
    "refit": BoxRefinement(mode="refit"),
    "refit x2": BoxRefinement(mode="refit", iterations=2),
    "refit gap 0": BoxRefinement(mode="refit", min_gap_fraction=0.0),
    "refit gap 0.08": BoxRefinement(mode="refit", min_gap_fraction=0.08),
    "refit +5%": BoxRefinement(mode="refit", margin_fraction=0.05),
    "refit score guard": BoxRefinement(mode="refit", keep_if_score_drops=0.02),
    "vote 5/10%": BoxRefinement(mode="vote"),
    # mask pixels that look like the mask's surroundings dropped (engine/intensity_trim.py)
    "trim (default: z > 1)": BoxRefinement(mode="off", intensity_trim=IntensityTrim()),
    "trim, z > 0 (histogram noise decides)": BoxRefinement(mode="off", intensity_trim=IntensityTrim(min_z=0.0)),
    "trim, z > 2": BoxRefinement(mode="off", intensity_trim=IntensityTrim(min_z=2.0)),
    "trim, ring 6 px": BoxRefinement(mode="off", intensity_trim=IntensityTrim(ring_px=6)),
    "trim, 32 bins": BoxRefinement(mode="off", intensity_trim=IntensityTrim(bins=32)),
    "vote 5/10% + trim": BoxRefinement(mode="vote", intensity_trim=IntensityTrim()),
    "refit + trim": BoxRefinement(mode="refit", intensity_trim=IntensityTrim()),
}


def dice(a, b) -> float:
    return float(2.0 * np.logical_and(a, b).sum() / max(a.sum() + b.sum(), 1))


def box_of(mask):
    rows, cols = np.nonzero(mask)
    return (int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max()))


def fill(box, shape):
    out = np.zeros(shape, dtype=bool)
    out[box[1] : box[3] + 1, box[0] : box[2] + 1] = True
    return out


def jitter(box, shape, rng, fraction=0.10):
    x0, y0, x1, y1 = box
    width, height = x1 - x0 + 1, y1 - y0 + 1
    shifts = rng.uniform(-fraction, fraction, 4) * np.array([width, height, width, height])
    moved = np.round(np.array(box) + shifts).astype(int)
    moved[[0, 2]] = np.clip(moved[[0, 2]], 0, shape[1] - 1)
    moved[[1, 3]] = np.clip(moved[[1, 3]], 0, shape[0] - 1)
    return tuple(int(v) for v in moved)


def corrective_click(mask, truth):
    """((x, y), label): the pixel deepest inside the larger error region, 1 for a
    missed region, 0 for an overshoot; what an annotator would click first."""
    from scipy import ndimage

    depths = [ndimage.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1] for region in (truth & ~mask, mask & ~truth)]
    label = 1 if depths[0].max() >= depths[1].max() else 0
    depth = depths[1 - label]
    row, col = np.unravel_index(int(depth.argmax()), depth.shape)
    return (int(col), int(row)), label


def loosen(box, shape, rng, most=0.20):
    """``box`` with a random margin of 0..``most`` of its size added on each side (clipped)."""
    x0, y0, x1, y1 = box
    width, height = x1 - x0 + 1, y1 - y0 + 1
    margins = rng.uniform(0.0, most, 4) * np.array([width, height, width, height])
    grown = np.round(np.array(box) + margins * np.array([-1, -1, 1, 1])).astype(int)
    grown[[0, 2]] = np.clip(grown[[0, 2]], 0, shape[1] - 1)
    grown[[1, 3]] = np.clip(grown[[1, 3]], 0, shape[0] - 1)
    return tuple(int(v) for v in grown)


def predict(engine, slice_index, box, point=None, refinement=None):
    points, labels = (None, None) if point is None else ([point[0]], [point[1]])
    return predict_blocking(engine, slice_index, box_xyxy=box, points_xy=points, point_labels=labels,
                            box_refinement=refinement)


OFF_AXIS_MIN_PIXELS = 30  # an organ is compared when its centre slice in every plane has this many pixels


def off_axis_table(engine, organs_per_scan: int | None) -> int:
    """Tight-box Dice per plane on the slices through each organ's centre, next to box fill
    and to the coronal/sagittal slice given to the model without square-pixel resampling
    (``organs_per_scan``: only that many of each TotalSegmentator scan's largest organs)."""
    from medsam_gui.core.plane_resample import SquarePixelGrid
    from medsam_gui.core.planes import PLANES, PlaneGeometry, slice_axis
    from medsam_gui.core.volume import Volume

    results = defaultdict(lambda: defaultdict(list))  # group -> column -> Dice
    started = time.perf_counter()
    for group, volume, name, organ in organ_volumes(largest=organs_per_scan):
        print(f"{group} {name}", flush=True)
        centre = np.argwhere(organ).mean(axis=0)  # (z, y, x)
        cuts = {}
        for plane in PLANES:
            geometry = PlaneGeometry.of(volume, plane)
            index = int(round(centre[slice_axis(plane)]))
            cuts[plane] = (geometry, index, geometry.take(organ, index))
        if min(truth.sum() for _, _, truth in cuts.values()) < OFF_AXIS_MIN_PIXELS:
            continue  # the centre slice misses the organ in some plane: not comparable
        engine.set_volume(volume)
        preset = engine.input_preset
        for plane, (geometry, index, truth) in cuts.items():
            box = box_of(truth)
            results[group][plane].append(dice(predict_blocking(engine, index, box_xyxy=box, plane=plane).mask, truth))
            results[group][f"fill {plane}"].append(dice(fill(box, truth.shape), truth))
        for plane in ("coronal", "sagittal"):  # the raw anisotropic slice as a 2D image, same model input window
            geometry, index, truth = cuts[plane]
            if SquarePixelGrid.for_pixels(geometry.image_shape, geometry.pixel_size_mm).is_identity:
                results[group][f"raw {plane}"].append(results[group][plane][-1])  # square already: the same input
                continue
            flat = Volume(np.ascontiguousarray(geometry.take(volume.voxels, index))[None], modality=volume.modality)
            engine.set_volume(flat, preset)
            results[group][f"raw {plane}"].append(dice(predict_blocking(engine, 0, box_xyxy=box_of(truth)).mask, truth))
    elapsed = time.perf_counter() - started

    columns = ["axial", "coronal", "sagittal", "raw coronal", "raw sagittal", "fill axial", "fill coronal", "fill sagittal"]
    print(f"\nOff-axis tight boxes: model {engine.model_info.name}, slices through each organ's centre "
          f"({organs_per_scan or 'all'} largest organs per TotalSegmentator scan), {elapsed:.0f} s")
    print("(raw = the coronal/sagittal slice given to the model with its non-square pixels, not resampled)\n")
    print("| data | n | " + " | ".join(columns) + " |")
    print("|" + "---|" * (len(columns) + 2))
    totals = defaultdict(list)
    for group, values in results.items():
        for column in columns:
            totals[column].extend(values[column])
        print(f"| {group} | {len(values['axial'])} | " + " | ".join(f"{np.mean(values[c]):.3f}" for c in columns) + " |")
    print(f"| all | {len(totals['axial'])} | " + " | ".join(f"{np.mean(totals[c]):.3f}" for c in columns) + " |")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="litemedsam")
    parser.add_argument("--jitter-seed", type=int, default=0)
    parser.add_argument("--loose-seed", type=int, default=1)
    parser.add_argument("--planes", action="store_true",
                        help="only the off-axis table: tight boxes on axial, coronal and sagittal slices (issue 12)")
    parser.add_argument("--planes-organs", type=int, default=6, metavar="N",
                        help="with --planes: the N largest organs of each TotalSegmentator scan (0: all)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    engine = Engine.create(args.model, device="cpu", memory_cache_mb=256)
    if args.planes:
        return off_axis_table(engine, args.planes_organs or None)
    default_policy = engine.roi_policy
    rng = np.random.default_rng(args.jitter_seed)
    loose_rng = np.random.default_rng(args.loose_seed)
    refined = defaultdict(lambda: defaultdict(list))  # group -> (candidate, "tight"|"loose") -> Dice
    rows = defaultdict(lambda: defaultdict(list))
    sweep_cases = []
    started = time.perf_counter()
    current = None
    for group, volume, slice_index, truth in all_cases():
        if volume is not current:
            engine.set_volume(volume)
            current = volume
        box = box_of(truth)
        ratio = max(box[2] - box[0] + 1, box[3] - box[1] + 1) / max(truth.shape)
        engine.roi_policy = RoiPolicy(switch_fraction=0.0)
        whole = dice(predict(engine, slice_index, box).mask, truth)
        engine.roi_policy = RoiPolicy(**{**default_policy.__dict__, "switch_fraction": 1.01})
        crop_prediction = predict(engine, slice_index, box)
        crop = dice(crop_prediction.mask, truth) if crop_prediction.used_roi_zoom else whole
        engine.roi_policy = default_policy
        chosen_mask = predict(engine, slice_index, box).mask
        chosen = dice(chosen_mask, truth)
        clicked = dice(predict(engine, slice_index, box, corrective_click(chosen_mask, truth)).mask, truth)
        jittered_box = jitter(box, truth.shape, rng)
        jittered = dice(predict(engine, slice_index, jittered_box).mask, truth)
        loose_box = loosen(box, truth.shape, loose_rng)
        for candidate, refinement in CANDIDATES.items():
            for kind, drawn in (("tight", box), ("loose", loose_box)):
                refined[group][(candidate, kind)].append(dice(predict(engine, slice_index, drawn, refinement=refinement).mask, truth))
        refined[group][("fill", "loose")].append(dice(fill(loose_box, truth.shape), truth))
        for name, value in (("whole", whole), ("crop", crop), ("engine", chosen), ("jitter", jittered), ("click", clicked),
                            ("fill", dice(fill(box, truth.shape), truth)),
                            ("fill_jitter", dice(fill(jittered_box, truth.shape), truth))):
            rows[group][name].append(value)
        sweep_cases.append((group, ratio, whole, crop))
    elapsed = time.perf_counter() - started

    print(f"\nmodel {engine.model_info.name}, ROI policy {default_policy}, {elapsed:.0f} s\n")
    header = ("| data | n | whole slice | ROI crop | engine (tight box) | engine (jittered box) | tight box + 1 click | "
              "box fill | box fill (jittered) |")
    print(header)
    print("|" + "---|" * 9)
    totals = defaultdict(list)
    for group, values in rows.items():
        means = {name: np.mean(v) for name, v in values.items()}
        for name, v in values.items():
            totals[name].extend(v)
        print(f"| {group} | {len(values['whole'])} | {means['whole']:.3f} | {means['crop']:.3f} | "
              f"{means['engine']:.3f} | {means['jitter']:.3f} | {means['click']:.3f} | {means['fill']:.3f} | {means['fill_jitter']:.3f} |")
    means = {name: np.mean(v) for name, v in totals.items()}
    print(f"| all | {len(totals['whole'])} | {means['whole']:.3f} | {means['crop']:.3f} | {means['engine']:.3f} | "
          f"{means['jitter']:.3f} | {means['click']:.3f} | {means['fill']:.3f} | {means['fill_jitter']:.3f} |")

    print("\nBox refinement (engine ROI policy; loose = tight box + random 0-20 % margin per side, "
          f"seed {args.loose_seed}): mean Dice, tight / loose\n")
    groups = list(refined)
    print("| candidate | " + " | ".join(groups) + " | all (tight) | all (loose) |")
    print("|" + "---|" * (len(groups) + 3))
    for candidate in CANDIDATES:
        cells = [f"{np.mean(refined[g][(candidate, 'tight')]):.3f} / {np.mean(refined[g][(candidate, 'loose')]):.3f}" for g in groups]
        tight_all = np.mean([v for g in groups for v in refined[g][(candidate, "tight")]])
        loose_all = np.mean([v for g in groups for v in refined[g][(candidate, "loose")]])
        print(f"| {candidate} | " + " | ".join(cells) + f" | {tight_all:.3f} | {loose_all:.3f} |")
    fill_loose = np.mean([v for g in groups for v in refined[g][("fill", "loose")]])
    print(f"| box fill (loose) | " + " | ".join(f"{np.mean(refined[g][('fill', 'loose')]):.3f}" for g in groups)
          + f" | | {fill_loose:.3f} |")

    print("\nROI switch-over: zoom when the box's longer side < fraction x slice side (tight boxes)\n")
    groups = list(rows)
    print("| fraction | " + " | ".join(groups) + " | all |")
    print("|" + "---|" * (len(groups) + 2))
    for fraction in SWEEP:
        per_group = defaultdict(list)
        for group, ratio, whole, crop in sweep_cases:
            per_group[group].append(crop if ratio < fraction else whole)
        overall = np.mean([v for values in per_group.values() for v in values])
        print(f"| {fraction:.2f} | " + " | ".join(f"{np.mean(per_group[g]):.3f}" for g in groups) + f" | {overall:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
