"""Loose-box refinement (engine/box_refine.py, engine/intensity_trim.py): the rules on
synthetic masks, and in Engine.predict on real scans (decoder passes only, the same crop
embedding; the trim reads the crop's voxel values)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from engine_testkit import box_of, dice

from medsam_gui.engine import Engine
from medsam_gui.engine.box_refine import DEFAULT_REFINEMENT, OFF, BoxRefinement, Decoded, refine, refit_box, shrunk_box
from medsam_gui.engine.cache import EmbeddingCache
from medsam_gui.engine.headless import predict_blocking
from medsam_gui.engine.intensity_trim import IntensityTrim, trim_outside_like_pixels


def blob(shape=(60, 80), rows=(20, 35), cols=(30, 50)):
    mask = np.zeros(shape, dtype=bool)
    mask[rows[0] : rows[1], cols[0] : cols[1]] = True
    return mask


def test_refit_moves_sides_in_to_the_mask_but_never_out_of_the_drawn_box():
    mask = blob()  # box (30, 20, 49, 34)
    mask[0, 79] = True  # a speck far away does not hold a side out
    settings = BoxRefinement(margin_px=1)
    assert refit_box(mask, (20, 10, 60, 45), settings) == (29, 19, 50, 35)
    assert refit_box(mask, (30, 20, 49, 34), settings) is None  # tight already: no second pass
    assert refit_box(mask, (31, 10, 48, 45), settings) == (31, 19, 48, 35)  # x sides stay where drawn
    assert refit_box(np.zeros((10, 10), dtype=bool), (0, 0, 9, 9), settings) is None
    assert shrunk_box((0, 0, 19, 9), 0.1) == (2, 1, 17, 8)


def test_refine_decodes_the_refitted_box_and_counts_passes():
    truth = blob()
    decoded_boxes = []

    def decode(box):  # a fake decoder: the object inside the box, grown by 3 px (a loose box's overshoot)
        from scipy import ndimage

        decoded_boxes.append(box)
        x0, y0, x1, y1 = box
        inside = np.zeros_like(truth)
        inside[y0 : y1 + 1, x0 : x1 + 1] = True
        mask = ndimage.binary_dilation(truth, iterations=3) & inside
        return Decoded(mask, 0.9 if box[2] - box[0] < 30 else 0.8, np.full((4, 4), float(len(decoded_boxes)), np.float32))

    result, last_box, passes = refine(decode, (20, 10, 60, 45), BoxRefinement(mode="off"))
    assert passes == 1 and last_box == (20, 10, 60, 45)
    decoded_boxes.clear()
    result, last_box, passes = refine(decode, (20, 10, 60, 45), BoxRefinement(iterations=2))
    assert decoded_boxes[0] == (20, 10, 60, 45) and last_box == (26, 16, 53, 38) and passes == 2  # 2nd round: no move
    assert all(b[0] >= 20 and b[1] >= 10 and b[2] <= 60 and b[3] <= 45 for b in decoded_boxes)
    guarded = refine(decode, (20, 10, 60, 45), BoxRefinement(keep_if_score_drops=-0.5))  # any refit "drops"
    assert guarded[1] == (20, 10, 60, 45)
    voted, _, vote_passes = refine(decode, (20, 10, 60, 45), BoxRefinement(mode="vote"), lambda logits: logits > 0)
    assert vote_passes == 3 and voted.logits.shape == (4, 4)


@pytest.mark.slow
def test_a_loose_box_on_a_small_structure_refits_inside_the_same_roi_crop(litemedsam_backend, data_root):
    """The refit decodes against the crop embedding the drawn box chose: no new encode."""
    from PIL import Image

    from medsam_gui.core.volume import Volume

    image = np.asarray(Image.open(data_root / "sammed2d" / "images" / "amos_0006_90.png").convert("RGB"))
    truth = np.asarray(Image.open(data_root / "sammed2d" / "masks" / "amos_0006_90_aorta_000.png").convert("L")) > 0
    engine = Engine(litemedsam_backend, EmbeddingCache(64))
    engine.set_volume(Volume(image[None]))
    x0, y0, x1, y1 = box_of(truth)
    margin_x, margin_y = (x1 - x0 + 1) // 6, (y1 - y0 + 1) // 6
    loose = (x0 - margin_x, y0 - margin_y, x1 + margin_x, y1 + margin_y)
    plain = predict_blocking(engine, 0, box_xyxy=loose, box_refinement=BoxRefinement(mode="off"))
    assert plain.used_roi_zoom
    refined = engine.predict(0, box_xyxy=loose, box_refinement=BoxRefinement(mode="refit"))  # no EmbeddingNotReady
    assert refined.crop == plain.crop and refined.box_xyxy == plain.box_xyxy
    assert dice(refined.mask, truth) >= dice(plain.mask, truth) - 0.01


def disc(shape, centre, radius):
    rows, cols = np.indices(shape)
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2


def test_the_trim_drops_the_pixels_that_look_like_the_surroundings_and_nothing_where_all_look_alike():
    rng = np.random.default_rng(0)
    shape = (80, 90)
    organ = disc(shape, (40, 45), 15)
    image = np.where(organ, 100.0, 20.0) + rng.normal(0, 5, shape)  # bright object, darker tissue around it
    overshoot = disc(shape, (40, 45), 22)  # what a loose box gives: the object and a band of its surroundings
    trimmed = trim_outside_like_pixels(overshoot, image, IntensityTrim())
    assert dice(trimmed, organ) > 0.97 > dice(overshoot, organ) + 0.2
    assert not (trimmed & ~overshoot).any()
    rgb = np.repeat(image[..., None], 3, axis=-1)  # channels are averaged
    assert (trim_outside_like_pixels(overshoot, rgb, IntensityTrim()) == trimmed).all()
    for seed in range(10):  # no contrast between object and surroundings: histogram noise must not cut
        alike = np.random.default_rng(seed).normal(50, 5, shape)
        assert trim_outside_like_pixels(overshoot, alike, IntensityTrim()).sum() > 0.95 * overshoot.sum()
    whole = np.ones(shape, dtype=bool)  # nothing around the mask to compare with: unchanged
    assert trim_outside_like_pixels(whole, image, IntensityTrim()).all()
    assert not trim_outside_like_pixels(np.zeros(shape, dtype=bool), image, IntensityTrim()).any()


def test_the_trim_follows_any_box_rule_and_keeps_the_models_logits():
    shape = (60, 80)
    organ = disc(shape, (30, 40), 10)
    image = np.where(organ, 200.0, 0.0)
    logits = np.where(disc(shape, (30, 40), 16), 1.0, -9.0).astype(np.float32)

    def decode(box):  # a fake decoder: the object and its surroundings up to 6 px out
        return Decoded(logits > 0, 0.9, logits)

    trimmed = BoxRefinement(mode="off", intensity_trim=IntensityTrim())
    result, box, passes = refine(decode, (20, 10, 60, 50), trimmed, lambda values: values > 0, image)
    assert passes == 1 and box == (20, 10, 60, 50) and result.logits is logits and result.score == 0.9
    assert dice(result.mask, organ) > 0.95 > dice(logits > 0, organ) + 0.2
    voted, _, vote_passes = refine(decode, (20, 10, 60, 50), replace(trimmed, mode="vote"),
                                   lambda values: values > 0, image)
    assert vote_passes == 3 and (voted.mask == result.mask).all()
    with pytest.raises(ValueError):
        refine(decode, (20, 10, 60, 50), trimmed)  # the trim needs the voxel values


def _sammed2d_case(data_root, image_name, mask_name):
    from PIL import Image

    from medsam_gui.core.volume import Volume

    image = np.asarray(Image.open(data_root / "sammed2d" / "images" / image_name).convert("RGB"))
    truth = np.asarray(Image.open(data_root / "sammed2d" / "masks" / mask_name).convert("L")) > 0
    return Volume(image[None]), truth


def test_the_default_trims_a_loose_boxs_leak_and_does_not_harm_a_tight_box(litemedsam_backend, data_root):
    """Real CT (SAM-Med2D's gluteus maximus): a box with 15 % margin per side spills into
    the fat around the muscle (Dice 0.72 as decoded); the default trims the pixels that
    look like that fat. A tight box keeps at least its Dice (0.83)."""
    volume, truth = _sammed2d_case(data_root, "s0619_32.png", "s0619_32_gluteus_maximus_left_000.png")
    engine = Engine(litemedsam_backend, EmbeddingCache(64))
    engine.set_volume(volume)
    tight = box_of(truth)
    margin_x, margin_y = round(0.15 * (tight[2] - tight[0] + 1)), round(0.15 * (tight[3] - tight[1] + 1))
    loose = (tight[0] - margin_x, tight[1] - margin_y, tight[2] + margin_x, tight[3] + margin_y)
    assert DEFAULT_REFINEMENT.intensity_trim is not None
    for box, gain in ((loose, 0.10), (tight, -0.01)):
        plain = predict_blocking(engine, 0, box_xyxy=box, box_refinement=OFF)
        trimmed = engine.predict(0, box_xyxy=box)  # the default; the same embedding, no EmbeddingNotReady
        assert not (trimmed.mask & ~plain.mask).any() and trimmed.score == plain.score
        assert dice(trimmed.mask, truth) >= dice(plain.mask, truth) + gain
