"""SAM's prompt encoder and mask decoder (inference only), sized by :class:`HeadsConfig`.

Module and parameter names follow the ``prompt_encoder.*`` / ``mask_decoder.*`` keys
of the original segment-anything layout (``lite_medsam.pth``), and the attributes
that :mod:`medsam_gui.engine.models.fast_decoder` reads. The mask decoder is a
parameter container: its arithmetic (two-way transformer, upscaling, hypernetwork
product, IoU head) is :class:`~medsam_gui.engine.models.fast_decoder.FastSamDecoder`.

Default configuration (LiteMedSAM): embedding dim 256 on a 64 x 64 image embedding,
model input 256 x 256, mask input 256 x 256 through 16 hidden channels; two-way
transformer of depth 2, 8 heads, MLP 2048 (ReLU), cross attention projecting to
256 / 2; 3 + 1 mask tokens; IoU head 3 layers of 256. MedSAM / SAM ViT-B differ only
in the model input (1024). :mod:`sam_hf_heads` builds these modules from a
``transformers.SamModel`` so its prompts take the same fast path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class HeadsConfig:
    """Sizes of the prompt encoder and mask decoder (defaults: LiteMedSAM)."""

    embed_dim: int = 256
    embedding_size: int = 64
    input_size: int = 256
    mask_in_channels: int = 16
    transformer_depth: int = 2
    transformer_heads: int = 8
    transformer_mlp_dim: int = 2048
    cross_attention_downsample: int = 2
    multimask_outputs: int = 3
    iou_head_depth: int = 3
    iou_head_hidden: int = 256


LITE_MEDSAM_HEADS = HeadsConfig()


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of ``[B, C, H, W]`` (eps 1e-6)."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels_last = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), self.weight, self.bias, self.eps)
        return channels_last.permute(0, 3, 1, 2)


class RandomFourierPositions(nn.Module):
    """Positional encoding ``[sin(2 pi (2p - 1) G), cos(...)]`` of positions ``p`` in
    0..1 (x, y), with the fixed Gaussian matrix ``G`` ``[2, C / 2]`` from the weights."""

    def __init__(self, half_dim: int) -> None:
        super().__init__()
        self.register_buffer("positional_encoding_gaussian_matrix", torch.zeros(2, half_dim))

    def encode(self, positions_xy: torch.Tensor) -> torch.Tensor:
        """float ``[..., 2]`` normalised (x, y) -> ``[..., C]``."""
        angles = 2 * math.pi * ((2 * positions_xy - 1) @ self.positional_encoding_gaussian_matrix)
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)

    def forward(self, size_hw: tuple[int, int]) -> torch.Tensor:
        """Encoding of every cell centre of an ``H x W`` grid: ``[C, H, W]``."""
        height, width = size_hw
        device = self.positional_encoding_gaussian_matrix.device
        y = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height
        x = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width
        grid_xy = torch.stack(torch.meshgrid(x, y, indexing="xy"), dim=-1)  # [H, W, 2]
        return self.encode(grid_xy).permute(2, 0, 1)

    def forward_with_coords(self, coords_xy: torch.Tensor, image_size_hw: tuple[int, int]) -> torch.Tensor:
        """Pixel coordinates ``[B, N, 2]`` (x, y) in an image of ``image_size_hw`` -> ``[B, N, C]``."""
        scale = coords_xy.new_tensor([image_size_hw[1], image_size_hw[0]])
        return self.encode(coords_xy.float() / scale)


class PromptEncoder(nn.Module):
    """Points, boxes and a mask prompt -> sparse ``[B, N, C]`` and dense ``[B, C, 64, 64]``
    embeddings. Label embeddings: ``point_embeddings[0]`` negative point, ``[1]``
    positive point, ``[2]`` / ``[3]`` box top-left / bottom-right corner."""

    def __init__(self, config: HeadsConfig = LITE_MEDSAM_HEADS) -> None:
        super().__init__()
        dim, channels = config.embed_dim, config.mask_in_channels
        self.embed_dim = dim
        self.input_image_size = (config.input_size, config.input_size)
        self.image_embedding_size = (config.embedding_size, config.embedding_size)
        self.pe_layer = RandomFourierPositions(dim // 2)
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, dim) for _ in range(4))
        self.not_a_point_embed = nn.Embedding(1, dim)
        quarter = channels // 4
        self.mask_downscaling = nn.Sequential(  # [B, 1, 4E, 4E] -> [B, C, E, E]
            nn.Conv2d(1, quarter, kernel_size=2, stride=2),
            LayerNorm2d(quarter),
            nn.GELU(),
            nn.Conv2d(quarter, channels, kernel_size=2, stride=2),
            LayerNorm2d(channels),
            nn.GELU(),
            nn.Conv2d(channels, dim, kernel_size=1),
        )
        self.no_mask_embed = nn.Embedding(1, dim)

    def get_dense_pe(self) -> torch.Tensor:
        """Positional encoding of the image embedding grid: ``[1, C, E, E]``."""
        return self.pe_layer(self.image_embedding_size)[None]

    def _embed_points(self, coords_xy: torch.Tensor, labels: torch.Tensor, pad: bool) -> torch.Tensor:
        """``[B, N, 2]`` model-input pixel coordinates and ``[B, N]`` labels (1 positive,
        0 negative, -1 padding) -> ``[B, N (+1 padding point), C]``."""
        coords_xy = coords_xy + 0.5  # pixel centres
        if pad:  # without a box, a not-a-point token takes the box's place
            coords_xy = torch.cat([coords_xy, coords_xy.new_zeros(coords_xy.shape[0], 1, 2)], dim=1)
            labels = torch.cat([labels, labels.new_full((labels.shape[0], 1), -1)], dim=1)
        embedding = self.pe_layer.forward_with_coords(coords_xy, self.input_image_size)
        labels = labels[..., None]
        embedding = torch.where(labels == -1, self.not_a_point_embed.weight, embedding)
        embedding = embedding + (labels == 0) * self.point_embeddings[0].weight
        return embedding + (labels == 1) * self.point_embeddings[1].weight

    def _embed_boxes(self, boxes_xyxy: torch.Tensor) -> torch.Tensor:
        """``[B, 1, 4]`` or ``[B, 4]`` model-input (x0, y0, x1, y1) -> ``[B, 2, C]``."""
        corners = (boxes_xyxy + 0.5).reshape(-1, 2, 2)
        embedding = self.pe_layer.forward_with_coords(corners, self.input_image_size)
        corner_labels = torch.cat([self.point_embeddings[2].weight, self.point_embeddings[3].weight])  # [2, C]
        return embedding + corner_labels

    def forward(self, points: tuple[torch.Tensor, torch.Tensor] | None, boxes: torch.Tensor | None,
                masks: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Sparse ``[B, N, C]`` (points, then box corners) and dense ``[B, C, E, E]``
        (the embedded ``masks`` ``[B, 1, 4E, 4E]`` logits, or the no-mask embedding)."""
        given = [t for t in (points[0] if points is not None else None, boxes, masks) if t is not None]
        batch = given[0].shape[0] if given else 1
        parts = [self.no_mask_embed.weight.new_empty(batch, 0, self.embed_dim)]
        if points is not None:
            parts.append(self._embed_points(points[0], points[1], pad=boxes is None))
        if boxes is not None:
            parts.append(self._embed_boxes(boxes))
        if masks is not None:
            dense = self.mask_downscaling(masks)
        else:
            dense = self.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(batch, -1, *self.image_embedding_size)
        return torch.cat(parts, dim=1), dense


class MLP(nn.Module):
    """``num_layers`` Linear layers with ReLU between: ``[..., input_dim]`` -> ``[..., output_dim]``."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int) -> None:
        super().__init__()
        widths = [input_dim] + [hidden_dim] * (num_layers - 1) + [output_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x)


class MLPBlock(nn.Module):
    """Linear to ``mlp_dim``, ReLU, Linear back: ``[..., C]`` -> ``[..., C]``."""

    def __init__(self, dim: int, mlp_dim: int) -> None:
        super().__init__()
        self.lin1 = nn.Linear(dim, mlp_dim)
        self.lin2 = nn.Linear(mlp_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin2(F.relu(self.lin1(x)))


class Attention(nn.Module):
    """Projections of an attention layer: q, k, v from C to ``C / downsample_rate``,
    ``num_heads`` heads, output back to C (applied by ``fast_decoder.attention``)."""

    def __init__(self, dim: int, num_heads: int, downsample_rate: int = 1) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.internal_dim = dim // downsample_rate
        self.q_proj = nn.Linear(dim, self.internal_dim)
        self.k_proj = nn.Linear(dim, self.internal_dim)
        self.v_proj = nn.Linear(dim, self.internal_dim)
        self.out_proj = nn.Linear(self.internal_dim, dim)


class TwoWayAttentionBlock(nn.Module):
    """Token self-attention, token-to-image attention, token MLP, image-to-token
    attention, each followed by its LayerNorm (``norm1`` .. ``norm4``)."""

    def __init__(self, skip_first_layer_pe: bool, config: HeadsConfig = LITE_MEDSAM_HEADS) -> None:
        super().__init__()
        dim, heads, downsample = config.embed_dim, config.transformer_heads, config.cross_attention_downsample
        self.skip_first_layer_pe = skip_first_layer_pe
        self.self_attn = Attention(dim, heads)
        self.norm1 = nn.LayerNorm(dim)
        self.cross_attn_token_to_image = Attention(dim, heads, downsample)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLPBlock(dim, config.transformer_mlp_dim)
        self.norm3 = nn.LayerNorm(dim)
        self.norm4 = nn.LayerNorm(dim)
        self.cross_attn_image_to_token = Attention(dim, heads, downsample)


class TwoWayTransformer(nn.Module):
    """``transformer_depth`` blocks (the first without positional encoding on its
    self-attention), a final token-to-image attention and its LayerNorm."""

    def __init__(self, config: HeadsConfig = LITE_MEDSAM_HEADS) -> None:
        super().__init__()
        self.layers = nn.ModuleList(TwoWayAttentionBlock(index == 0, config) for index in range(config.transformer_depth))
        self.final_attn_token_to_image = Attention(config.embed_dim, config.transformer_heads,
                                                   config.cross_attention_downsample)
        self.norm_final_attn = nn.LayerNorm(config.embed_dim)


class MaskDecoder(nn.Module):
    """Weights of SAM's mask decoder: IoU token ``[1, C]``, mask tokens ``[4, C]``, the
    two-way transformer, ``output_upscaling`` (``[B, C, E, E]`` -> ``[B, C / 8, 4E, 4E]``:
    transposed conv, LayerNorm2d, GELU, transposed conv, GELU), one hypernetwork MLP per
    mask token (C -> C / 8) and the IoU head (C -> 4)."""

    def __init__(self, config: HeadsConfig = LITE_MEDSAM_HEADS) -> None:
        super().__init__()
        dim = config.embed_dim
        mask_token_count = config.multimask_outputs + 1
        self.transformer = TwoWayTransformer(config)
        self.iou_token = nn.Embedding(1, dim)
        self.mask_tokens = nn.Embedding(mask_token_count, dim)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(dim, dim // 4, kernel_size=2, stride=2),
            LayerNorm2d(dim // 4),
            nn.GELU(),
            nn.ConvTranspose2d(dim // 4, dim // 8, kernel_size=2, stride=2),
            nn.GELU(),
        )
        self.output_hypernetworks_mlps = nn.ModuleList(MLP(dim, dim, dim // 8, 3) for _ in range(mask_token_count))
        self.iou_prediction_head = MLP(dim, config.iou_head_hidden, mask_token_count, config.iou_head_depth)
