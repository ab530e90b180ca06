"""TinyViT-5M image encoder as LiteMedSAM configures it (inference only).

Input ``[B, 3, 256, 256]`` float32 (min-max normalised to 0..1, zero padded);
output ``[B, 256, 64, 64]`` image embedding. Module and parameter names follow the
``image_encoder.*`` keys of ``lite_medsam.pth`` so its state dict loads with
``strict=True``.

Stages (channels at resolution):
  patch_embed: two 1x1 conv+BN (GELU between): 3 -> 32 -> 64 at 256 x 256
  layers[0]:   2 MBConv blocks at 64 ch, 256 x 256, then merge to 128 ch, stride 2
  layers[1]:   2 TinyViT blocks, 128 ch, 128 x 128, window 7, then merge to 160 ch, stride 2
  layers[2]:   6 TinyViT blocks, 160 ch, 64 x 64, window 14, then merge to 320 ch, stride 1
  layers[3]:   2 TinyViT blocks, 320 ch, 64 x 64, window 7
  neck:        1x1 conv, LayerNorm2d, 3x3 conv, LayerNorm2d: 320 -> 256 ch

Transformer stages keep tokens as ``[B, H * W, C]`` (row-major over H, W).

``forward(image, between_blocks)`` calls ``between_blocks()`` after every block and
merge (16 times a pass): the engine uses it to pause a background pass while the user
prompts. It never changes the result.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from medsam_gui.engine.models.sam_heads import LayerNorm2d

IMAGE_SIZE = 256
EMBED_DIMS = (64, 128, 160, 320)
DEPTHS = (2, 2, 6, 2)
NUM_HEADS = (2, 4, 5, 10)
WINDOW_SIZES = (7, 7, 14, 7)
MERGE_STRIDES = (2, 2, 1)  # stage i -> i + 1; the last merge keeps 64 x 64
MLP_RATIO = 4
MBCONV_EXPAND_RATIO = 4
LOCAL_CONV_SIZE = 3
NECK_DIM = 256


class ConvBatchNorm(nn.Sequential):
    """Bias-free ``Conv2d`` (``c``) followed by ``BatchNorm2d`` (``bn``, running stats)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1,
                 groups: int = 1) -> None:
        super().__init__()
        self.add_module("c", nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2,
                                       groups=groups, bias=False))
        self.add_module("bn", nn.BatchNorm2d(out_channels))

    @torch.no_grad()
    def fused(self) -> nn.Conv2d:
        """One ``Conv2d`` with bias computing the same as conv then BN in eval mode:
        weight scaled by ``gamma / sqrt(var + eps)`` per output channel."""
        conv, norm = self.c, self.bn
        scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
        merged = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                           groups=conv.groups, bias=True)
        merged.weight.copy_(conv.weight * scale[:, None, None, None])
        merged.bias.copy_(norm.bias - norm.running_mean * scale)
        return merged.to(conv.weight.device).requires_grad_(False)


class PatchEmbed(nn.Module):
    """``[B, 3, H, W]`` -> ``[B, dim, H, W]``: pointwise conv+BN, GELU, pointwise conv+BN."""

    def __init__(self, in_channels: int, dim: int) -> None:
        super().__init__()
        self.seq = nn.Sequential(ConvBatchNorm(in_channels, dim // 2), nn.GELU(), ConvBatchNorm(dim // 2, dim))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.seq(image)


class MBConv(nn.Module):
    """Inverted residual on ``[B, C, H, W]``: expand 1x1, depthwise 3x3, project 1x1,
    add the input, GELU."""

    def __init__(self, dim: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = dim * expand_ratio
        self.conv1 = ConvBatchNorm(dim, hidden)
        self.conv2 = ConvBatchNorm(hidden, hidden, kernel_size=3, groups=hidden)
        self.conv3 = ConvBatchNorm(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = F.gelu(self.conv2(F.gelu(self.conv1(x))))
        return F.gelu(self.conv3(hidden) + x)


class PatchMerging(nn.Module):
    """``[B, C, H, W]`` or tokens ``[B, H * W, C]`` -> tokens ``[B, H' * W', out_dim]``:
    1x1 conv, GELU, depthwise 3x3 conv with ``stride``, GELU, 1x1 conv (each with BN)."""

    def __init__(self, resolution: int, dim: int, out_dim: int, stride: int) -> None:
        super().__init__()
        self.resolution = resolution
        self.conv1 = ConvBatchNorm(dim, out_dim)
        self.conv2 = ConvBatchNorm(out_dim, out_dim, kernel_size=3, stride=stride, groups=out_dim)
        self.conv3 = ConvBatchNorm(out_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3:
            x = tokens_to_map(x, self.resolution)
        x = self.conv3(F.gelu(self.conv2(F.gelu(self.conv1(x)))))
        return x.flatten(2).transpose(1, 2)


def tokens_to_map(tokens: torch.Tensor, resolution: int) -> torch.Tensor:
    """``[B, H * W, C]`` -> ``[B, C, H, W]`` with H = W = ``resolution``."""
    return tokens.transpose(1, 2).unflatten(2, (resolution, resolution))


def relative_offset_index(window: int) -> torch.Tensor:
    """int64 ``[window**2, window**2]``: for tokens i, j of a window (row-major), the
    column of their offset ``(|dy|, |dx|)`` in ``attention_biases``, ``|dy| * window + |dx|``."""
    rows, cols = torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
    rows, cols = rows.flatten(), cols.flatten()
    return (rows[:, None] - rows[None, :]).abs() * window + (cols[:, None] - cols[None, :]).abs()


class WindowAttention(nn.Module):
    """Multi-head self-attention inside one window, with a learned bias per head and
    per relative offset. ``[N, window**2, C]`` -> same shape; LayerNorm first."""

    def __init__(self, dim: int, num_heads: int, window: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, window * window))
        self.register_buffer("bias_index", relative_offset_index(window), persistent=False)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        count, length, _ = windows.shape
        # qkv columns are grouped per head as [q | k | v], each head_dim wide
        qkv = self.qkv(self.norm(windows)).view(count, length, self.num_heads, 3, self.head_dim)
        q, k, v = qkv.permute(3, 0, 2, 1, 4)  # each [N, heads, L, head_dim]
        bias = self.attention_biases[:, self.bias_index]  # [heads, L, L]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
        return self.proj(out.transpose(1, 2).flatten(2))


class TokenMlp(nn.Module):
    """LayerNorm, Linear to ``hidden``, GELU, Linear back: ``[..., C]`` -> ``[..., C]``."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(self.norm(x))))


class TinyViTBlock(nn.Module):
    """Tokens ``[B, H * W, C]`` -> same: windowed attention (zero padding to whole windows,
    padded tokens take part as keys like in the reference) + residual, depthwise 3x3
    conv+BN (no residual), MLP + residual."""

    def __init__(self, dim: int, resolution: int, num_heads: int, window: int) -> None:
        super().__init__()
        self.resolution = resolution
        self.window = window
        self.attn = WindowAttention(dim, num_heads, window)
        self.mlp = TokenMlp(dim, dim * MLP_RATIO)
        self.local_conv = ConvBatchNorm(dim, dim, kernel_size=LOCAL_CONV_SIZE, groups=dim)

    def _windowed_attention(self, tokens: torch.Tensor) -> torch.Tensor:
        batch, _, channels = tokens.shape
        size, window = self.resolution, self.window
        padded = -(-size // window) * window
        grid = F.pad(tokens.view(batch, size, size, channels), (0, 0, 0, padded - size, 0, padded - size))
        per_side = padded // window
        # [B, nH, w, nW, w, C] -> [B * nH * nW, w * w, C]
        windows = grid.view(batch, per_side, window, per_side, window, channels).transpose(2, 3)
        attended = self.attn(windows.reshape(-1, window * window, channels))
        grid = attended.view(batch, per_side, per_side, window, window, channels).transpose(2, 3)
        grid = grid.reshape(batch, padded, padded, channels)[:, :size, :size]
        return grid.reshape(batch, size * size, channels)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        tokens = tokens + self._windowed_attention(tokens)
        tokens = self.local_conv(tokens_to_map(tokens, self.resolution)).flatten(2).transpose(1, 2)
        return tokens + self.mlp(tokens)


class ConvStage(nn.Module):
    """MBConv blocks then a merge: ``[B, C, H, W]`` -> tokens ``[B, H' * W', out_dim]``."""

    def __init__(self, dim: int, resolution: int, depth: int, out_dim: int, stride: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(MBConv(dim, MBCONV_EXPAND_RATIO) for _ in range(depth))
        self.downsample = PatchMerging(resolution, dim, out_dim, stride)

    def forward(self, x: torch.Tensor, between_blocks=None) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
            if between_blocks is not None:
                between_blocks()
        return self.downsample(x)


class TransformerStage(nn.Module):
    """TinyViT blocks then an optional merge; tokens ``[B, H * W, C]`` in and out."""

    def __init__(self, dim: int, resolution: int, depth: int, num_heads: int, window: int,
                 downsample: PatchMerging | None) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(TinyViTBlock(dim, resolution, num_heads, window) for _ in range(depth))
        self.downsample = downsample

    def forward(self, tokens: torch.Tensor, between_blocks=None) -> torch.Tensor:
        for block in self.blocks:
            tokens = block(tokens)
            if between_blocks is not None:
                between_blocks()
        return tokens if self.downsample is None else self.downsample(tokens)


class TinyViTEncoder(nn.Module):
    """``[B, 3, 256, 256]`` -> ``[B, 256, 64, 64]`` (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed(3, EMBED_DIMS[0])
        resolutions = [IMAGE_SIZE]
        for stride in MERGE_STRIDES:
            resolutions.append(resolutions[-1] // stride)
        self.output_resolution = resolutions[-1]
        stages: list[nn.Module] = [ConvStage(EMBED_DIMS[0], IMAGE_SIZE, DEPTHS[0], EMBED_DIMS[1], MERGE_STRIDES[0])]
        for index in range(1, len(DEPTHS)):
            merge = None
            if index < len(DEPTHS) - 1:
                merge = PatchMerging(resolutions[index], EMBED_DIMS[index], EMBED_DIMS[index + 1], MERGE_STRIDES[index])
            stages.append(TransformerStage(EMBED_DIMS[index], resolutions[index], DEPTHS[index], NUM_HEADS[index],
                                           WINDOW_SIZES[index], merge))
        self.layers = nn.ModuleList(stages)
        self.neck = nn.Sequential(
            nn.Conv2d(EMBED_DIMS[-1], NECK_DIM, kernel_size=1, bias=False),
            LayerNorm2d(NECK_DIM),
            nn.Conv2d(NECK_DIM, NECK_DIM, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(NECK_DIM),
        )

    def fuse_batchnorm(self) -> None:
        """Replace every conv+BN pair by one conv (inference speed; the state dict then no
        longer has the ``bn`` keys, so load the weights first)."""
        for parent in list(self.modules()):
            for name, child in list(parent.named_children()):
                if isinstance(child, ConvBatchNorm):
                    setattr(parent, name, child.fused())

    def forward(self, image: torch.Tensor, between_blocks=None) -> torch.Tensor:
        """``between_blocks``: None or a callable run after each block and merge."""
        x = self.patch_embed(image)
        for stage in self.layers:
            if between_blocks is not None:
                between_blocks()
            x = stage(x, between_blocks)
        return self.neck(tokens_to_map(x, self.output_resolution))
