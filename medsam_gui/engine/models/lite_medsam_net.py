"""LiteMedSAM network: TinyViT encoder + SAM prompt encoder + mask decoder, with the
parameter names of ``lite_medsam.pth`` (``image_encoder.*``, ``prompt_encoder.*``,
``mask_decoder.*``), built from this package's own modules (no timm / torchvision).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.engine.models.sam_heads import MaskDecoder, PromptEncoder
from medsam_gui.engine.models.tiny_vit import TinyViTEncoder


class LiteMedSamNet(nn.Module):
    """Container of the three parts; inference goes through ``image_encoder`` (pixels
    ``[B, 3, 256, 256]`` -> embedding ``[B, 256, 64, 64]``) and ``FastSamDecoder``."""

    def __init__(self) -> None:
        super().__init__()
        self.image_encoder = TinyViTEncoder()
        self.prompt_encoder = PromptEncoder()
        self.mask_decoder = MaskDecoder()


def load_lite_medsam(path: Path) -> LiteMedSamNet:
    """The network with the weights at ``path`` (strict), in eval mode without gradients,
    its encoder's BatchNorms folded into the convolutions.

    Raises MedsamGuiError naming the file when it is unreadable or does not fit.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a bad file
        raise MedsamGuiError(f"cannot read LiteMedSAM weights ({error.__class__.__name__}: {error})", path) from error
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    network = LiteMedSamNet()
    try:
        network.load_state_dict(state, strict=True)
    except (RuntimeError, AttributeError, TypeError) as error:
        first_line = str(error).splitlines()[0] if str(error) else error.__class__.__name__
        raise MedsamGuiError(f"not LiteMedSAM weights ({first_line})", path) from error
    network.eval().requires_grad_(False)
    network.image_encoder.fuse_batchnorm()
    return network
