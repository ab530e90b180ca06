"""The decoder's mask head as per-cell matrix products (fast_decoder.CellUpscaling and
window_logits) equals SAM's own ``output_upscaling`` (transposed convolutions,
LayerNorm2d, GELUs) followed by the hypernetwork product, on the bundled LiteMedSAM
weights: on the whole grid and on a window of it, each window pixel where it lies in
the whole grid's logits."""

from __future__ import annotations

import torch

from medsam_gui.engine.models.fast_decoder import CellUpscaling, window_logits


def reference_logits(upscaling: torch.nn.Module, mask_embedding: torch.Tensor, keys: torch.Tensor, grid: int) -> torch.Tensor:
    """segment-anything's mask path: keys ``[1, E * E, C]`` -> ``[4E, 4E]`` logits."""
    upscaled = upscaling(keys.transpose(1, 2).reshape(1, -1, grid, grid))  # [1, C / 8, 4E, 4E]
    return (mask_embedding @ upscaled.flatten(2)).reshape(4 * grid, 4 * grid)


@torch.inference_mode()
def test_cell_upscaling_equals_the_transposed_convolutions_on_the_grid_and_a_window(litemedsam_backend):
    decoder = litemedsam_backend.decoder
    upscaling = decoder.mask_decoder.output_upscaling
    grid = decoder.grid_size
    generator = torch.Generator().manual_seed(0)
    channels = decoder.key_pe.shape[-1]
    keys = torch.randn(1, grid * grid, channels, generator=generator)
    mask_embedding = torch.randn(1, channels // 8, generator=generator)
    expected = reference_logits(upscaling, mask_embedding, keys, grid)
    cells = CellUpscaling(upscaling)

    whole = window_logits(cells, mask_embedding, keys, grid, torch.arange(grid), torch.arange(grid))
    assert whole.shape == expected.shape
    assert (whole - expected).abs().max() < 1e-4 * expected.abs().max()

    rows, cols = torch.arange(5, 23), torch.arange(40, 64)  # 18 x 24 cells, touching the right border
    window = window_logits(cells, mask_embedding, keys, grid, rows, cols)
    assert window.shape == (4 * 18, 4 * 24)
    assert (window - expected[4 * 5:4 * 23, 4 * 40:]).abs().max() < 1e-4 * expected.abs().max()
