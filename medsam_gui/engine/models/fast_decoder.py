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

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from medsam_gui.engine.models.per_object_cache import PerObjectCache
from medsam_gui.engine.types import Embedding, Prompts


def split_heads(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``[1, n, D]`` -> ``[1, heads, n, D / heads]`` for ``module.num_heads`` heads."""
    return x.unflatten(-1, (module.num_heads, -1)).transpose(1, 2)


def attend(module: torch.nn.Module, q_heads: torch.Tensor, k_heads: torch.Tensor, v_heads: torch.Tensor) -> torch.Tensor:
    """Softmax attention of projected, head-split q/k/v, then ``out_proj`` -> ``[1, n, C]``."""
    out = F.scaled_dot_product_attention(q_heads, k_heads, v_heads)
    return module.out_proj(out.transpose(1, 2).flatten(2))


def attention(module: torch.nn.Module, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """segment-anything ``Attention.forward`` on ``[1, n, C]`` inputs, fused.

    Projections to ``module.internal_dim``, ``module.num_heads`` heads, softmax of
    ``q k^T / sqrt(head_dim)``, output projection back to C.
    """
    return attend(module, split_heads(module, module.q_proj(q)), split_heads(module, module.k_proj(k)),
                  split_heads(module, module.v_proj(v)))


@dataclass(frozen=True)
class FirstBlockKeys:
    """What the first transformer block computes from the image alone (no mask input).

    The first block sees the embedding before any prompt has touched it, so its
    image-side projections are the same for every prompt on that embedding: three
    of the decoder's largest matrix products, done once per embedding instead of
    once per prompt. Shapes: ``keys``, ``keys_with_pe`` ``[1, h * w, C]``; the
    projections ``[1, heads, h * w, D / heads]``.
    """

    keys: torch.Tensor
    keys_with_pe: torch.Tensor
    token_to_image_k: torch.Tensor
    token_to_image_v: torch.Tensor
    image_to_token_q: torch.Tensor

    @classmethod
    def compute(cls, transformer: torch.nn.Module, image: torch.Tensor, image_pe: torch.Tensor) -> "FirstBlockKeys":
        """image (embedding + no-mask dense embedding), image_pe: ``[1, C, h, w]``."""
        block = transformer.layers[0]
        keys = image.flatten(2).transpose(1, 2)
        keys_with_pe = keys + image_pe.flatten(2).transpose(1, 2)
        to_image, to_token = block.cross_attn_token_to_image, block.cross_attn_image_to_token
        return cls(
            keys, keys_with_pe,
            split_heads(to_image, to_image.k_proj(keys_with_pe)),
            split_heads(to_image, to_image.v_proj(keys)),
            split_heads(to_token, to_token.q_proj(keys_with_pe)),
        )


def two_way_transformer(transformer: torch.nn.Module, image: torch.Tensor, image_pe: torch.Tensor, tokens: torch.Tensor,
                        first_block: FirstBlockKeys | None = None):
    """``TwoWayTransformer.forward`` of segment-anything, same arithmetic, fewer copies.

    image, image_pe: ``[1, C, h, w]``; tokens: ``[1, t, C]``; ``first_block``: the
    image-only part of block 0 for this ``image``, when already computed.
    Returns (queries ``[1, t, C]``, keys ``[1, h * w, C]``).
    """
    first_block = first_block or FirstBlockKeys.compute(transformer, image, image_pe)
    keys = first_block.keys
    key_pe = image_pe.flatten(2).transpose(1, 2)
    queries = tokens
    for index, block in enumerate(transformer.layers):
        if block.skip_first_layer_pe:
            queries = attention(block.self_attn, queries, queries, queries)
        else:
            q = queries + tokens
            queries = queries + attention(block.self_attn, q, q, queries)
        queries = block.norm1(queries)
        to_image, to_token = block.cross_attn_token_to_image, block.cross_attn_image_to_token
        if index == 0:
            keys_with_pe = first_block.keys_with_pe
            k_heads, v_heads, q_image_heads = first_block.token_to_image_k, first_block.token_to_image_v, first_block.image_to_token_q
        else:
            keys_with_pe = keys + key_pe
            k_heads = split_heads(to_image, to_image.k_proj(keys_with_pe))
            v_heads = split_heads(to_image, to_image.v_proj(keys))
            q_image_heads = split_heads(to_token, to_token.q_proj(keys_with_pe))
        q_heads = split_heads(to_image, to_image.q_proj(queries + tokens))
        queries = block.norm2(queries + attend(to_image, q_heads, k_heads, v_heads))
        queries = block.norm3(queries + block.mlp(queries))
        token_keys = split_heads(to_token, to_token.k_proj(queries + tokens))
        token_values = split_heads(to_token, to_token.v_proj(queries))
        keys = block.norm4(keys + attend(to_token, q_image_heads, token_keys, token_values))
    final = attention(transformer.final_attn_token_to_image, queries + tokens, keys + key_pe, keys)
    return transformer.norm_final_attn(queries + final), keys


class FastSamDecoder:
    """Decode one prompt set against one embedding; thread-safe.

    Its only state is a cache of :class:`FirstBlockKeys` per embedding tensor, dropped
    when the tensor is freed (when the embedding cache lets the embedding go).
    """

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
        self._first_blocks: PerObjectCache[FirstBlockKeys] = PerObjectCache()  # features -> their first block

    def first_block(self, features: torch.Tensor) -> FirstBlockKeys:
        """The prompt-independent first-block projections for ``features``, computed once
        (forgotten when the tensor is freed)."""
        return self._first_blocks.get(features, lambda: FirstBlockKeys.compute(
            self.mask_decoder.transformer, features + self.no_mask_dense, self.dense_pe))

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
            image, first_block = features + self.prompt_encoder.mask_downscaling(mask), None
        else:
            image, first_block = None, self.first_block(features)
        tokens = torch.cat([self.output_tokens, sparse.to(self.output_tokens.dtype)], dim=1)
        queries, keys = two_way_transformer(self.mask_decoder.transformer, image, self.dense_pe, tokens, first_block)
        batch, channels, height, width = features.shape
        src = keys.transpose(1, 2).reshape(batch, channels, height, width)
        upscaled = self._upscale(src)  # [1, C/8, 4h, 4w]
        hyper = self.hypernetwork(queries[:, 1, :])  # [1, C/8]
        logits = (hyper @ upscaled.flatten(2)).reshape(1, 1, upscaled.shape[2], upscaled.shape[3])
        score = self.mask_decoder.iou_prediction_head(queries[:, 0, :])[0, 0]
        return logits, float(score)
