"""MedSAM/SAM loading paths with tiny random-weight models: transformers folders,
original-format checkpoints converted on load, and the Hub download path (faked)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.engine.models import load_backend, load_original_checkpoint
from medsam_gui.engine.models.download import download_snapshot, model_folder
from medsam_gui.engine.models.sam_convert import convert_original_state_dict
from medsam_gui.engine.types import Prompts

from engine_testkit import TINY, tiny_original_sam, tiny_sam_config


def test_converted_original_checkpoint_gives_the_original_models_outputs(tmp_path):
    original = tiny_original_sam()
    checkpoint = tmp_path / "tiny_medsam_vit.pth"
    torch.save(original.state_dict(), checkpoint)
    backend = load_original_checkpoint(checkpoint, "medsam", torch.device("cpu"), config=tiny_sam_config())
    pixels = torch.rand(1, 3, TINY["image_size"], TINY["image_size"])
    with torch.no_grad():
        expected_features = original.image_encoder(pixels)
        ours = backend.model.vision_encoder(pixels).last_hidden_state
    assert torch.allclose(ours, expected_features, atol=1e-4)
    # the decoder through our backend against the original prompt encoder + decoder
    image = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    embedding = backend.encode(image)
    box = (10, 12, 40, 50)
    points, labels = np.array([[20.0, 30.0], [50.0, 8.0]]), np.array([1, 0])
    logits, score = backend.decode(embedding, Prompts(box_xyxy=box, points_xy=points, point_labels=labels))
    with torch.no_grad():
        sparse, dense = original.prompt_encoder(
            points=(torch.tensor(points[None], dtype=torch.float32), torch.tensor(labels[None])),
            boxes=torch.tensor([box], dtype=torch.float32), masks=None)
        expected_logits, expected_iou = original.mask_decoder(
            image_embeddings=embedding.features, image_pe=original.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=False)
    assert isinstance(logits, np.ndarray) and logits.dtype == np.float32 and logits.shape == (16, 16)
    assert np.allclose(logits, expected_logits[0, 0].numpy(), atol=1e-4)
    assert score == pytest.approx(float(expected_iou[0, 0]), abs=1e-5)


def test_conversion_renames_mlp_layers_by_depth():
    state = {f"mask_decoder.iou_prediction_head.layers.{i}.weight": torch.zeros(1) for i in range(3)}
    state["image_encoder.neck.0.weight"] = torch.zeros(1)
    state["pixel_mean"] = torch.zeros(3)
    converted = convert_original_state_dict(state)
    assert set(converted) == {
        "mask_decoder.iou_prediction_head.proj_in.weight",
        "mask_decoder.iou_prediction_head.layers.0.weight",
        "mask_decoder.iou_prediction_head.proj_out.weight",
        "vision_encoder.neck.conv1.weight",
    }


def test_a_non_sam_checkpoint_is_refused_in_words(tmp_path):
    bad = tmp_path / "weights.pth"
    torch.save({"encoder.weight": torch.zeros(2)}, bad)
    with pytest.raises(MedsamGuiError, match="not a segment-anything"):
        load_backend(str(bad), device="cpu")
    with pytest.raises(MedsamGuiError, match="unknown model"):
        load_backend(str(tmp_path / "missing"), device="cpu")


def test_saved_folder_loads_with_medsam_preprocessing(tiny_sam_folder):
    backend = load_backend(str(tiny_sam_folder), device="cpu")
    assert backend.style == "medsam" and backend.info.input_size == 64
    image = (np.random.default_rng(1).random((50, 80, 3)) * 255).astype(np.uint8)
    embedding = backend.encode(image)
    assert embedding.frame.content_size_hw == (64, 64)  # squashed, not padded
    logits, _ = backend.decode(embedding, Prompts(box_xyxy=(5, 5, 30, 40)))
    assert logits.shape == (16, 16)
    sam_folder = tiny_sam_folder.parent / "tiny-sam"
    shutil.copytree(tiny_sam_folder, sam_folder, dirs_exist_ok=True)
    assert load_backend(str(sam_folder), device="cpu").style == "sam"


def test_download_uses_the_fetcher_reports_progress_and_is_done_once(tiny_sam_folder):
    calls, progress = [], []

    def fake_fetch(repo_id, local_dir, allow_patterns, tqdm_class=None):
        calls.append(repo_id)
        shutil.copytree(tiny_sam_folder, local_dir, dirs_exist_ok=True)
        bar = tqdm_class(total=100, unit="B")
        bar.update(40)
        bar.update(60)
        bar.close()

    folder = download_snapshot("someone/medsam-tiny", progress=lambda done, total: progress.append((done, total)), fetch=fake_fetch)
    assert folder == model_folder("someone/medsam-tiny") and (folder / "config.json").is_file()
    assert progress == [(40, 100), (100, 100)]
    assert download_snapshot("someone/medsam-tiny", fetch=fake_fetch) == folder
    assert calls == ["someone/medsam-tiny"]


def test_offline_download_is_a_clear_error():
    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline_fetch(**kwargs):
        raise LocalEntryNotFoundError("offline")

    with pytest.raises(MedsamGuiError, match="needs internet access once"):
        download_snapshot("flaviagiammarino/medsam-vit-base", fetch=offline_fetch)


def hub_fake(repository):
    """A stand-in for ``snapshot_download`` serving the files of a local folder
    that match ``allow_patterns``, as the Hub does; records each call's patterns."""
    import fnmatch

    calls = []

    def fetch(repo_id, local_dir, allow_patterns, tqdm_class=None):
        calls.append(tuple(allow_patterns))
        for path in repository.iterdir():
            if any(fnmatch.fnmatch(path.name, pattern) for pattern in allow_patterns):
                target = model_folder(repo_id) / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)

    return fetch, calls


def test_a_repository_with_only_pytorch_bin_weights_downloads_and_loads(tmp_path):
    from transformers import SamModel

    from engine_testkit import randomise
    from medsam_gui.engine.models import load_transformers_folder

    model = SamModel(tiny_sam_config())
    randomise(model, seed=5)
    repository = tmp_path / "hub-repo"  # laid out as a pre-safetensors upload
    model.config.save_pretrained(repository)
    torch.save(model.state_dict(), repository / "pytorch_model.bin")
    fetch, calls = hub_fake(repository)
    folder = download_snapshot("someone/old-medsam", fetch=fetch)
    assert len(calls) == 2 and "*.safetensors" in calls[0] and calls[1] == ("pytorch_model*.bin",)
    backend = load_transformers_folder(folder, "medsam", "old-medsam", torch.device("cpu"))
    reference = model.mask_decoder.iou_prediction_head.proj_out.weight
    assert torch.equal(backend.model.mask_decoder.iou_prediction_head.proj_out.weight, reference)


def test_a_safetensors_repository_is_fetched_in_one_pass(tiny_sam_folder):
    fetch, calls = hub_fake(tiny_sam_folder)
    folder = download_snapshot("someone/new-medsam", fetch=fetch)
    assert len(calls) == 1 and list(folder.glob("*.safetensors"))


def test_a_repository_without_weights_is_reported_incomplete(tmp_path):
    repository = tmp_path / "config-only"
    repository.mkdir()
    (repository / "config.json").write_text("{}")
    fetch, _ = hub_fake(repository)
    with pytest.raises(MedsamGuiError, match="incomplete"):
        download_snapshot("someone/broken", fetch=fetch)


def test_fast_decoder_equals_transformers_own_heads():
    """SamBackend decodes through FastSamDecoder on the model's head weights; the
    result equals SamModel's own prompt encoder + mask decoder, mask input included."""
    from transformers import SamModel

    from engine_testkit import randomise
    from medsam_gui.engine.models.sam_hf import SamBackend

    model = SamModel(tiny_sam_config())
    randomise(model, seed=11)
    tiny_backend = SamBackend(model, "medsam", "tiny", "tiny", "memory", "none", "tiny:1", torch.device("cpu"))
    image = (np.random.default_rng(2).random((60, 70, 3)) * 255).astype(np.uint8)
    embedding = tiny_backend.encode(image)
    frame = embedding.frame
    box, points, labels = (8, 6, 50, 44), np.array([[30.0, 20.0], [12.0, 40.0]]), np.array([1, 0])
    mask_logits = np.random.default_rng(3).normal(size=(16, 16)).astype(np.float32)
    for prompts in (Prompts(box_xyxy=box), Prompts(box_xyxy=box, points_xy=points, point_labels=labels),
                    Prompts(points_xy=points, point_labels=labels, mask_logits=mask_logits)):
        logits, score = tiny_backend.decode(embedding, prompts)
        with torch.no_grad():
            model_points = model_labels = model_boxes = model_masks = None
            if prompts.points_xy is not None:
                model_points = torch.tensor(frame.to_model_xy(prompts.points_xy), dtype=torch.float32).reshape(1, 1, -1, 2)
                model_labels = torch.tensor(prompts.point_labels).reshape(1, 1, -1)
            if prompts.box_xyxy is not None:
                model_boxes = torch.tensor(frame.box_to_model(prompts.box_xyxy), dtype=torch.float32).reshape(1, 1, 4)
            if prompts.mask_logits is not None:
                model_masks = torch.from_numpy(prompts.mask_logits)[None, None]
            sparse, dense = model.prompt_encoder(input_points=model_points, input_labels=model_labels,
                                                 input_boxes=model_boxes, input_masks=model_masks)
            expected, iou = model.mask_decoder(
                image_embeddings=embedding.features, image_positional_embeddings=model.get_image_wide_positional_embeddings(),
                sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=False)
        assert np.allclose(logits, expected.reshape(logits.shape).numpy(), atol=1e-4)
        assert score == pytest.approx(float(iou.reshape(-1)[0]), abs=1e-5)
