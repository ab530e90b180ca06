"""Pick the runtime and device: ONNX Runtime (with an execution provider) or torch.

``--device`` values (one scheme for every command, the GUI and ``Engine.create``):

* ``auto`` (default): ONNX Runtime on a GPU provider when this onnxruntime build has
  one (CUDA, then DirectML, then CoreML); else torch on CUDA or Apple MPS; else the
  exported graphs on the CPU when onnxruntime is installed (a ViT encoder on OpenVINO
  when ``openvino`` is installed too, everything else on ONNX Runtime); else torch on
  the CPU. When the ONNX path cannot load a model (no export possible), ``auto`` falls
  back to torch.
* ``onnx``: ONNX Runtime, providers in the order above, the first that starts;
  ``onnx-cuda`` / ``onnx-dml`` / ``onnx-coreml`` / ``onnx-openvino`` / ``onnx-cpu``:
  that provider (then the CPU provider if it fails to start). ``onnx-openvino`` runs the
  ViT encoders on OpenVINO's CPU plugin; LiteMedSAM and the decoders stay on ONNX
  Runtime's CPU provider (see ``onnx_backend``).
* ``cpu`` / ``cuda`` / ``mps`` (as before) and their aliases ``torch-cpu`` /
  ``torch-cuda`` / ``torch-mps``: eager torch on that device, the reference path.

Imports torch only inside the functions that need it, so command-line parsers can
read :data:`DEVICE_CHOICES` cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

from medsam_gui.core.errors import MedsamGuiError

TORCH_DEVICES = ("cpu", "cuda", "mps")
ONNX_DEVICES = ("onnx", "onnx-cpu", "onnx-cuda", "onnx-dml", "onnx-coreml", "onnx-openvino")
DEVICE_CHOICES = ("auto", *TORCH_DEVICES, *(f"torch-{name}" for name in TORCH_DEVICES), *ONNX_DEVICES)
DEVICE_HELP = ("auto (ONNX Runtime GPU, torch GPU, ONNX Runtime CPU, torch CPU: the first available), "
               "onnx[-cpu|-cuda|-dml|-coreml|-openvino] (ONNX Runtime; OpenVINO for ViT encoders), "
               "cpu|cuda|mps or torch-cpu|torch-cuda|torch-mps (torch)")


@dataclass(frozen=True)
class DeviceChoice:
    """Where a model runs: ``runtime`` 'onnx' with ``providers`` to try in order, or
    'torch' with ``torch_device`` ('cpu', 'cuda', 'mps'). ``requested``: what the user said."""

    runtime: str
    requested: str
    providers: tuple[str, ...] = ()
    torch_device: str = ""


def mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(requested: str = "auto") -> DeviceChoice:
    """The runtime and device for a ``--device`` value (see the module docstring).

    Raises MedsamGuiError for an unknown name or one not usable on this machine.
    """
    from medsam_gui.engine.models.onnx_backend import GPU_PROVIDERS, available_providers, providers_for_device

    name = (requested or "auto").lower()
    if name not in DEVICE_CHOICES:
        raise MedsamGuiError(f"unknown device {requested!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    if name in ONNX_DEVICES:
        return DeviceChoice("onnx", name, tuple(providers_for_device(name)))
    if name != "auto":
        return DeviceChoice("torch", name, torch_device=str(choose_device(name.removeprefix("torch-"))))
    providers = available_providers()
    if any(provider in GPU_PROVIDERS for provider in providers):
        return DeviceChoice("onnx", name, tuple(providers))
    torch_device = choose_device("auto")
    if torch_device.type != "cpu" or not providers:
        return DeviceChoice("torch", name, torch_device=str(torch_device))
    return DeviceChoice("onnx", name, tuple(providers))


def choose_device(requested: str = "auto"):
    """The torch device for ``requested`` ('auto', 'cpu', 'cuda', 'mps', or 'torch-...').

    Raises MedsamGuiError when the named device is not usable on this machine.
    """
    import torch

    name = (requested or "auto").lower().removeprefix("torch-")
    if name not in ("auto", *TORCH_DEVICES):
        raise MedsamGuiError(f"unknown torch device {requested!r}; choose one of auto, {', '.join(TORCH_DEVICES)}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise MedsamGuiError("device 'cuda' requested but no CUDA GPU is available")
    if name == "mps" and not mps_available():
        raise MedsamGuiError("device 'mps' requested but Apple MPS is not available")
    return torch.device(name)


def encoder_autocast(device):
    """Half precision for the image encoder where it is safe: CUDA autocast (fp16
    matmuls with fp32 accumulation, fp32 layer norms). Elsewhere a no-op context.
    The decoder always runs fp32 (its outputs are thresholded at 0)."""
    import torch

    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return torch.autocast(device.type, enabled=False)
