"""The ONNX Runtime backend against the torch reference: the same embeddings and masks
on real slices, exported once and reused, never loaded half-written, on the first
execution provider that starts."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from engine_testkit import assert_tiny_vit_equals_torch, box_of, dice

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.engine import Engine
from medsam_gui.engine.cache import EmbeddingCache
from medsam_gui.engine.headless import predict_blocking
from medsam_gui.engine.types import Prompts

onnxruntime = pytest.importorskip("onnxruntime")

from medsam_gui.engine.models import onnx_backend, onnx_export  # noqa: E402

CPU = "CPUExecutionProvider"


@pytest.fixture(scope="session")
def onnx_cache_dir(tmp_path_factory):
    """A user cache folder holding the LiteMedSAM export, made once per test session."""
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="session")
def lite_onnx(onnx_cache_dir):
    """(LiteMedSAM ONNX backend on the CPU provider, the export progress calls) exported once."""
    calls = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDSAM_GUI_CACHE_DIR", str(onnx_cache_dir))
        backend = onnx_backend.load_lite_medsam_onnx([CPU], export_progress=lambda *call: calls.append(call))
    return backend, calls


def real_cases(data_root):
    """(volume, slice_index, truth) on a few real slices: CT organs and a PNG lesion."""
    from PIL import Image

    from medsam_gui.core.volume import Volume
    from medsam_gui.io.load import open_volume
    from medsam_gui.io.resample import resample_onto

    volume = open_volume(data_root / "dcmqi" / "ct-3slice")
    for organ, slice_index in (("liver", 1), ("spine", 0), ("heart", 2)):
        labels = resample_onto(volume, data_root / "dcmqi" / f"{organ}_seg.nrrd") > 0
        if labels[slice_index].sum() >= 20:
            yield volume, slice_index, labels[slice_index]
    image = np.asarray(Image.open(data_root / "sammed2d" / "images" / "amos_0006_90.png").convert("RGB"))
    truth = np.asarray(Image.open(data_root / "sammed2d" / "masks" / "amos_0006_90_aorta_000.png").convert("L")) > 0
    yield Volume(image[None]), 0, truth


# -- against the torch reference -------------------------------------------------------


@pytest.mark.slow
def test_export_reports_progress_and_names_the_provider(lite_onnx):
    backend, calls = lite_onnx
    assert calls and calls[-1][0] == "done" and calls[-1][1] == calls[-1][2] == 14  # 12 encoder stages + 2 decoder graphs
    assert backend.provider == CPU
    assert backend.info.device == "onnxruntime CPUExecutionProvider"
    assert backend.model_id.startswith("litemedsam:")


@pytest.mark.slow
def test_embedding_equals_torch_on_a_real_slice(lite_onnx, litemedsam_backend, data_root):
    from medsam_gui.core.window import default_model_input_preset, resolve_model_input, to_model_input
    from medsam_gui.io.load import open_volume

    backend, _ = lite_onnx
    volume = open_volume(data_root / "dcmqi" / "ct-3slice")
    preset = resolve_model_input(default_model_input_preset(volume.voxels, volume.modality), volume.voxels)
    image = to_model_input(volume.slice(1), preset)
    pauses = []
    ours = backend.encode(image, between_blocks=lambda: pauses.append(1))
    reference = litemedsam_backend.encode(image)
    assert ours.features.shape == reference.features.shape == (1, 256, 64, 64)
    assert ours.features.dtype == np.float32
    assert ours.frame == reference.frame
    assert np.abs(backend.features_to_array(ours.features) - litemedsam_backend.features_to_array(reference.features)).max() < 1e-4
    assert len(pauses) == 11  # between the 12 stage graphs


@pytest.mark.slow
def test_masks_equal_torch_on_real_slices(lite_onnx, litemedsam_backend, data_root):
    backend, _ = lite_onnx
    assert backend.mask_threshold_logit == litemedsam_backend.mask_threshold_logit
    engines = [Engine(b, EmbeddingCache(128)) for b in (backend, litemedsam_backend)]
    cases = list(real_cases(data_root))
    assert len(cases) >= 3
    for volume, slice_index, truth in cases:
        for engine in engines:
            engine.set_volume(volume)
        box = box_of(truth)
        ours, reference = (predict_blocking(engine, slice_index, box_xyxy=box) for engine in engines)
        assert ours.crop == reference.crop
        assert dice(ours.mask, reference.mask) >= 0.998
        assert ours.score == pytest.approx(reference.score, abs=1e-3)
        # a corrective click with the previous logits (the mask-prompt path)
        rows, cols = np.nonzero(truth)
        click = [[int(cols.mean()), int(rows.mean())]]
        refined = [predict_blocking(engine, slice_index, box_xyxy=box, points_xy=click, point_labels=[1], mask_input=previous)
                   for engine, previous in zip(engines, (ours, reference))]
        assert dice(refined[0].mask, refined[1].mask) >= 0.998


@pytest.mark.slow
def test_decode_logits_equal_torch_for_points_boxes_and_masks(lite_onnx, litemedsam_backend):
    backend, _ = lite_onnx
    image = (np.random.default_rng(5).random((300, 400, 3)) * 255).astype(np.uint8)
    ours, reference = backend.encode(image), litemedsam_backend.encode(image)
    prompt_sets = [
        Prompts(box_xyxy=(40, 60, 250, 200)),
        Prompts(points_xy=np.array([[100.0, 120.0], [30.0, 40.0]]), point_labels=np.array([1, 0])),
        Prompts(box_xyxy=(40, 60, 250, 200), points_xy=np.array([[100.0, 120.0]]), point_labels=np.array([0])),
    ]
    for prompts in prompt_sets:
        logits, score = backend.decode(ours, prompts)
        expected, expected_score = litemedsam_backend.decode(reference, prompts)
        assert logits.shape == expected.shape == (256, 256)
        assert logits.dtype == expected.dtype == np.float32
        assert np.abs(logits - expected).max() < 1e-3
        assert score == pytest.approx(expected_score, abs=1e-4)
        with_mask = Prompts(prompts.box_xyxy, prompts.points_xy, prompts.point_labels, expected)
        logits, _ = backend.decode(ours, with_mask)
        expected, _ = litemedsam_backend.decode(reference, with_mask)
        assert np.abs(logits - expected).max() < 1e-3


@pytest.mark.slow
def test_a_box_window_and_its_whole_grid_fallback_equal_torch(lite_onnx, litemedsam_backend, data_root, monkeypatch):
    """decoder_prompt upscales the window it is given; the backend decodes the whole grid
    again when the window's edge holds mask (here: a window without margin)."""
    from medsam_gui.core.window import default_model_input_preset, resolve_model_input, to_model_input
    from medsam_gui.engine.models import decoder_window
    from medsam_gui.engine.types import Embedding

    backend, _ = lite_onnx
    volume, slice_index, liver = next(real_cases(data_root))
    preset = resolve_model_input(default_model_input_preset(volume.voxels, volume.modality), volume.voxels)
    reference = litemedsam_backend.encode(to_model_input(volume.slice(slice_index), preset))
    ours = Embedding(litemedsam_backend.features_to_array(reference.features), reference.frame)
    prompts = Prompts(box_xyxy=box_of(liver))
    logits, _ = backend.decode(ours, prompts)
    expected, _ = litemedsam_backend.decode(reference, prompts)
    assert (logits == decoder_window.OUTSIDE_LOGIT).any() and np.abs(logits - expected).max() < 1e-3
    with monkeypatch.context() as patch:
        patch.setattr(decoder_window, "WINDOW_MARGIN_CELLS", 64)
        whole_grid, _ = litemedsam_backend.decode(reference, prompts)
    monkeypatch.setattr(decoder_window, "WINDOW_MARGIN_CELLS", 0)
    window = decoder_window.GridWindow.for_prompts(ours.frame, prompts, 64)
    window_part = whole_grid[4 * window.row_start:4 * window.row_stop, 4 * window.col_start:4 * window.col_stop]
    assert window.reaches_edge(window_part, backend.mask_threshold_logit)
    logits, _ = backend.decode(ours, prompts)
    assert np.abs(logits - whole_grid).max() < 1e-3


@pytest.mark.slow
def test_first_block_is_cached_per_embedding_and_freed_with_it(lite_onnx):
    import gc

    backend, _ = lite_onnx
    gc.collect()  # embeddings of earlier tests that wait only for the cycle collector are gone first
    embedding = backend.encode((np.random.default_rng(6).random((128, 160, 3)) * 255).astype(np.uint8))
    first, _ = backend.decode(embedding, Prompts(box_xyxy=(10, 10, 90, 70)))
    entries = len(backend._first_blocks)
    again, _ = backend.decode(embedding, Prompts(box_xyxy=(10, 10, 90, 70)))
    assert np.array_equal(first, again) and len(backend._first_blocks) == entries
    del embedding
    gc.collect()
    assert len(backend._first_blocks) == entries - 1


# -- export once, reuse, never load a half-written export -----------------------------------


@pytest.mark.slow
def test_second_load_exports_nothing(lite_onnx, onnx_cache_dir, monkeypatch):
    backend, _ = lite_onnx
    monkeypatch.setenv("MEDSAM_GUI_CACHE_DIR", str(onnx_cache_dir))
    calls = []
    started = time.perf_counter()
    again = onnx_backend.load_lite_medsam_onnx([CPU], export_progress=lambda *call: calls.append(call))
    assert calls == []
    assert again.export.folder == backend.export.folder
    assert time.perf_counter() - started < 30
    manifest = json.loads((backend.export.folder / "manifest.json").read_text())
    assert manifest["torch"] == torch.__version__ and manifest["onnxruntime"] == onnxruntime.__version__
    assert "weights sha256" in manifest["key_text"]


def test_export_key_covers_weights_and_versions(monkeypatch):
    key, text = onnx_export.export_key("a" * 64, "litemedsam")
    assert key != onnx_export.export_key("b" * 64, "litemedsam")[0]
    assert key != onnx_export.export_key("a" * 64, "sam-vit:medsam")[0]
    monkeypatch.setattr(onnxruntime, "__version__", "0.0.1-other")
    assert onnx_export.export_key("a" * 64, "litemedsam")[0] != key
    monkeypatch.setattr(torch, "__version__", "0.0.1-other")
    assert "torch 0.0.1-other" in onnx_export.export_key("a" * 64, "litemedsam")[1]


@pytest.mark.slow
def test_truncated_export_is_never_loaded(lite_onnx, tmp_path, monkeypatch):
    backend, _ = lite_onnx
    monkeypatch.setenv("MEDSAM_GUI_CACHE_DIR", str(tmp_path))
    key = backend.export.folder.name
    shutil.copytree(backend.export.folder, tmp_path / "onnx" / key)
    assert onnx_export.find_export(key) is not None
    victim = tmp_path / "onnx" / key / "encoder_05.onnx"
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    assert onnx_export.find_export(key) is None
    (tmp_path / "onnx" / key / "encoder_05.onnx").unlink()
    assert onnx_export.find_export(key) is None
    shutil.rmtree(tmp_path / "onnx" / key)
    shutil.copytree(backend.export.folder, tmp_path / "onnx" / key)
    (tmp_path / "onnx" / key / "manifest.json").unlink()  # killed before the manifest: not an export
    assert onnx_export.find_export(key) is None


def tiny_linear_specs(scale: float = 1.0):
    linear = torch.nn.Linear(4, 3)
    with torch.no_grad():
        linear.weight.fill_(scale)
        linear.bias.zero_()
    return [onnx_export.GraphSpec("encoder_00", linear, (torch.ones(1, 4),), ("input",), ("output",))]


def test_partial_and_broken_exports_are_replaced_not_loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDSAM_GUI_CACHE_DIR", str(tmp_path))
    root = onnx_export.export_root()
    # a leftover of a killed export, and a published folder with a truncated graph
    (root / ".k1.partial-999-dead").mkdir()
    (root / ".k1.partial-999-dead" / "encoder_00.onnx").write_bytes(b"half")
    (root / "k1").mkdir()
    (root / "k1" / "encoder_00.onnx").write_bytes(b"trunc")
    (root / "k1" / "manifest.json").write_text(json.dumps({"key": "k1", "files": {"encoder_00.onnx": 9999}, "order": ["encoder_00"]}))
    calls = []
    export, made = onnx_export.ensure_export("k1", "test", tiny_linear_specs, {"input_size": 4},
                                             lambda *call: calls.append(call))
    assert made and calls[-1] == ("done", 1, 1)
    session = onnxruntime.InferenceSession(str(export.path("encoder_00")), providers=[CPU])
    assert session.run(None, {"input": np.ones((1, 4), np.float32)})[0].tolist() == [[4.0, 4.0, 4.0]]
    again, made = onnx_export.ensure_export("k1", "test", lambda: pytest.fail("exported twice"), {})
    assert not made and again.folder == export.folder


def test_failed_export_publishes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDSAM_GUI_CACHE_DIR", str(tmp_path))

    def broken_specs():
        specs = tiny_linear_specs()
        specs.append(onnx_export.GraphSpec("encoder_01", object(), (torch.ones(1, 4),), ("input",), ("output",)))
        return specs

    with pytest.raises(MedsamGuiError, match="ONNX export failed"):
        onnx_export.ensure_export("k2", "test", broken_specs, {}, lambda *call: None)
    assert onnx_export.find_export("k2") is None
    assert list(onnx_export.export_root().iterdir()) == []


def test_bundled_export_with_the_matching_key_is_used_and_a_mismatching_one_ignored(tmp_path, monkeypatch):
    bundled, cache = tmp_path / "bundled", tmp_path / "cache"
    onnx_export.ensure_export("k4", "test", tiny_linear_specs, {"input_size": 4}, lambda *call: None, into=bundled)
    monkeypatch.setenv("MEDSAM_GUI_CACHE_DIR", str(cache))
    monkeypatch.setenv(onnx_export.BUNDLED_EXPORTS_ENV, str(bundled))
    export, made = onnx_export.ensure_export("k4", "test", lambda: pytest.fail("exported although bundled"), {})
    assert not made and export.folder == bundled / "k4" and export.meta == {"input_size": 4}
    assert list(onnx_export.export_root().iterdir()) == []  # nothing written to the user cache
    # another key (other weights, torch or onnxruntime): exported into the user cache as without a bundle
    shutil.copytree(bundled / "k4", bundled / "k5")  # a folder named k5 whose manifest says k4: not k5's export
    calls = []
    export, made = onnx_export.ensure_export("k5", "test", lambda: tiny_linear_specs(2.0), {}, lambda *call: calls.append(call))
    assert made and calls and export.folder == cache / "onnx" / "k5"
    session = onnxruntime.InferenceSession(str(export.path("encoder_00")), providers=[CPU])
    assert session.run(None, {"input": np.ones((1, 4), np.float32)})[0].tolist() == [[8.0, 8.0, 8.0]]
    assert sorted(path.name for path in bundled.iterdir()) == ["k4", "k5"]  # the bundle is only read


def test_frozen_app_looks_for_bundled_exports_in_its_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(onnx_export.BUNDLED_EXPORTS_ENV, raising=False)
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    assert onnx_export.bundled_export_root() is None  # a source install ships none
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert onnx_export.bundled_export_root() == tmp_path / onnx_export.BUNDLED_EXPORTS_FOLDER


@pytest.mark.slow
def test_bundled_lite_medsam_export_makes_the_first_start_export_nothing(lite_onnx, tmp_path, monkeypatch):
    backend, _ = lite_onnx
    bundled = tmp_path / "onnx-exports"
    shutil.copytree(backend.export.folder, bundled / backend.export.folder.name)
    monkeypatch.setenv("MEDSAM_GUI_CACHE_DIR", str(tmp_path / "fresh-cache"))
    monkeypatch.setenv(onnx_export.BUNDLED_EXPORTS_ENV, str(bundled))
    calls = []
    first_start = onnx_backend.load_lite_medsam_onnx([CPU], export_progress=lambda *call: calls.append(call))
    assert calls == [] and first_start.export.folder == bundled / backend.export.folder.name
    assert not (tmp_path / "fresh-cache" / "onnx").exists() or not any((tmp_path / "fresh-cache" / "onnx").iterdir())


KILLED_EXPORT = """
import sys, time, torch
from medsam_gui.engine.models import onnx_export

class Slow(torch.nn.Module):
    def forward(self, x):
        time.sleep(120)  # tracing runs forward: the export is killed here
        return x * 2

specs = lambda: [onnx_export.GraphSpec("encoder_00", torch.nn.Identity(), (torch.ones(1, 4),), ("input",), ("output",)),
                 onnx_export.GraphSpec("encoder_01", Slow(), (torch.ones(1, 4),), ("input",), ("output",))]
onnx_export.ensure_export("k3", "test", specs, {}, lambda step, done, total: print(step, flush=True))
"""


@pytest.mark.slow
def test_killed_export_leaves_nothing_loadable(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDSAM_GUI_CACHE_DIR", str(tmp_path))
    process = subprocess.Popen([sys.executable, "-c", KILLED_EXPORT], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "MEDSAM_GUI_CACHE_DIR": str(tmp_path)})
    try:
        for line in process.stdout:
            if line.startswith("exporting encoder_01"):
                break
        time.sleep(1.0)  # encoder_00.onnx is written, encoder_01 is being traced
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    root = tmp_path / "onnx"
    partials = list(root.glob(".k3.partial-*"))
    assert partials and (partials[0] / "encoder_00.onnx").is_file()
    assert not (root / "k3").exists()
    assert onnx_export.find_export("k3") is None
    export, made = onnx_export.ensure_export("k3", "test", tiny_linear_specs, {}, lambda *call: None)
    assert made and export.folder == root / "k3"


# -- providers: order, selection, fallback ------------------------------------------------


def test_available_providers_in_preference_order(monkeypatch):
    from medsam_gui.engine.models import openvino_session

    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["AzureExecutionProvider", CPU, "CoreMLExecutionProvider", "CUDAExecutionProvider", "DmlExecutionProvider"])
    monkeypatch.setattr(onnx_backend, "openvino_installed", lambda: True)
    assert onnx_backend.available_providers() == ["CUDAExecutionProvider", "DmlExecutionProvider", "CoreMLExecutionProvider",
                                                  openvino_session.OPENVINO_CPU, CPU]
    assert onnx_backend.providers_for_device("onnx-dml") == ["DmlExecutionProvider", CPU]
    assert onnx_backend.providers_for_device("onnx-openvino") == [openvino_session.OPENVINO_CPU, CPU]
    assert onnx_backend.providers_for_device("onnx-cpu") == [CPU]
    monkeypatch.setattr(onnx_backend, "openvino_installed", lambda: False)
    assert openvino_session.OPENVINO_CPU not in onnx_backend.available_providers()
    with pytest.raises(MedsamGuiError, match="openvino package is not installed"):
        onnx_backend.providers_for_device("onnx-openvino")


def test_device_choices_resolve(monkeypatch):
    from medsam_gui.engine.models import device

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: [CPU])
    monkeypatch.setattr(onnx_backend, "openvino_installed", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device, "mps_available", lambda: False)
    assert device.resolve_device("auto") == device.DeviceChoice("onnx", "auto", (CPU,))
    monkeypatch.setattr(onnx_backend, "openvino_installed", lambda: True)
    assert device.resolve_device("auto") == device.DeviceChoice("onnx", "auto", (onnx_backend.OPENVINO_CPU, CPU))
    assert device.resolve_device("cpu").runtime == "torch" and device.resolve_device("torch-cpu").torch_device == "cpu"
    with pytest.raises(MedsamGuiError, match="no CUDAExecutionProvider"):
        device.resolve_device("onnx-cuda")
    with pytest.raises(MedsamGuiError, match="unknown device"):
        device.resolve_device("tpu")
    # a GPU provider wins over torch; torch on a GPU wins over ONNX Runtime on the CPU
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["DmlExecutionProvider", CPU])
    assert device.resolve_device("auto").providers == ("DmlExecutionProvider", onnx_backend.OPENVINO_CPU, CPU)
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: [CPU])
    monkeypatch.setattr(device, "mps_available", lambda: True)
    assert device.resolve_device("auto") == device.DeviceChoice("torch", "auto", torch_device="mps")


def failing_provider_factory(failing: str):
    def factory(path, provider, options):
        if provider == failing:
            raise RuntimeError(f"{failing} could not start: no driver")
        return onnxruntime.InferenceSession(str(path), options, providers=[provider])

    return factory


def test_a_provider_that_fails_to_start_falls_back_to_the_next(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDSAM_GUI_CACHE_DIR", str(tmp_path))
    export, _ = onnx_export.ensure_export("k4", "test", tiny_linear_specs, {}, lambda *call: None)
    paths = [export.path("encoder_00")]
    sessions, provider, failures = onnx_backend.open_sessions(
        paths, ["FakeGpuExecutionProvider", CPU], session_factory=failing_provider_factory("FakeGpuExecutionProvider"))
    assert provider == CPU and len(sessions) == 1
    assert "no driver" in failures["FakeGpuExecutionProvider"]
    with pytest.raises(MedsamGuiError, match="no ONNX Runtime provider"):
        onnx_backend.open_sessions(paths, ["FakeGpuExecutionProvider"],
                                   session_factory=failing_provider_factory("FakeGpuExecutionProvider"))


def test_a_provider_onnxruntime_silently_drops_counts_as_failed(tmp_path, monkeypatch):
    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime can start CUDA")
    monkeypatch.setenv("MEDSAM_GUI_CACHE_DIR", str(tmp_path))
    export, _ = onnx_export.ensure_export("k5", "test", tiny_linear_specs, {}, lambda *call: None)
    _, provider, failures = onnx_backend.open_sessions([export.path("encoder_00")], ["CUDAExecutionProvider", CPU])
    assert provider == CPU and "CUDAExecutionProvider" in failures


@pytest.mark.slow
def test_backend_falls_back_from_a_failing_provider_and_says_which_runs(lite_onnx, onnx_cache_dir, monkeypatch):
    monkeypatch.setenv("MEDSAM_GUI_CACHE_DIR", str(onnx_cache_dir))
    backend = onnx_backend.load_lite_medsam_onnx(["FakeGpuExecutionProvider", CPU], export_progress=lambda *call: None,
                                                 session_factory=failing_provider_factory("FakeGpuExecutionProvider"))
    assert backend.provider == CPU and backend.info.device == "onnxruntime CPUExecutionProvider"
    assert "FakeGpuExecutionProvider" in backend.provider_failures


@pytest.mark.slow
def test_litemedsam_stays_on_onnxruntime_when_openvino_is_offered(lite_onnx, onnx_cache_dir, monkeypatch):
    """OpenVINO runs only the ViT encoders: LiteMedSAM's is as fast on ONNX Runtime and
    holds less memory there (engine/models/openvino_session.py)."""
    monkeypatch.setenv("MEDSAM_GUI_CACHE_DIR", str(onnx_cache_dir))
    backend = onnx_backend.load_lite_medsam_onnx([onnx_backend.OPENVINO_CPU, CPU], export_progress=lambda *call: None)
    assert backend.provider == backend.decoder_provider == CPU
    assert backend.info.device == "onnxruntime CPUExecutionProvider" and not backend.provider_failures


def test_auto_falls_back_to_torch_when_onnx_cannot_load(tiny_sam_folder, monkeypatch, capsys):
    from medsam_gui.engine import models
    from medsam_gui.engine.models.sam_hf import SamBackend

    def refuse(*args, **kwargs):
        raise MedsamGuiError("export impossible here")

    monkeypatch.setattr(models, "load_onnx_backend", refuse)
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: [CPU])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert isinstance(models.load_backend(str(tiny_sam_folder), device="auto"), SamBackend)
    assert "export impossible here" in capsys.readouterr().err
    with pytest.raises(MedsamGuiError, match="export impossible"):
        models.load_backend(str(tiny_sam_folder), device="onnx-cpu")


# -- SAM / MedSAM ViT through transformers (a tiny random model: the same code path) --------


def test_tiny_sam_onnx_equals_torch(tiny_sam_folder, tiny_backend):
    from medsam_gui.engine.models import load_backend

    calls = []
    ours = load_backend(str(tiny_sam_folder), device="onnx-cpu", export_progress=lambda *call: calls.append(call))
    assert calls and ours.info.device == "onnxruntime CPUExecutionProvider"
    assert ours.model_id == tiny_backend.model_id
    assert ours.preprocessing_signature == tiny_backend.preprocessing_signature
    assert_tiny_vit_equals_torch(ours, tiny_backend)
    calls.clear()
    load_backend(str(tiny_sam_folder), device="onnx-cpu", export_progress=lambda *call: calls.append(call))
    assert calls == []  # exported once


# -- the command line ---------------------------------------------------------------------


def test_models_command_lists_providers(capsys):
    from medsam_gui.cli import main

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "onnx-cpu" in out and "CPUExecutionProvider" in out and "--device auto picks:" in out
    line = next(line for line in out.splitlines() if line.startswith("onnx-cpu"))
    assert line.split()[1] == "yes"
    assert main(["models", "--json", "--runtimes"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {"device": "onnx-cpu", "runtime": "onnxruntime", "provider": CPU, "available": True} in listed
    assert main(["models", "--json"]) == 0  # the models list keeps its format
    assert {entry["name"] for entry in json.loads(capsys.readouterr().out)} >= {"litemedsam", "medsam", "sam"}


def test_segment_accepts_the_onnx_device_choices():
    from medsam_gui.cli import build_subcommand_parser

    for name in ("onnx", "onnx-cpu", "onnx-cuda", "onnx-dml", "onnx-coreml", "torch-cpu", "cpu", "cuda", "mps", "auto"):
        args = build_subcommand_parser("segment").parse_args(["scan.nii.gz", "--box", "0", "0", "1", "1", "--device", name, "-o", "x.nii.gz"])
        assert args.device == name
