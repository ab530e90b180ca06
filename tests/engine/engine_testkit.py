"""Helpers for the engine tests: tiny SAM models, synthetic volumes, Dice."""

from __future__ import annotations

from functools import partial

import numpy as np
import torch

from medsam_gui.core.volume import Volume

TINY = dict(image_size=64, patch_size=16, hidden=32, vision_layers=2, heads=2, mlp=64, window=2, global_layers=(1,))


def tiny_sam_config():
    """A transformers SamConfig of a 64 px, 32-channel SAM (4 x 4 embedding)."""
    from transformers import SamConfig, SamMaskDecoderConfig, SamPromptEncoderConfig, SamVisionConfig

    vision = SamVisionConfig(hidden_size=TINY["hidden"], output_channels=TINY["hidden"], num_hidden_layers=TINY["vision_layers"],
                             num_attention_heads=TINY["heads"], image_size=TINY["image_size"], patch_size=TINY["patch_size"],
                             window_size=TINY["window"], global_attn_indexes=list(TINY["global_layers"]),
                             mlp_dim=TINY["mlp"], num_pos_feats=TINY["hidden"] // 2)
    prompt = SamPromptEncoderConfig(hidden_size=TINY["hidden"], image_size=TINY["image_size"],
                                    patch_size=TINY["patch_size"], mask_input_channels=8)
    decoder = SamMaskDecoderConfig(hidden_size=TINY["hidden"], num_hidden_layers=2, num_attention_heads=TINY["heads"],
                                   mlp_dim=TINY["mlp"], iou_head_hidden_dim=TINY["hidden"])
    return SamConfig(vision_config=vision.to_dict(), prompt_encoder_config=prompt.to_dict(),
                     mask_decoder_config=decoder.to_dict())


def randomise(module: torch.nn.Module, seed: int) -> None:
    """Give every parameter and buffer non-trivial random values (zero-initialised
    position tables would hide a wrong mapping)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            if tensor.is_floating_point():
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.2)


def tiny_original_sam():
    """The same tiny SAM built with the original segment-anything modules."""
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    size, patch, hidden = TINY["image_size"], TINY["patch_size"], TINY["hidden"]
    encoder = ImageEncoderViT(img_size=size, patch_size=patch, embed_dim=hidden, depth=TINY["vision_layers"],
                              num_heads=TINY["heads"], mlp_ratio=TINY["mlp"] / hidden, out_chans=hidden, qkv_bias=True,
                              norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), use_rel_pos=True,
                              global_attn_indexes=TINY["global_layers"], window_size=TINY["window"])
    prompt = PromptEncoder(embed_dim=hidden, image_embedding_size=(size // patch, size // patch),
                           input_image_size=(size, size), mask_in_chans=8)
    decoder = MaskDecoder(num_multimask_outputs=3,
                          transformer=TwoWayTransformer(depth=2, embedding_dim=hidden, mlp_dim=TINY["mlp"], num_heads=TINY["heads"]),
                          transformer_dim=hidden, iou_head_depth=3, iou_head_hidden_dim=hidden)
    sam = Sam(encoder, prompt, decoder, pixel_mean=[123.675, 116.28, 103.53], pixel_std=[58.395, 57.12, 57.375])
    randomise(sam, seed=7)
    return sam.eval()


def synthetic_ct(slices: int = 5, size: int = 96, seed: int = 0) -> Volume:
    """A small int16 CT-like volume in HU: a bright disc on noise, shifting per slice."""
    rng = np.random.default_rng(seed)
    voxels = rng.normal(-50, 30, (slices, size, size)).astype(np.int16)
    rows, cols = np.mgrid[:size, :size]
    for z in range(slices):
        voxels[z][(rows - size / 2) ** 2 + (cols - size / 2 - z) ** 2 < (size / 5) ** 2] = 120
    return Volume(voxels, modality="CT")


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2.0 * np.logical_and(a, b).sum() / max(a.sum() + b.sum(), 1))


def box_of(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero(mask)
    return int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max())


def box_fill(box_xyxy, shape) -> np.ndarray:
    filled = np.zeros(shape, dtype=bool)
    x0, y0, x1, y1 = box_xyxy
    filled[y0 : y1 + 1, x0 : x1 + 1] = True
    return filled


def assert_same_mask_as_whole_grid(logits: np.ndarray, whole_grid: np.ndarray, threshold_logit: float, atol: float) -> None:
    """A decoder's low-res logits ``[L, L]`` against whole-grid logits (a reference
    decoder's): equal within ``atol`` where the decoder upscaled the grid, and, outside
    the window it upscaled (filled with ``OUTSIDE_LOGIT``), the whole grid at or below
    ``threshold_logit`` too, so both give the same mask."""
    from medsam_gui.engine.models.decoder_window import OUTSIDE_LOGIT

    upscaled = logits != OUTSIDE_LOGIT
    assert np.abs(logits - whole_grid)[upscaled].max() < atol
    assert (whole_grid[~upscaled] <= threshold_logit).all()


def assert_tiny_vit_equals_torch(ours, tiny_backend) -> None:
    """``ours`` (an exported backend of the tiny SAM model) against its torch backend on a
    random image: embedding within 1e-4, one pause between its two stage graphs, and the
    same logits and IoU for a box and for a point."""
    from medsam_gui.engine.types import Prompts

    image = (np.random.default_rng(8).random((50, 70, 3)) * 255).astype(np.uint8)
    pauses = []
    embedding = ours.encode(image, between_blocks=lambda: pauses.append(1))
    reference = tiny_backend.encode(image)
    assert len(pauses) == 1  # two ViT layers: two stage graphs
    assert np.abs(ours.features_to_array(embedding.features) - tiny_backend.features_to_array(reference.features)).max() < 1e-4
    for prompts in (Prompts(box_xyxy=(5, 8, 40, 30)), Prompts(points_xy=np.array([[20.0, 15.0]]), point_labels=np.array([1]))):
        logits, score = ours.decode(embedding, prompts)
        expected, expected_score = tiny_backend.decode(reference, prompts)
        assert np.abs(logits - expected).max() < 1e-3
        assert abs(score - expected_score) <= 1e-4
