"""OpenVINO's CPU plugin as the runtime of the ViT encoder graphs: the same embeddings
and masks as torch, chosen by ``auto`` on a CPU, skipped for the next runtime when it
fails to start, and stoppable in the middle of a graph like ONNX Runtime's runs."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from engine_testkit import assert_tiny_vit_equals_torch

from medsam_gui.engine.models import load_backend, onnx_backend, onnx_export, openvino_session
from medsam_gui.engine.models.openvino_session import OPENVINO_CPU, OpenVinoSession

CPU = "CPUExecutionProvider"


def test_tiny_vit_on_openvino_equals_torch(tiny_sam_folder, tiny_backend):
    ours = load_backend(str(tiny_sam_folder), device="onnx-openvino", export_progress=lambda *call: None)
    assert ours.provider == OPENVINO_CPU and ours.decoder_provider == CPU
    assert ours.info.device == "OpenVINO CPU encoder, onnxruntime CPUExecutionProvider decoder"
    assert all(isinstance(session, OpenVinoSession) for session in ours.encoder_sessions)
    assert_tiny_vit_equals_torch(ours, tiny_backend)


def test_auto_on_a_cpu_runs_a_vit_encoder_on_openvino(tiny_sam_folder, monkeypatch):
    from medsam_gui.engine.models import device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device, "mps_available", lambda: False)
    backend = load_backend(str(tiny_sam_folder), device="auto", export_progress=lambda *call: None)
    assert backend.provider == OPENVINO_CPU and backend.decoder_provider == CPU


def test_openvino_that_fails_to_start_falls_back_to_onnxruntime(tiny_sam_folder, monkeypatch):
    class BrokenCore:
        def compile_model(self, *args, **kwargs):
            raise RuntimeError("Device with \"CPU\" name is not registered in the OpenVINO Runtime")

    monkeypatch.setattr(openvino_session, "_core", lambda: BrokenCore())
    backend = load_backend(str(tiny_sam_folder), device="onnx-openvino", export_progress=lambda *call: None)
    assert backend.provider == CPU and backend.info.device == "onnxruntime CPUExecutionProvider"
    assert "not registered" in backend.provider_failures[OPENVINO_CPU]
    image = (np.random.default_rng(2).random((40, 40, 3)) * 255).astype(np.uint8)
    assert backend.encode(image).features.shape[0] == 1


class MatmulChain(torch.nn.Module):
    """``[512, 1024]`` -> ``[512, 1024]`` through 64 products: long enough to stop in the middle."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.weights = torch.nn.ParameterList(
            torch.nn.Parameter(torch.randn(1024, 1024, generator=generator) / 32) for _ in range(64))

    def forward(self, values):
        for weight in self.weights:
            values = torch.tanh(values @ weight)
        return values


def test_a_stopped_run_raises_and_the_session_runs_again(tmp_path):
    import onnxruntime

    path = tmp_path / "chain.onnx"
    example = torch.randn(512, 1024)
    onnx_export.export_graph(onnx_export.GraphSpec("chain", MatmulChain().eval(), (example,), ("input",), ("output",)), path)
    session = OpenVinoSession(path, threads=2)
    options = onnxruntime.RunOptions()
    options.terminate = True  # asked to stop before it starts: the run stops at its first check
    with pytest.raises(RuntimeError, match="stopped"):
        session.run(None, {"input": example.numpy()}, options)
    # a run stopped from another thread while it runs
    running, stop = threading.Event(), threading.Event()

    class StopWhenAsked:
        @property
        def terminate(self):
            running.set()  # the run polls this while it is under way
            return stop.is_set()

    outcome = []

    def run_until_stopped():
        try:
            session.run(None, {"input": example.numpy()}, StopWhenAsked())
            outcome.append("finished")
        except RuntimeError as error:
            outcome.append(str(error))

    worker = threading.Thread(target=run_until_stopped)
    worker.start()
    assert running.wait(60)
    stop.set()
    worker.join(60)
    assert not worker.is_alive() and len(outcome) == 1 and "stopped" in outcome[0]
    # the session still runs, and equals ONNX Runtime
    ours = session.run(None, {"input": example.numpy()})[0]
    reference = onnxruntime.InferenceSession(str(path), providers=[CPU]).run(None, {"input": example.numpy()})[0]
    assert ours.shape == (512, 1024) and np.abs(ours - reference).max() < 1e-4


def test_models_command_lists_openvino(capsys):
    from medsam_gui.cli import main

    assert main(["models", "--runtimes"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("onnx-openvino"))
    assert line.split()[1] == "yes" and "openvino" in line
    assert onnx_backend.available_providers()[-2:] == [OPENVINO_CPU, CPU]
