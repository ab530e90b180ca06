"""An exported ONNX graph run by OpenVINO's CPU plugin, behind the part of ONNX Runtime's
``InferenceSession`` interface that :mod:`onnx_backend` uses, so an encoder stage can run
on either runtime.

Why OpenVINO: on the CPU it runs the MedSAM / SAM ViT-B encoder graphs (the same files
ONNX Runtime runs) 0.76-0.88x the time of ONNX Runtime's CPU provider, in the
global-attention layers above all: one such layer took 0.63-0.72 s against ONNX
Runtime's 0.81-0.95 s; OpenVINO fuses the score product, the relative-position add,
the softmax and the value product into one kernel, where ONNX Runtime's profile spends
0.37 s building the [12, 4096, 4096] relative-position bias and adding it (issue 14,
``benchmarks/bench_onnx.py --vit-only``). LiteMedSAM's encoder gains little there
(0.93x) and holds about 470 MB more, so its backend keeps ONNX Runtime
(``OnnxBackend(openvino_encoder=False)``).

Numerics: fp32 inference is requested explicitly (on CPUs with AVX-512 BF16 or AMX,
OpenVINO would otherwise compute in bf16), so embeddings match torch's within the same
tolerance as ONNX Runtime's.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

OPENVINO_CPU = "OpenVINO CPU"  # how the provider lists name this runtime (not an ONNX Runtime provider)
_WAIT_STEP_MS = 20  # how often a running graph checks whether it was asked to stop

_core_lock = threading.Lock()
_cores: list = []


def openvino_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("openvino") is not None


def _core():
    """The process's one ``openvino.Core`` (made on first use)."""
    with _core_lock:
        if not _cores:
            import openvino

            _cores.append(openvino.Core())
        return _cores[0]


class _Output:
    def __init__(self, name: str) -> None:
        self.name = name


class OpenVinoSession:
    """One ONNX file compiled for OpenVINO's CPU plugin (fp32, latency mode, ``threads``
    inference threads). ``run`` is serialised: the graph has one infer request, whose
    buffers it keeps between runs (like ONNX Runtime's arena)."""

    def __init__(self, path: Path, threads: int) -> None:
        config = {"INFERENCE_NUM_THREADS": max(int(threads), 1), "INFERENCE_PRECISION_HINT": "f32",
                  "PERFORMANCE_HINT": "LATENCY"}
        self._compiled = _core().compile_model(str(path), "CPU", config)
        self._request = self._compiled.create_infer_request()
        self._output_names = [output.get_any_name() for output in self._compiled.outputs]
        self._lock = threading.Lock()

    def get_providers(self) -> list[str]:
        return [OPENVINO_CPU]

    def get_outputs(self) -> list[_Output]:
        return [_Output(name) for name in self._output_names]

    def run(self, output_names, feeds: dict, run_options=None) -> list[np.ndarray]:
        """Outputs (all when ``output_names`` is None, else those named, in that order)
        for ``feeds`` {input name: array}. ``run_options``: an object whose ``terminate``
        becomes True to stop the run (ONNX Runtime's RunOptions); a stopped run raises
        RuntimeError, as ONNX Runtime's does."""
        with self._lock:
            request = self._request
            request.start_async({name: np.ascontiguousarray(value) for name, value in feeds.items()})
            while not request.wait_for(_WAIT_STEP_MS):
                if run_options is not None and run_options.terminate:
                    request.cancel()
                    try:
                        request.wait()
                    except Exception:  # OpenVINO reports the cancelled run as an error: it is expected
                        pass
                    raise RuntimeError("the OpenVINO run was stopped (terminate)")
            names = self._output_names if output_names is None else list(output_names)
            return [np.array(request.get_tensor(name).data, copy=True) for name in names]
