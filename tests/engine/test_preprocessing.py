"""Exactness of the transforms between slice pixels and model inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from medsam_gui.engine.frame import ModelFrame
from medsam_gui.engine.models import litemedsam, sam_hf
from medsam_gui.engine.models.postprocess import lowres_to_image_logits, mask_from_logits, reframe_logits, resize_bilinear
from medsam_gui.engine.types import LowResLogits


@pytest.mark.parametrize("size_hw", [(512, 512), (512, 384), (300, 517), (37, 64)])
def test_box_transform_round_trips_and_follows_reference(size_hw):
    frame = ModelFrame.longest_side(size_hw, 256, 256)
    box = np.array([3.0, 7.0, size_hw[1] - 2.0, size_hw[0] - 5.0])
    model_box = frame.box_to_model(box)
    # LiteMedSAM reference: box * 256 / max(H, W)
    assert np.allclose(model_box, box * 256 / max(size_hw))
    assert np.allclose(frame.from_model_xy(model_box.reshape(2, 2)).reshape(4), box)
    squash = ModelFrame.squash(size_hw, 1024, 256)
    # MedSAM reference: box / [W, H, W, H] * 1024
    expected = box / np.array([size_hw[1], size_hw[0]] * 2) * 1024
    assert np.allclose(squash.box_to_model(box), expected)


def test_litemedsam_preprocess_pads_and_normalises_unpadded_content():
    rng = np.random.default_rng(1)
    image = rng.integers(20, 200, (300, 150, 3), dtype=np.uint8)
    pixels, frame = litemedsam.preprocess(image)
    assert pixels.shape == (1, 3, 256, 256)
    assert frame.content_size_hw == (256, 128)
    content = pixels[..., :256, :128]
    assert float(content.min()) == 0.0 and float(content.max()) == 1.0
    assert torch.count_nonzero(pixels[..., 128:]) == 0
    # a 2x shrink with 'area' is the mean of each 2x2 block (cv2 INTER_AREA), rounded to uint8
    square = rng.integers(0, 255, (512, 512, 3), dtype=np.uint8)
    pixels, _ = litemedsam.preprocess(square)
    blocks = square.astype(np.float64).reshape(256, 2, 256, 2, 3).mean(axis=(1, 3))
    rounded = np.round(blocks)
    expected = (rounded - rounded.min()) / (rounded.max() - rounded.min())
    assert np.allclose(pixels[0].permute(1, 2, 0).numpy(), expected, atol=1e-5)


def test_medsam_and_sam_preprocessing_differ_as_their_references():
    image = np.random.default_rng(2).integers(0, 255, (80, 40, 3), dtype=np.uint8)
    medsam_pixels, medsam_frame = sam_hf.preprocess(image, "medsam", 64, 16)
    assert medsam_frame.content_size_hw == (64, 64)
    assert float(medsam_pixels.min()) == 0.0 and float(medsam_pixels.max()) == 1.0
    sam_pixels, sam_frame = sam_hf.preprocess(image, "sam", 64, 16)
    assert sam_frame.content_size_hw == (64, 32)
    assert torch.count_nonzero(sam_pixels[..., 32:]) == 0  # padded after normalising, like Sam.preprocess
    assert float(sam_pixels.min()) < -1.0  # ImageNet mean/std, not [0, 1]
    assert sam_frame.scale_xy == (32 / 40, 64 / 80)


@pytest.mark.parametrize("size_hw", [(512, 512), (512, 384), (200, 333)])
def test_logits_crop_and_resize_equal_reference_postprocess(size_hw):
    frame = ModelFrame.longest_side(size_hw, 256, 256)
    logits = torch.randn(1, 1, 256, 256)
    # reference postprocess_masks: crop to the resized content, bilinear to the slice
    newh, neww = frame.content_size_hw
    reference = F.interpolate(logits[..., :newh, :neww], size=size_hw, mode="bilinear", align_corners=False)[0, 0]
    ours = lowres_to_image_logits(logits[0, 0].numpy(), frame)
    assert ours.shape == size_hw and ours.dtype == np.float32
    assert np.allclose(ours, reference.numpy(), atol=1e-4)  # float32 rounding only
    mismatch = mask_from_logits(logits[0, 0].numpy(), frame) != (torch.sigmoid(reference) > 0.5).numpy()
    assert mismatch.mean() < 1e-3


def test_reframe_logits_keeps_a_mask_in_place_across_crops():
    slice_frame = ModelFrame.longest_side((128, 128), 64, 64)
    mask = np.zeros((128, 128), dtype=bool)
    mask[40:80, 50:90] = True
    lowres = torch.from_numpy(np.where(mask[::2, ::2], 10.0, -10.0).astype(np.float32))
    previous = LowResLogits(lowres.numpy(), slice_frame, (0, 0, 128, 128))
    crop = (32, 32, 96, 96)
    crop_frame = ModelFrame.longest_side((64, 64), 64, 64)
    moved = reframe_logits(previous, crop, crop_frame)
    back = mask_from_logits(moved, crop_frame)
    assert back.shape == (64, 64)
    assert (back == mask[32:96, 32:96]).mean() > 0.98


@pytest.mark.parametrize(("in_hw", "out_hw"), [((37, 53), (100, 64)), ((256, 256), (64, 64)), ((5, 7), (5, 7))])
def test_resize_bilinear_equals_torch_interpolate(in_hw, out_hw):
    values = torch.randn(*in_hw)
    reference = F.interpolate(values[None, None], size=out_hw, mode="bilinear", align_corners=False)[0, 0]
    assert np.allclose(resize_bilinear(values.numpy(), out_hw), reference.numpy(), atol=1e-5)
