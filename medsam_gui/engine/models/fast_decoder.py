"""SAM's prompt encoder + mask decoder (original segment-anything module layout) on a
short call path: the per-model constants are computed once, and only the single-mask
output the app uses is computed.

Equivalent to ``MaskDecoder.forward(..., multimask_output=False)`` of
segment-anything up to float rounding, minus: recomputing the dense positional
encoding on every call (``get_dense_pe``), the three multimask hypernetwork heads and
their mask products, and the per-call ``repeat_interleave`` copies. Where the work goes
instead (E x E image tokens, N = E * E, C channels; T prompt + output tokens; h heads of
d channels, D = h * d):

* the first block's image-side projections depend on the image alone: computed once
  per embedding (:class:`FirstBlockKeys`);
* attention between the tokens and the image is factorized on the token side
  (:func:`tokens_to_image`, :func:`image_weights_from_image`,
  :func:`image_to_tokens_residual`): the image's N x C tokens meet a
  C x (h * T) matrix built from the few tokens, instead of being projected to D
  channels by the layer's ``k_proj`` / ``v_proj`` / ``q_proj`` / ``out_proj``;
* the final token-to-image attention is computed for the two tokens used afterwards
  (IoU token and the single-mask token) only;
* only the window of the grid that a box prompt's mask can reach is upscaled
  (:func:`window_logits`, :mod:`decoder_window`), with the whole grid as a fallback when
  the mask touches the window's edge.
* the mask head (``output_upscaling`` and the hypernetwork product) runs as two
  channels-last matrix products over the cells (:class:`CellUpscaling`) instead of
  transposed convolutions with NCHW transposes around the LayerNorm;
* reshapes use the layers' own sizes, so the ONNX graph has almost no shape arithmetic.

The ONNX export (:mod:`onnx_export`) traces these same functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from medsam_gui.engine.models.decoder_window import GridWindow
from medsam_gui.engine.models.per_object_cache import PerObjectCache
from medsam_gui.engine.types import Embedding, Prompts


def head_channels(module: torch.nn.Module) -> int:
    """d: channels per head of an attention layer."""
    return module.internal_dim // module.num_heads


# Shapes below are written with the layer's own sizes (Python ints) and at most one -1,
# never read from a tensor: the ONNX export then has constant reshapes instead of
# Shape / Slice / Concat chains (LiteMedSAM's decoder_prompt: 228 nodes instead of 339).


def split_heads(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``[1, n, D]`` -> ``[1, heads, n, D / heads]`` for ``module.num_heads`` heads."""
    return x.reshape(1, -1, module.num_heads, head_channels(module)).transpose(1, 2)


def merge_heads(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``[1, heads, n, d]`` (or ``[heads, n, d]``) -> ``[1, n, D]``."""
    return x.transpose(-3, -2).reshape(1, -1, module.internal_dim)


def attend(module: torch.nn.Module, q_heads: torch.Tensor, k_heads: torch.Tensor, v_heads: torch.Tensor) -> torch.Tensor:
    """Softmax attention of projected, head-split q/k/v, then ``out_proj`` -> ``[1, n, C]``."""
    weights = torch.softmax((q_heads * head_channels(module) ** -0.5) @ k_heads.transpose(-1, -2), dim=-1)
    return module.out_proj(merge_heads(module, weights @ v_heads))


def attention(module: torch.nn.Module, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """segment-anything ``Attention.forward`` on ``[1, n, C]`` inputs, fused.

    Projections to ``module.internal_dim``, ``module.num_heads`` heads, softmax of
    ``q k^T / sqrt(head_dim)``, output projection back to C.
    """
    return attend(module, split_heads(module, module.q_proj(q)), split_heads(module, module.k_proj(k)),
                  split_heads(module, module.v_proj(v)))


def per_head(linear: torch.nn.Linear, heads: int) -> torch.Tensor:
    """A C -> D projection's weight as ``[heads, d, C]`` (head ``h`` maps C to its d channels)."""
    return linear.weight.reshape(heads, -1, linear.in_features)


def token_heads(module: torch.nn.Module, projected: torch.Tensor) -> torch.Tensor:
    """Projected tokens ``[1, T, D]`` -> ``[heads, T, d]``."""
    return projected.reshape(-1, module.num_heads, head_channels(module)).transpose(0, 1)


def tokens_to_projected_image(module: torch.nn.Module, queries: torch.Tensor, keys_by_column: torch.Tensor,
                              value_heads: torch.Tensor) -> torch.Tensor:
    """``Attention.forward`` of queries ``[1, T, C]`` on image keys and values already
    projected: keys ``[1, h, d, N]`` (transposed), values ``[1, h, N, d]`` -> ``[1, T, C]``."""
    q = split_heads(module, module.q_proj(queries))  # [1, h, T, d]
    weights = torch.softmax((q * head_channels(module) ** -0.5) @ keys_by_column, dim=-1)  # [1, h, T, N]
    return module.out_proj(merge_heads(module, weights @ value_heads))


def tokens_to_image(module: torch.nn.Module, queries: torch.Tensor, image_with_pe: torch.Tensor,
                    image: torch.Tensor) -> torch.Tensor:
    """``Attention.forward(q=queries, k=image_with_pe, v=image)``, factorized on the token side.

    queries ``[1, T, C]``; image_with_pe, image ``[1, N, C]``; returns ``[1, T, C]``.
    Score of token t, head h, pixel i: ``(W_k,h^T q_t,h) . x_i`` (the key bias adds a
    constant over i, which the softmax over i cancels); value: ``W_v,h (sum_i a_i x_i) + b_v,h``
    (the weights sum to 1). So the image meets ``[C, h * T]`` and ``[h * T, N]`` matrices
    instead of being projected to D channels twice.
    """
    heads = module.num_heads
    q = token_heads(module, module.q_proj(queries))  # [h, T, d]
    query_keys = (q * head_channels(module) ** -0.5) @ per_head(module.k_proj, heads)  # [h, T, C], scaled
    weights = torch.softmax(query_keys @ image_with_pe.squeeze(0).transpose(0, 1), dim=-1)  # [h, T, N]
    mixed = weights @ image.squeeze(0)  # [h, T, C]
    values = mixed @ per_head(module.v_proj, heads).transpose(1, 2) + module.v_proj.bias.reshape(heads, 1, -1)
    return module.out_proj(merge_heads(module, values))  # [h, T, d] -> [1, T, D] -> [1, T, C]


def softmax_over_tokens(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over axis 1 of ``[h, T, N]`` scores (each pixel's weights over the tokens,
    per head) -> ``[h * T, N]``. Written out: both torch's and ONNX Runtime's softmax are
    slow over a short axis, and ONNX Runtime transposes for one that is not the last."""
    shifted = (scores - scores.amax(dim=1, keepdim=True)).exp()
    return (shifted / shifted.sum(dim=1, keepdim=True)).flatten(0, 1)


def image_weights_from_queries(module: torch.nn.Module, image_queries_by_column: torch.Tensor,
                               token_keys: torch.Tensor) -> torch.Tensor:
    """Attention weights ``[h * T, N]`` (transposed) of image queries already projected,
    ``[1, h, d, N]``, on token keys ``[h, T, d]``."""
    return softmax_over_tokens((token_keys * head_channels(module) ** -0.5) @ image_queries_by_column.squeeze(0))


def image_weights_from_image(module: torch.nn.Module, image_with_pe: torch.Tensor, token_keys: torch.Tensor) -> torch.Tensor:
    """Attention weights ``[h * T, N]`` (transposed) of the image ``[1, N, C]`` (as queries
    of ``module``) on token keys ``[h, T, d]``. Score: ``x_i . (W_q,h^T k_t,h) + b_q,h . k_t,h``
    (this bias term varies over t: it stays), so the image meets a ``[h, T, C]`` matrix
    instead of ``q_proj``."""
    heads = module.num_heads
    keys = token_keys * head_channels(module) ** -0.5
    key_queries = keys @ per_head(module.q_proj, heads)  # [h, T, C]
    bias = (keys * module.q_proj.bias.reshape(heads, 1, -1)).sum(-1, keepdim=True)  # [h, T, 1]
    return softmax_over_tokens(key_queries @ image_with_pe.squeeze(0).transpose(0, 1) + bias)  # scores [h, T, N]


def image_to_tokens_residual(module: torch.nn.Module, image: torch.Tensor, weights: torch.Tensor,
                             token_values: torch.Tensor) -> torch.Tensor:
    """``image + Attention(q=image, k=tokens, v=tokens)`` (``[1, N, C]``) from the attention
    weights ``[h * T, N]`` (transposed) and the token values ``[h, T, d]``.

    ``sum_h W_o,h sum_t a_i,h,t v_t,h + b_o = A [N, h * T] @ U [h * T, C] + b_o`` with
    ``U_h,t = W_o,h v_t,h``: no N x D intermediate, no ``out_proj`` over N. Each head's
    weights sum to 1, so ``b_o / h`` added to every row of U adds ``b_o``, and the residual
    rides in the same product.
    """
    heads = module.num_heads
    out_weight = module.out_proj.weight.reshape(-1, heads, head_channels(module)).permute(1, 2, 0)  # [h, d, C]
    per_token = (token_values @ out_weight).flatten(0, 1) + module.out_proj.bias / heads  # [h * T, C]
    return torch.addmm(image.squeeze(0), weights.transpose(0, 1), per_token)[None]


@dataclass(frozen=True)
class FirstBlockKeys:
    """What the first transformer block computes from the image alone (no mask input).

    The first block sees the embedding before any prompt has touched it, so its
    image-side projections are the same for every prompt on that embedding: done once
    per embedding instead of once per prompt. Shapes (N = h * w pixels, d = D / heads):
    ``keys`` ``[1, N, C]``; ``token_to_image_v`` ``[1, heads, N, d]``; the keys and queries
    that meet the tokens' queries and keys by product, by column: ``token_to_image_k``,
    ``image_to_token_q`` ``[1, heads, d, N]``.
    """

    keys: torch.Tensor
    token_to_image_k: torch.Tensor
    token_to_image_v: torch.Tensor
    image_to_token_q: torch.Tensor

    @classmethod
    def compute(cls, transformer: torch.nn.Module, image: torch.Tensor, image_pe: torch.Tensor) -> "FirstBlockKeys":
        """image (embedding + dense prompt embedding), image_pe: ``[1, C, h, w]``."""
        block = transformer.layers[0]
        keys = image.flatten(2).transpose(1, 2)
        keys_with_pe = keys + image_pe.flatten(2).transpose(1, 2)
        to_image, to_token = block.cross_attn_token_to_image, block.cross_attn_image_to_token
        return cls(
            keys,
            split_heads(to_image, to_image.k_proj(keys_with_pe)).transpose(-1, -2).contiguous(),
            split_heads(to_image, to_image.v_proj(keys)),
            split_heads(to_token, to_token.q_proj(keys_with_pe)).transpose(-1, -2).contiguous(),
        )


def two_way_transformer(transformer: torch.nn.Module, tokens: torch.Tensor, first_block: FirstBlockKeys,
                        key_pe: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``TwoWayTransformer.forward`` of segment-anything, same arithmetic up to rounding
    (see the module docstring), for the outputs the single-mask decoder reads.

    tokens: ``[1, T, C]`` (IoU token, mask tokens, prompt tokens); first_block: the
    image-only part of block 0; key_pe: the image's positional encoding ``[1, N, C]``.
    Returns (the IoU token and the first mask token ``[1, 2, C]``, image keys ``[1, N, C]``).
    """
    keys = first_block.keys
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
            to_image_out = tokens_to_projected_image(to_image, queries + tokens, first_block.token_to_image_k,
                                                     first_block.token_to_image_v)
        else:
            keys_with_pe = keys + key_pe
            to_image_out = tokens_to_image(to_image, queries + tokens, keys_with_pe, keys)
        queries = block.norm2(queries + to_image_out)
        queries = block.norm3(queries + block.mlp(queries))
        token_keys = token_heads(to_token, to_token.k_proj(queries + tokens))  # [h, T, d]
        token_values = token_heads(to_token, to_token.v_proj(queries))
        if index == 0:
            weights = image_weights_from_queries(to_token, first_block.image_to_token_q, token_keys)
        else:
            weights = image_weights_from_image(to_token, keys_with_pe, token_keys)
        keys = block.norm4(image_to_tokens_residual(to_token, keys, weights, token_values))
    used = queries[:, :2]  # the final attention is per token: only these two are read afterwards
    final = tokens_to_image(transformer.final_attn_token_to_image, used + tokens[:, :2], keys + key_pe, keys)
    return transformer.norm_final_attn(used + final), keys


class CellUpscaling(torch.nn.Module):
    """SAM's ``output_upscaling`` and the product with the hypernetwork's mask embedding,
    written per embedding cell as channels-last matrix products.

    ``output_upscaling``: transposed conv (C -> C / 4, kernel 2, stride 2), LayerNorm2d,
    GELU, transposed conv (C / 4 -> C / 8, kernel 2, stride 2), GELU. A kernel-2 stride-2
    transposed conv maps each input pixel alone to its own 2 x 2 output pixels, so the
    chain is, per cell ``x`` ``[C]``: ``x @ W1`` (``[C, 2 * 2 * C / 4]``, columns
    ``(a1, b1, channel)``), a LayerNorm over each group of C / 4 channels, GELU, the same
    with ``W2`` (``[C / 4, 2 * 2 * C / 8]``), GELU, then the dot product with the mask
    embedding; the cell's logit ``(a1, b1, a2, b2)`` lands on low-res pixel
    ``(4i + 2 a1 + a2, 4j + 2 b1 + b2)``. Same arithmetic as the convolutions, as two
    plain 2-D products over all cells at once: no NCHW transposes around the LayerNorm,
    and ONNX Runtime runs them faster than its ConvTranspose.
    """

    def __init__(self, upscaling: torch.nn.Module) -> None:
        super().__init__()
        conv1, norm, _, conv2, _ = upscaling
        self.register_buffer("conv1_weight", conv1.weight.detach().permute(0, 2, 3, 1).flatten(1).clone())  # [C, 4 * C / 4]
        self.register_buffer("conv1_bias", conv1.bias.detach().repeat(4).clone())
        self.register_buffer("norm_weight", norm.weight.detach().clone())
        self.register_buffer("norm_bias", norm.bias.detach().clone())
        self.norm_eps = float(norm.eps)
        self.register_buffer("conv2_weight", conv2.weight.detach().permute(0, 2, 3, 1).flatten(1).clone())  # [C / 4, 4 * C / 8]
        self.register_buffer("conv2_bias", conv2.bias.detach().repeat(4).clone())
        self.quarter, self.eighth = int(conv1.weight.shape[1]), int(conv2.weight.shape[1])  # C / 4, C / 8

    def forward(self, cells: torch.Tensor, mask_embedding: torch.Tensor) -> torch.Tensor:
        """cells ``[n, C]``, mask embedding ``[1, C / 8]`` -> logits ``[n, 2, 2, 2, 2]``
        (cell, a1, b1, a2, b2)."""
        quarter, eighth = self.quarter, self.eighth
        hidden = torch.addmm(self.conv1_bias, cells, self.conv1_weight).reshape(-1, quarter)  # [4n, C / 4]
        hidden = F.gelu(F.layer_norm(hidden, (quarter,), self.norm_weight, self.norm_bias, self.norm_eps))
        upscaled = F.gelu(torch.addmm(self.conv2_bias, hidden, self.conv2_weight))  # [4n, 4 * C / 8]
        return (upscaled.reshape(-1, eighth) @ mask_embedding.reshape(eighth, 1)).reshape(-1, 2, 2, 2, 2)


def window_logits(upscaling: CellUpscaling, mask_embedding: torch.Tensor, keys: torch.Tensor, grid_size: int,
                  rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Low-res logits ``[4r, 4c]`` of the grid cells ``rows`` x ``cols`` (int64 ``[r]``, ``[c]``)
    of the image keys ``[1, E * E, C]`` (E = ``grid_size``), with the hypernetwork's mask
    embedding ``[1, C / 8]``. Each cell maps to its own 4 x 4 logits, so this is exactly
    that part of the whole grid's logits.
    """
    cell_indices = (rows[:, None] * grid_size + cols[None, :]).flatten()  # [r * c], row-major
    logits = upscaling(keys.squeeze(0).index_select(0, cell_indices), mask_embedding)  # [r * c, a1, b1, a2, b2]
    height, width = rows.shape[0], cols.shape[0]
    # (i, j, a1, b1, a2, b2) -> (i, a1, a2, j, b1, b2): pixel row 4i + 2 a1 + a2, column 4j + 2 b1 + b2
    return logits.reshape(height, width, 2, 2, 2, 2).permute(0, 2, 4, 1, 3, 5).reshape(4 * height, 4 * width)


class FastSamDecoder:
    """Decode one prompt set against one embedding; thread-safe.

    Its only state is a cache of :class:`FirstBlockKeys` per embedding tensor, dropped
    when the tensor is freed (when the embedding cache lets the embedding go).
    ``mask_threshold_logit``: the backend's mask threshold, which decides when a box's
    window is not enough (:meth:`GridWindow.reaches_edge`).
    """

    def __init__(self, prompt_encoder: torch.nn.Module, mask_decoder: torch.nn.Module, device: torch.device,
                 mask_threshold_logit: float = 0.0) -> None:
        self.prompt_encoder = prompt_encoder.to(device).eval()
        self.mask_decoder = mask_decoder.to(device).eval()
        self.device = device
        self.mask_threshold_logit = mask_threshold_logit
        with torch.inference_mode():
            self.dense_pe = prompt_encoder.get_dense_pe().to(device)  # [1, C, E, E]
            self.key_pe = self.dense_pe.flatten(2).transpose(1, 2).contiguous()  # [1, E * E, C]
            self.no_mask_dense = prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).to(device)
            # all mask tokens stay: they attend to each other in the transformer
            self.output_tokens = torch.cat(
                [mask_decoder.iou_token.weight, mask_decoder.mask_tokens.weight], dim=0
            )[None].to(device)  # [1, 1 + 4, C]: IoU token + mask tokens
        self.grid_size = int(self.dense_pe.shape[-1])
        self.hypernetwork = mask_decoder.output_hypernetworks_mlps[0]
        self.upscaling = CellUpscaling(self.mask_decoder.output_upscaling)
        self._first_blocks: PerObjectCache[FirstBlockKeys] = PerObjectCache()  # features -> their first block

    def first_block(self, features: torch.Tensor) -> FirstBlockKeys:
        """The prompt-independent first-block projections for ``features``, computed once
        (forgotten when the tensor is freed)."""
        return self._first_blocks.get(features, lambda: FirstBlockKeys.compute(
            self.mask_decoder.transformer, features + self.no_mask_dense, self.dense_pe))

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

    def _window_logits(self, mask_embedding: torch.Tensor, keys: torch.Tensor, window: GridWindow) -> np.ndarray:
        rows, cols = (torch.from_numpy(indices).to(self.device) for indices in (window.row_indices(), window.col_indices()))
        logits = window_logits(self.upscaling, mask_embedding, keys, self.grid_size, rows, cols)
        return logits.float().cpu().numpy()

    @torch.inference_mode()
    def decode(self, embedding: Embedding, prompts: Prompts) -> tuple[np.ndarray, float]:
        """Low-res logits float32 ``[4E, 4E]`` (numpy) and the predicted IoU (float)."""
        features = embedding.features
        sparse = self.sparse_embeddings(embedding, prompts)
        transformer = self.mask_decoder.transformer
        if prompts.mask_logits is not None:
            mask = torch.from_numpy(np.asarray(prompts.mask_logits, dtype=np.float32))[None, None].to(self.device)
            first_block = FirstBlockKeys.compute(transformer, features + self.prompt_encoder.mask_downscaling(mask), self.dense_pe)
        else:
            first_block = self.first_block(features)
        tokens = torch.cat([self.output_tokens, sparse.to(self.output_tokens.dtype)], dim=1)
        used_tokens, keys = two_way_transformer(transformer, tokens, first_block, self.key_pe)
        mask_embedding = self.hypernetwork(used_tokens[:, 1, :])  # [1, C / 8]
        window = GridWindow.for_prompts(embedding.frame, prompts, self.grid_size)
        logits = self._window_logits(mask_embedding, keys, window)
        if window.reaches_edge(logits, self.mask_threshold_logit):
            window = GridWindow.whole(self.grid_size)
            logits = self._window_logits(mask_embedding, keys, window)
        score = self.mask_decoder.iou_prediction_head(used_tokens[:, 0, :])[0, 0]
        return window.paste(logits), float(score)
