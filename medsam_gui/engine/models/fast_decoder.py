"""SAM's prompt encoder + mask decoder (original segment-anything module layout) on a
short call path: the per-model constants are computed once, and only the single-mask
output the app uses is computed.

Equivalent to ``MaskDecoder.forward(..., multimask_output=False)`` of
segment-anything, minus: recomputing the dense positional encoding on every call
(``get_dense_pe``), the three multimask hypernetwork heads and their mask products, and the per-call
``repeat_interleave`` copies; LayerNorm2d is done with one fused ``layer_norm``. The
two-way transformer runs through :func:`two_way_transformer` below: the same
arithmetic as ``TwoWayTransformer.forward``, with attention as one fused
``scaled_dot_product_attention`` call instead of explicit head copies, matmuls and
softmax, and ``keys + key_pe`` formed once per block instead of twice.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from medsam_gui.engine.types import Embedding, Prompts


def attention(module: torch.nn.Module, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """segment-anything ``Attention.forward`` on ``[1, n, C]`` inputs, fused.

    Projections to ``module.internal_dim``, ``module.num_heads`` heads, softmax of
    ``q k^T / sqrt(head_dim)``, output projection back to C.
    """
    heads = module.num_heads

    def split(x: torch.Tensor) -> torch.Tensor:  # [1, n, D] -> [1, heads, n, D / heads]
        return x.unflatten(-1, (heads, -1)).transpose(1, 2)

    out = F.scaled_dot_product_attention(split(module.q_proj(q)), split(module.k_proj(k)), split(module.v_proj(v)))
    return module.out_proj(out.transpose(1, 2).flatten(2))


def two_way_transformer(transformer: torch.nn.Module, image: torch.Tensor, image_pe: torch.Tensor, tokens: torch.Tensor):
    """``TwoWayTransformer.forward`` of segment-anything, same arithmetic, fewer copies.

    image, image_pe: ``[1, C, h, w]``; tokens: ``[1, t, C]``.
    Returns (queries ``[1, t, C]``, keys ``[1, h * w, C]``).
    """
    keys = image.flatten(2).transpose(1, 2)
    key_pe = image_pe.flatten(2).transpose(1, 2)
    queries = tokens
    for block in transformer.layers:
        if block.skip_first_layer_pe:
            queries = attention(block.self_attn, queries, queries, queries)
        else:
            q = queries + tokens
            queries = queries + attention(block.self_attn, q, q, queries)
        queries = block.norm1(queries)
        keys_with_pe = keys + key_pe
        queries = block.norm2(queries + attention(block.cross_attn_token_to_image, queries + tokens, keys_with_pe, keys))
        queries = block.norm3(queries + block.mlp(queries))
        keys = block.norm4(keys + attention(block.cross_attn_image_to_token, keys_with_pe, queries + tokens, queries))
    final = attention(transformer.final_attn_token_to_image, queries + tokens, keys + key_pe, keys)
    return transformer.norm_final_attn(queries + final), keys


class FastSamDecoder:
    """Decode one prompt set against one embedding; thread-safe (no mutable state)."""

    def __init__(self, prompt_encoder: torch.nn.Module, mask_decoder: torch.nn.Module, device: torch.device) -> None:
        self.prompt_encoder = prompt_encoder.to(device).eval()
        self.mask_decoder = mask_decoder.to(device).eval()
        self.device = device
        with torch.inference_mode():
            self.dense_pe = prompt_encoder.get_dense_pe().to(device)  # [1, C, h, w]
            self.no_mask_dense = prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).to(device)
            # all mask tokens stay: they attend to each other in the transformer
            self.output_tokens = torch.cat(
                [mask_decoder.iou_token.weight, mask_decoder.mask_tokens.weight], dim=0
            )[None].to(device)  # [1, 1 + 4, C]: IoU token + mask tokens
        upscaling = mask_decoder.output_upscaling
        self.upscale_conv1, self.upscale_norm, _, self.upscale_conv2, _ = upscaling
        self.hypernetwork = mask_decoder.output_hypernetworks_mlps[0]

    def _upscale(self, src: torch.Tensor) -> torch.Tensor:
        """``output_upscaling`` with LayerNorm2d as one channels-last ``layer_norm``."""
        hidden = self.upscale_conv1(src)
        norm = self.upscale_norm
        hidden = F.layer_norm(hidden.permute(0, 2, 3, 1), hidden.shape[1:2], norm.weight, norm.bias, norm.eps)
        hidden = F.gelu(hidden.permute(0, 3, 1, 2))
        return F.gelu(self.upscale_conv2(hidden))

    def sparse_embeddings(self, embedding: Embedding, prompts: Prompts) -> torch.Tensor:
        """Points (+ labels) and the box in model-input coordinates -> ``[1, n, C]``."""
        frame = embedding.frame
        points = None
        if prompts.points_xy is not None and len(prompts.points_xy):
            coords = torch.from_numpy(frame.to_model_xy(prompts.points_xy).astype(np.float32))[None]
            labels = torch.from_numpy(np.asarray(prompts.point_labels, dtype=np.int64))[None]
            points = (coords.to(self.device), labels.to(self.device))
        boxes = None
        if prompts.box_xyxy is not None:
            boxes = torch.from_numpy(frame.box_to_model(prompts.box_xyxy).astype(np.float32)).reshape(1, 1, 4)
            boxes = boxes.to(self.device)
        if points is None and boxes is None:
            raise ValueError("decode needs a box or at least one point")
        sparse, _ = self.prompt_encoder(points=points, boxes=boxes, masks=None)
        return sparse

    @torch.inference_mode()
    def decode(self, embedding: Embedding, prompts: Prompts) -> tuple[torch.Tensor, float]:
        """Low-res logits ``[1, 1, L, L]`` float32 and the predicted IoU (float)."""
        features = embedding.features
        sparse = self.sparse_embeddings(embedding, prompts)
        if prompts.mask_logits is not None:
            mask = torch.from_numpy(np.asarray(prompts.mask_logits, dtype=np.float32))[None, None].to(self.device)
            dense = self.prompt_encoder.mask_downscaling(mask)
        else:
            dense = self.no_mask_dense
        tokens = torch.cat([self.output_tokens, sparse.to(self.output_tokens.dtype)], dim=1)
        queries, keys = two_way_transformer(self.mask_decoder.transformer, features + dense, self.dense_pe, tokens)
        batch, channels, height, width = features.shape
        src = keys.transpose(1, 2).reshape(batch, channels, height, width)
        upscaled = self._upscale(src)  # [1, C/8, 4h, 4w]
        hyper = self.hypernetwork(queries[:, 1, :])  # [1, C/8]
        logits = (hyper @ upscaled.flatten(2)).reshape(1, 1, upscaled.shape[2], upscaled.shape[3])
        score = self.mask_decoder.iou_prediction_head(queries[:, 0, :])[0, 0]
        return logits, float(score)
