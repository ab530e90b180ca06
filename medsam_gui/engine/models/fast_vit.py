"""An exact rewrite of a SAM / MedSAM ViT layer (``transformers`` ``SamVisionLayer``) that
does less work in its windowed layers; used by the ONNX export of the image encoder.

SAM's windowed layers pad the token grid to a multiple of the window with zero tokens
*before* the qkv projection (ViT-B: 64 x 64 -> 70 x 70 tokens, 14 x 14 windows), so qkv
and the output projection run on 4900 tokens instead of 4096. A zero token projects to
the qkv bias, and padded keys and values are attended to, so here qkv runs on the real
tokens only and the grid is padded afterwards with the bias (exactly what the zero
tokens project to); the output projection, token-wise, runs on the real tokens after the
padding is cropped. The window partition and the head split are one transpose (and their
inverse another) instead of two each. Global layers project q, k (transposed) and v per
head with batched products, already in the layout attention needs (no head-split
transpose of the 4096 x 2304 qkv). Same arithmetic otherwise (decomposed relative
positions as SAM adds them, softmax in fp32): outputs equal the original's up to float
rounding. ViT-B: 1.9 G fewer multiply-adds per windowed layer, 471 G instead of 486 G per
slice (torch's FLOP counter, eager attention). Not used by the torch backend: in eager
torch, ViT-B with this layer encoded about 2.2x slower than with transformers' (whose
global attention is one fused SDPA call; measured in turns, issue 14).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FastVitLayer(nn.Module):
    """``SamVisionLayer`` (shares its parameters): hidden ``[B, H, W, C]`` -> ``[B, H, W, C]``."""

    def __init__(self, layer) -> None:
        super().__init__()
        self.layer_norm1, self.attn, self.layer_norm2, self.mlp = layer.layer_norm1, layer.attn, layer.layer_norm2, layer.mlp
        self.window = int(layer.window_size)  # 0: global attention over the whole grid

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        batch, height, width, channels = hidden.shape
        heads = self.attn.num_attention_heads
        head_dim = channels // heads
        size = self.window
        if size > 0:
            qkv = self.attn.qkv(self.layer_norm1(hidden))  # [B, H, W, 3C]: channels (q|k|v, head, head_dim)
            qkv = self._pad_with_bias(qkv, (-height) % size, (-width) % size)
            padded_h, padded_w = qkv.shape[1], qkv.shape[2]
            rows, cols = padded_h // size, padded_w // size
            # [B, rows, size, cols, size, 3, heads, d] -> [3, B, rows, cols, heads, size, size, d]: windows and heads
            qkv = qkv.reshape(batch, rows, size, cols, size, 3, heads, head_dim).permute(5, 0, 1, 3, 6, 2, 4, 7)
            query, key, value = qkv.reshape(3, batch * rows * cols * heads, size * size, head_dim).unbind(0)
            out = self._attention(query, key.transpose(-2, -1), value, size, size)
            # [B, rows, cols, heads, size, size, d] -> [B, rows, size, cols, size, heads, d] -> the padded grid
            out = out.reshape(batch, rows, cols, heads, size, size, head_dim).permute(0, 1, 4, 2, 5, 3, 6)
            out = out.reshape(batch, padded_h, padded_w, channels)[:, :height, :width]
        else:
            tokens = self.layer_norm1(hidden).reshape(batch, height * width, channels)
            query, key_t, value = (part.reshape(batch * heads, *part.shape[2:]) for part in self._head_major_qkv(tokens))
            out = self._attention(query, key_t, value, height, width)
            out = out.reshape(batch, heads, height, width, head_dim).permute(0, 2, 3, 1, 4).reshape(batch, height, width, channels)
        hidden = hidden + self.attn.proj(out)
        return hidden + self.mlp(self.layer_norm2(hidden))

    def _pad_with_bias(self, qkv: torch.Tensor, pad_h: int, pad_w: int) -> torch.Tensor:
        """``[B, H, W, 3C]`` -> ``[B, H + pad_h, W + pad_w, 3C]``, the new cells holding the
        qkv bias (the projection of SAM's zero padding tokens)."""
        if not (pad_h or pad_w):
            return qkv
        height, width = qkv.shape[1], qkv.shape[2]
        qkv = F.pad(qkv, (0, 0, 0, pad_w, 0, pad_h))
        if self.attn.qkv.bias is None:
            return qkv
        inside = (torch.arange(height + pad_h)[:, None] < height) & (torch.arange(width + pad_w)[None, :] < width)
        return torch.where(inside[None, :, :, None], qkv, self.attn.qkv.bias)

    def _head_major_qkv(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Tokens ``[B, T, C]`` -> query ``[B, heads, T, d]``, key transposed ``[B, heads, d, T]``,
        value ``[B, heads, T, d]``: the qkv projection, one product per head."""
        heads = self.attn.num_attention_heads
        channels = tokens.shape[-1]
        weight = self.attn.qkv.weight.reshape(3, heads, channels // heads, channels)  # rows: (q|k|v, head, d)
        query = tokens[:, None] @ weight[0].transpose(1, 2)
        key_t = weight[1] @ tokens.transpose(1, 2)[:, None]
        value = tokens[:, None] @ weight[2].transpose(1, 2)
        if self.attn.qkv.bias is not None:
            bias = self.attn.qkv.bias.reshape(3, heads, 1, channels // heads)
            query, key_t, value = query + bias[0], key_t + bias[1].transpose(1, 2), value + bias[2]
        return query, key_t, value

    def _attention(self, query, key_t, value, height: int, width: int) -> torch.Tensor:
        """Attention of queries ``[N, H * W, d]``, keys transposed ``[N, d, H * W]`` and
        values ``[N, H * W, d]`` over an H x W grid (N = windows x heads), with SAM's
        decomposed relative positions -> ``[N, H * W, d]``."""
        attn = self.attn
        scores = (query * attn.scale) @ key_t  # [N, HW, HW]
        if attn.use_rel_pos:
            count, tokens, head_dim = query.shape
            grid_query = query.reshape(count, height, width, head_dim)
            rel_h = torch.einsum("nhwc,hkc->nhwk", grid_query, attn.get_rel_pos(height, height, attn.rel_pos_h))
            rel_w = torch.einsum("nhwc,wkc->nhwk", grid_query, attn.get_rel_pos(width, width, attn.rel_pos_w))
            bias = rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]  # [N, H, W, key H, key W]
            scores = scores + bias.reshape(count, tokens, tokens)
        return torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype) @ value
