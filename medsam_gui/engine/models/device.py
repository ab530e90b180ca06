"""Pick the torch device: CUDA, then Apple MPS, then CPU, unless the user names one."""

from __future__ import annotations

import torch

from medsam_gui.core.errors import MedsamGuiError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def choose_device(requested: str = "auto") -> torch.device:
    """The device for ``requested`` ('auto', 'cpu', 'cuda', 'mps').

    Raises MedsamGuiError when the named device is not usable on this machine.
    """
    name = (requested or "auto").lower()
    if name not in DEVICE_CHOICES:
        raise MedsamGuiError(f"unknown device {requested!r}; choose one of {', '.join(DEVICE_CHOICES)}")
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


def encoder_autocast(device: torch.device):
    """Half precision for the image encoder where it is safe: CUDA autocast (fp16
    matmuls with fp32 accumulation, fp32 layer norms). Elsewhere a no-op context.
    The decoder always runs fp32 (its outputs are thresholded at 0)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return torch.autocast(device.type, enabled=False)
