"""Convert an original segment-anything / MedSAM checkpoint (``medsam_vit_b.pth``,
``sam_vit_b_01ec64.pth``) to the ``transformers.SamModel`` parameter names.

The two layouts hold the same tensors under different names: ``image_encoder.blocks``
vs ``vision_encoder.layers``, ``nn.Sequential`` indices vs named layers
(``neck.0`` -> ``neck.conv1``), and SAM's ``MLP.layers.i`` vs ``proj_in`` /
``layers`` / ``proj_out``. Shapes are unchanged.
"""

from __future__ import annotations

import re

# (pattern, replacement), applied in order to every key
RENAMES: tuple[tuple[str, str], ...] = (
    (r"^image_encoder\.", "vision_encoder."),
    (r"^vision_encoder\.patch_embed\.proj\.", "vision_encoder.patch_embed.projection."),
    (r"^vision_encoder\.blocks\.(\d+)\.norm(\d)\.", r"vision_encoder.layers.\1.layer_norm\2."),
    (r"^vision_encoder\.blocks\.", "vision_encoder.layers."),
    (r"^vision_encoder\.neck\.0\.", "vision_encoder.neck.conv1."),
    (r"^vision_encoder\.neck\.1\.", "vision_encoder.neck.layer_norm1."),
    (r"^vision_encoder\.neck\.2\.", "vision_encoder.neck.conv2."),
    (r"^vision_encoder\.neck\.3\.", "vision_encoder.neck.layer_norm2."),
    (r"^prompt_encoder\.pe_layer\.positional_encoding_gaussian_matrix$", "prompt_encoder.shared_embedding.positional_embedding"),
    (r"^prompt_encoder\.point_embeddings\.", "prompt_encoder.point_embed."),
    (r"^prompt_encoder\.mask_downscaling\.0\.", "prompt_encoder.mask_embed.conv1."),
    (r"^prompt_encoder\.mask_downscaling\.1\.", "prompt_encoder.mask_embed.layer_norm1."),
    (r"^prompt_encoder\.mask_downscaling\.3\.", "prompt_encoder.mask_embed.conv2."),
    (r"^prompt_encoder\.mask_downscaling\.4\.", "prompt_encoder.mask_embed.layer_norm2."),
    (r"^prompt_encoder\.mask_downscaling\.6\.", "prompt_encoder.mask_embed.conv3."),
    (r"^mask_decoder\.transformer\.layers\.(\d+)\.norm(\d)\.", r"mask_decoder.transformer.layers.\1.layer_norm\2."),
    (r"^mask_decoder\.transformer\.norm_final_attn\.", "mask_decoder.transformer.layer_norm_final_attn."),
    (r"^mask_decoder\.output_upscaling\.0\.", "mask_decoder.upscale_conv1."),
    (r"^mask_decoder\.output_upscaling\.1\.", "mask_decoder.upscale_layer_norm."),
    (r"^mask_decoder\.output_upscaling\.3\.", "mask_decoder.upscale_conv2."),
)
MLP_PATTERN = re.compile(r"^(mask_decoder\.(?:output_hypernetworks_mlps\.\d+|iou_prediction_head))\.layers\.(\d+)\.(.*)$")
DROPPED = ("pixel_mean", "pixel_std")


def looks_original(state_dict: dict) -> bool:
    """True for a segment-anything layout (``image_encoder.*`` keys)."""
    return any(key.startswith("image_encoder.") for key in state_dict)


def convert_original_state_dict(state_dict: dict) -> dict:
    """Original-layout ``{name: tensor}`` -> ``SamModel`` layout (same tensor objects)."""
    mlp_depths: dict[str, int] = {}
    for key in state_dict:
        match = MLP_PATTERN.match(key)
        if match:
            mlp_depths[match.group(1)] = max(mlp_depths.get(match.group(1), 0), int(match.group(2)) + 1)
    converted = {}
    for key, value in state_dict.items():
        if key in DROPPED:
            continue
        new_key = key
        for pattern, replacement in RENAMES:
            new_key = re.sub(pattern, replacement, new_key)
        match = MLP_PATTERN.match(new_key)
        if match:
            prefix, index, rest = match.group(1), int(match.group(2)), match.group(3)
            last = mlp_depths[prefix] - 1
            name = "proj_in" if index == 0 else "proj_out" if index == last else f"layers.{index - 1}"
            new_key = f"{prefix}.{name}.{rest}"
        converted[new_key] = value
    shared = converted.get("prompt_encoder.shared_embedding.positional_embedding")
    if shared is not None:
        converted["shared_image_embedding.positional_embedding"] = shared
    return converted
