"""A ``transformers.SamModel``'s prompt encoder and mask decoder as this package's
:mod:`sam_heads` modules, so MedSAM / SAM prompts run through
:class:`~medsam_gui.engine.models.fast_decoder.FastSamDecoder` like LiteMedSAM's.

The two layouts hold the same tensors under different names (the inverse of
:mod:`sam_convert` for the heads): ``point_embed`` vs ``point_embeddings``,
``mask_embed.conv1`` vs ``mask_downscaling.0``, ``layer_norm1`` vs ``norm1``,
``upscale_conv1`` vs ``output_upscaling.0``, and MLPs as ``proj_in`` / ``layers`` /
``proj_out`` vs ``layers.0 .. n-1``.
"""

from __future__ import annotations

import re

from torch import nn

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.engine.models.sam_heads import HeadsConfig, MaskDecoder, PromptEncoder

RENAMES: tuple[tuple[str, str], ...] = (
    (r"^prompt_encoder\.shared_embedding\.positional_embedding$", "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"),
    (r"^prompt_encoder\.point_embed\.", "prompt_encoder.point_embeddings."),
    (r"^prompt_encoder\.mask_embed\.conv1\.", "prompt_encoder.mask_downscaling.0."),
    (r"^prompt_encoder\.mask_embed\.layer_norm1\.", "prompt_encoder.mask_downscaling.1."),
    (r"^prompt_encoder\.mask_embed\.conv2\.", "prompt_encoder.mask_downscaling.3."),
    (r"^prompt_encoder\.mask_embed\.layer_norm2\.", "prompt_encoder.mask_downscaling.4."),
    (r"^prompt_encoder\.mask_embed\.conv3\.", "prompt_encoder.mask_downscaling.6."),
    (r"^mask_decoder\.transformer\.layers\.(\d+)\.layer_norm(\d)\.", r"mask_decoder.transformer.layers.\1.norm\2."),
    (r"^mask_decoder\.transformer\.layer_norm_final_attn\.", "mask_decoder.transformer.norm_final_attn."),
    (r"^mask_decoder\.upscale_conv1\.", "mask_decoder.output_upscaling.0."),
    (r"^mask_decoder\.upscale_layer_norm\.", "mask_decoder.output_upscaling.1."),
    (r"^mask_decoder\.upscale_conv2\.", "mask_decoder.output_upscaling.3."),
)
MLP_PATTERN = re.compile(r"^(mask_decoder\.(?:output_hypernetworks_mlps\.\d+|iou_prediction_head))\.(proj_in|proj_out|layers\.(\d+))\.(.*)$")


class SamHeads(nn.Module):
    """Container with the original-layout names ``prompt_encoder`` and ``mask_decoder``."""

    def __init__(self, config: HeadsConfig) -> None:
        super().__init__()
        self.prompt_encoder = PromptEncoder(config)
        self.mask_decoder = MaskDecoder(config)


def heads_config(model) -> HeadsConfig:
    """The :class:`HeadsConfig` of a ``SamModel``; MedsamGuiError for layers these
    modules do not implement (another activation than SAM's)."""
    prompt, decoder = model.config.prompt_encoder_config, model.config.mask_decoder_config
    if decoder.hidden_act != "relu" or prompt.hidden_act != "gelu":
        raise MedsamGuiError(f"unsupported SAM activations (decoder {decoder.hidden_act}, prompt encoder {prompt.hidden_act})")
    return HeadsConfig(
        embed_dim=decoder.hidden_size, embedding_size=prompt.image_size // prompt.patch_size, input_size=prompt.image_size,
        mask_in_channels=prompt.mask_input_channels, transformer_depth=decoder.num_hidden_layers,
        transformer_heads=decoder.num_attention_heads, transformer_mlp_dim=decoder.mlp_dim,
        cross_attention_downsample=decoder.attention_downsample_rate, multimask_outputs=decoder.num_multimask_outputs,
        iou_head_depth=decoder.iou_head_depth, iou_head_hidden=decoder.iou_head_hidden_dim,
    )


def heads_state_dict(model_state: dict, iou_head_depth: int) -> dict:
    """``SamModel`` state -> ``{original-layout head name: tensor}`` (same tensor objects)."""
    converted = {}
    for key, value in model_state.items():
        if not key.startswith(("prompt_encoder.", "mask_decoder.")):
            continue
        for pattern, replacement in RENAMES:
            key = re.sub(pattern, replacement, key)
        match = MLP_PATTERN.match(key)
        if match:
            prefix, part, hidden_index, rest = match.groups()
            depth = iou_head_depth if prefix.endswith("iou_prediction_head") else 3
            index = 0 if part == "proj_in" else depth - 1 if part == "proj_out" else int(hidden_index) + 1
            key = f"{prefix}.layers.{index}.{rest}"
        converted[key] = value
    return converted


def heads_from_transformers(model) -> tuple[PromptEncoder, MaskDecoder]:
    """(prompt encoder, mask decoder) of a ``SamModel``, in eval mode. transformers ties
    ``shared_image_embedding`` to the prompt encoder's positional table, so one
    ``pe_layer`` serves both the prompts and the image grid, as in the original layout."""
    config = heads_config(model)
    heads = SamHeads(config)
    heads.load_state_dict(heads_state_dict(model.state_dict(), config.iou_head_depth), strict=True)
    heads.eval().requires_grad_(False)
    return heads.prompt_encoder, heads.mask_decoder
