"""FastVitLayer (engine/models/fast_vit.py), the exact rewrite of SAM's ViT layer used by
the ONNX export: the same output as transformers' layer, with window padding (grid 5,
window 3: padded to 6, so padded keys / values are attended to) and without, with and
without a qkv bias; and the exported stage graphs equal the torch encoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from engine_testkit import randomise


def vision_encoder(qkv_bias: bool = True, window: int = 3):
    """A random-weight SAM vision encoder: 80 px, 16 px patches (a 5 x 5 grid), 3 layers,
    the middle one global; every parameter (relative positions included) non-zero."""
    from transformers import SamVisionConfig
    from transformers.models.sam.modeling_sam import SamVisionEncoder

    config = SamVisionConfig(hidden_size=32, output_channels=16, num_hidden_layers=3, num_attention_heads=2,
                             image_size=80, patch_size=16, window_size=window, global_attn_indexes=[1], mlp_dim=48,
                             qkv_bias=qkv_bias)
    torch.manual_seed(0)
    encoder = SamVisionEncoder(config).eval()
    randomise(encoder, seed=5)
    return encoder


@pytest.mark.parametrize(("qkv_bias", "window"), [(True, 3), (False, 3), (True, 5)])
def test_fast_layer_equals_the_original_layer(qkv_bias, window):
    from medsam_gui.engine.models.fast_vit import FastVitLayer

    encoder = vision_encoder(qkv_bias, window)
    hidden = torch.randn(2, 5, 5, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for layer in encoder.layers:
            expected = layer(hidden)
            expected = expected[0] if isinstance(expected, tuple) else expected
            ours = FastVitLayer(layer)(hidden)
            assert ours.shape == expected.shape
            assert (ours - expected).abs().max() < 1e-5 * max(1.0, float(expected.abs().max()))


def test_the_padding_carries_the_qkv_bias():
    """Zero padding after qkv (not the bias) changes the output: the test above can fail."""
    from medsam_gui.engine.models.fast_vit import FastVitLayer

    layer = vision_encoder().layers[0]
    hidden = torch.randn(1, 5, 5, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = layer(hidden)
        expected = expected[0] if isinstance(expected, tuple) else expected
        zero_padded = FastVitLayer(layer)
        zero_padded._pad_with_bias = lambda qkv, pad_h, pad_w: torch.nn.functional.pad(qkv, (0, 0, 0, pad_w, 0, pad_h))
        assert (zero_padded(hidden) - expected).abs().max() > 1e-3


def test_exported_stage_graphs_equal_the_torch_encoder(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    from medsam_gui.engine.models.onnx_export import encoder_specs, export_graph, vit_encoder_stages

    encoder = vision_encoder()
    pixels = torch.randn(1, 3, 80, 80, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = encoder(pixels).last_hidden_state.numpy()
    values = pixels.numpy()
    for spec in encoder_specs(vit_encoder_stages(encoder), 80):
        path = tmp_path / f"{spec.name}.onnx"
        export_graph(spec, path)
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        values = session.run(None, {"input": values})[0]
    assert values.shape == expected.shape
    assert np.abs(values - expected).max() < 1e-4 * max(1.0, float(np.abs(expected).max()))


def test_raising_the_vit_encoder_format_exports_vit_models_again_and_litemedsam_not(monkeypatch):
    from medsam_gui.engine.models import onnx_export

    vit_key, lite_key = (onnx_export.export_key("a" * 64, kind)[0] for kind in ("sam-vit:medsam", "litemedsam"))
    monkeypatch.setattr(onnx_export, "VIT_ENCODER_FORMAT", onnx_export.VIT_ENCODER_FORMAT + "-next")
    assert onnx_export.export_key("a" * 64, "sam-vit:medsam")[0] != vit_key
    assert onnx_export.export_key("a" * 64, "litemedsam")[0] == lite_key
