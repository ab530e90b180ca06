"""A measure of effort: how many actions a simulated annotator needs to reach Dice 0.90.

The user works with the app's real tools through the engine and the Document API
(``Document.paint_slice`` modes add / erase / replace), on the real cases of
quality_cases.py. Action 1: a loose box (random 0-20 % margin per side, seeded), its
mask accepted. Then, each action against the largest error region (an 8-connected
region of missed or extra pixels):

* move a box edge: the missed region sticks out of the box (the edge moves out to the
  object's edge), or an extra region lies where the object ends well inside the box
  (the edge moves in to the object's edge); the box's new mask replaces the slice's.
* Shift+Enter with a smaller box: a large error inside the box; the user draws a box
  around the object's part near the error and the mask replaces the label inside it.
* a brush (missed) or eraser (extra) stroke, radius ``--brush`` px, at the deepest
  point of the error.

Reported per group: the mean number of actions to reach Dice 0.90 (capped at 10: a
case that never gets there counts 10), and the mean Dice after 1, 2 and 3 actions,
for each box-refinement setting (same cases, same boxes, same run).

    python benchmarks/bench_effort.py [--refinements off trim] [--brush 3] [--seed 1] [--limit N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_quality import dice, loosen  # noqa: E402
from quality_cases import all_cases  # noqa: E402

from medsam_gui.core.document import Document  # noqa: E402
from medsam_gui.engine import Engine  # noqa: E402
from medsam_gui.engine.box_refine import BoxRefinement  # noqa: E402
from medsam_gui.engine.headless import predict_blocking  # noqa: E402
from medsam_gui.engine.intensity_trim import IntensityTrim  # noqa: E402

TARGET = 0.90
CAP = 10
REFINEMENTS = {"off": BoxRefinement(mode="off"), "refit": BoxRefinement(mode="refit"),
               "refit x2": BoxRefinement(mode="refit", iterations=2), "vote": BoxRefinement(mode="vote"),
               "trim": BoxRefinement(mode="off", intensity_trim=IntensityTrim())}  # trim: the engine's default


def bbox(mask):
    rows, cols = np.nonzero(mask)
    return int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max())


def box_region(box, shape):
    region = np.zeros(shape, dtype=bool)
    region[box[1] : box[3] + 1, box[0] : box[2] + 1] = True
    return region


def disc(centre_xy, radius, shape):
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return (cols - centre_xy[0]) ** 2 + (rows - centre_xy[1]) ** 2 <= radius**2


def largest_error(current, truth):
    """(region bool mask, True if missed / False if extra), the larger 8-connected error."""
    best, best_missed = None, True
    for missed, error in ((True, truth & ~current), (False, current & ~truth)):
        labelled, count = ndimage.label(error, structure=np.ones((3, 3), dtype=bool))
        if count == 0:
            continue
        sizes = np.bincount(labelled.ravel())[1:]
        region = labelled == int(np.argmax(sizes)) + 1
        if best is None or region.sum() > best.sum():
            best, best_missed = region, missed
    return best, best_missed


def deepest_point(region):
    depth = ndimage.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
    row, col = np.unravel_index(int(depth.argmax()), depth.shape)
    return int(col), int(row)


def next_action(box, current, truth, brush):
    """The user's next action: ('box', new_box) | ('shift-enter', box) | ('brush'|'eraser', (x, y))."""
    region, missed = largest_error(current, truth)
    tx0, ty0, tx1, ty1 = bbox(truth)
    x0, y0, x1, y1 = box
    rx0, ry0, rx1, ry1 = bbox(region)
    width, height = x1 - x0 + 1, y1 - y0 + 1
    if missed:  # the part of the object the box leaves out: move that edge out
        outside = {"x0": x0 - rx0, "y0": y0 - ry0, "x1": rx1 - x1, "y1": ry1 - y1}
        side, amount = max(outside.items(), key=lambda item: item[1])
        if amount > 0:
            new = list(box)
            index = ("x0", "y0", "x1", "y1").index(side)
            new[index] = (tx0, ty0, tx1, ty1)[index]
            return "box", tuple(new)
    else:  # an overshoot where the object ends well inside the box: move that edge in
        gaps = {0: (tx0 - x0, rx0 < tx0), 1: (ty0 - y0, ry0 < ty0), 2: (x1 - tx1, rx1 > tx1), 3: (y1 - ty1, ry1 > ty1)}
        candidates = [(gap, index) for index, (gap, beyond) in gaps.items()
                      if beyond and gap > 0.05 * (width if index % 2 == 0 else height)]
        if candidates:
            _, index = max(candidates)
            new = list(box)
            new[index] = (tx0, ty0, tx1, ty1)[index]
            return "box", tuple(new)
    if region.sum() > 3 * np.pi * brush**2:  # large: Shift+Enter with a box around the object's part there
        grow = max(rx1 - rx0, ry1 - ry0) // 2 + brush
        near = truth & box_region((rx0 - grow, ry0 - grow, rx1 + grow, ry1 + grow), truth.shape)
        if near.any():
            small = bbox(near)
            if (small[2] - small[0]) * (small[3] - small[1]) < 0.8 * width * height:
                return "shift-enter", small
    return ("brush" if missed else "eraser"), deepest_point(region)


def simulate(engine, document, slice_index, truth, loose_box, refinement, brush):
    """Dice after each action (index 0 = after action 1), up to CAP actions or TARGET."""
    document.paint_slice(slice_index, np.zeros_like(truth), value=0, mode="replace")
    value = document.active_label
    box = loose_box
    predicted = predict_blocking(engine, slice_index, box_xyxy=box, box_refinement=refinement)
    document.paint_slice(slice_index, predicted.mask, mode="replace")
    scores = []
    for _ in range(CAP):
        current = document.labels[slice_index] == value
        scores.append(dice(current, truth))
        if scores[-1] >= TARGET or len(scores) == CAP:
            break
        kind, what = next_action(box, current, truth, brush)
        if kind == "box":
            box = what
            predicted = predict_blocking(engine, slice_index, box_xyxy=box, box_refinement=refinement)
            document.paint_slice(slice_index, predicted.mask, mode="replace")
        elif kind == "shift-enter":
            mask = predict_blocking(engine, slice_index, box_xyxy=what, box_refinement=refinement).mask
            document.paint_slice(slice_index, mask, mode="replace", within_yx=box_region(what, truth.shape))
        else:
            document.paint_slice(slice_index, disc(what, brush, truth.shape), mode="add" if kind == "brush" else "erase")
    return scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="litemedsam")
    parser.add_argument("--refinements", nargs="+", default=["off", "trim"], choices=list(REFINEMENTS))
    parser.add_argument("--brush", type=int, default=3, help="brush/eraser radius in pixels")
    parser.add_argument("--seed", type=int, default=1, help="seed of the loose-box margins")
    parser.add_argument("--limit", type=int, default=0, help="only the first N cases (0: all)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    engine = Engine.create(args.model, device="cpu", memory_cache_mb=256)
    rng = np.random.default_rng(args.seed)
    results = defaultdict(lambda: defaultdict(list))  # refinement -> group -> [scores per case]
    started = time.perf_counter()
    current_volume, document = None, None
    for number, (group, volume, slice_index, truth) in enumerate(all_cases()):
        if args.limit and number >= args.limit:
            break
        if volume is not current_volume:
            engine.set_volume(volume)
            current_volume, document = volume, Document(volume)
        loose_box = loosen(bbox(truth), truth.shape, rng)
        for name in args.refinements:
            results[name][group].append(simulate(engine, document, slice_index, truth, loose_box, REFINEMENTS[name], args.brush))
    elapsed = time.perf_counter() - started

    def actions(scores):
        return next((i + 1 for i, s in enumerate(scores) if s >= TARGET), CAP)

    def after(scores, n):
        return scores[min(n, len(scores)) - 1]

    print(f"\nmodel {engine.model_info.name}, brush radius {args.brush} px, loose-box seed {args.seed}, {elapsed:.0f} s")
    print(f"actions to Dice {TARGET} (cap {CAP}; action 1 = the loose box), Dice after 1/2/3 actions\n")
    print("| refinement | data | n | mean actions | reached | Dice after 1 | after 2 | after 3 |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.refinements:
        everything = []
        for group, cases in results[name].items():
            everything.extend(cases)
            print(f"| {name} | {group} | {len(cases)} | {np.mean([actions(c) for c in cases]):.2f} | "
                  f"{np.mean([max(c) >= TARGET for c in cases]):.0%} | "
                  + " | ".join(f"{np.mean([after(c, n) for c in cases]):.3f}" for n in (1, 2, 3)) + " |")
        print(f"| {name} | all | {len(everything)} | {np.mean([actions(c) for c in everything]):.2f} | "
              f"{np.mean([max(c) >= TARGET for c in everything]):.0%} | "
              + " | ".join(f"{np.mean([after(c, n) for c in everything]):.3f}" for n in (1, 2, 3)) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
