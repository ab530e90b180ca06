"""MedSAM and SAM through ``transformers.SamModel``, each with its own preprocessing.

MedSAM (style 'medsam') follows MedSAM's inference script (bowang-lab/MedSAM,
``MedSAM_Inference.py``), not ``SamProcessor``'s defaults:
  1. ``transform.resize(img, (1024, 1024), order=3, anti_aliasing=True)``: squash to
     1024 x 1024, bicubic (here torch bicubic with antialias), back to uint8;
  2. ``(img - min) / clip(max - min, 1e-8)``: per-image min-max to [0, 1], no
     ImageNet mean/std;
  3. ``box / [W, H, W, H] * 1024``: the box scaled per axis;
  4. sigmoid, ``F.interpolate(..., (H, W), 'bilinear')``, threshold 0.5.
SAM (style 'sam', e.g. facebook/sam-vit-base) follows segment-anything's
``SamPredictor.set_image`` / ``Sam.preprocess``:
  1. ``ResizeLongestSide(1024)``: longest side to 1024 (bilinear), aspect kept;
  2. ``(x - pixel_mean) / pixel_std`` with ImageNet mean/std on 0..255;
  3. zero pad bottom/right to 1024 x 1024; coordinates scaled by new/old size per axis;
  4. logits cropped to the content and resized to the image.
Both styles decode boxes and points; MedSAM was trained with boxes only, so its
response to +/- points alone is weak: use points to refine a box there.
Prompts are decoded by :class:`FastSamDecoder` on the model's own head weights
(:mod:`sam_hf_heads`), the same short call path as LiteMedSAM's.
"""

from __future__ import annotations

import threading

import numpy as np
import torch
import torch.nn.functional as F

from medsam_gui.engine.frame import ModelFrame
from medsam_gui.engine.models.device import encoder_autocast
from medsam_gui.engine.models.fast_decoder import FastSamDecoder
from medsam_gui.engine.models.postprocess import LogitPostprocessing
from medsam_gui.engine.models.sam_hf_heads import heads_from_transformers
from medsam_gui.engine.types import Embedding, ModelInfo, Prompts

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
STYLES = ("medsam", "sam")


def frame_for_style(style: str, image_size_hw: tuple[int, int], input_size: int, lowres_size: int) -> ModelFrame:
    if style == "medsam":
        return ModelFrame.squash(image_size_hw, input_size, lowres_size)
    frame = ModelFrame.longest_side(image_size_hw, input_size, lowres_size)
    (height, width), (content_h, content_w) = frame.image_size_hw, frame.content_size_hw
    # ResizeLongestSide.apply_coords scales by the rounded new size over the old, per axis
    return ModelFrame(frame.image_size_hw, frame.content_size_hw, (content_w / width, content_h / height),
                      input_size, lowres_size)


def preprocess(image_rgb_uint8: np.ndarray, style: str, input_size: int, lowres_size: int) -> tuple[torch.Tensor, ModelFrame]:
    """uint8 ``[H, W, 3]`` -> float32 ``[1, 3, S, S]`` model input (S = input_size) and its frame."""
    frame = frame_for_style(style, image_rgb_uint8.shape[:2], input_size, lowres_size)
    image = torch.from_numpy(np.ascontiguousarray(image_rgb_uint8)).permute(2, 0, 1)[None].float()
    if style == "medsam":
        image = F.interpolate(image, size=frame.content_size_hw, mode="bicubic", align_corners=False, antialias=True)
        image = image.round_().clamp_(0.0, 255.0)  # .astype(np.uint8) in the reference
        low, high = image.min(), image.max()
        return ((image - low) / torch.clamp(high - low, min=1e-8)).contiguous(), frame
    image = F.interpolate(image, size=frame.content_size_hw, mode="bilinear", align_corners=False, antialias=True)
    image = image.round_().clamp_(0.0, 255.0)  # PIL resize of a uint8 image in the reference
    mean = torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1)
    image = (image - mean) / std
    pad_rows = input_size - frame.content_size_hw[0]
    pad_cols = input_size - frame.content_size_hw[1]
    return F.pad(image, (0, pad_cols, 0, pad_rows)).contiguous(), frame


class SamBackend(LogitPostprocessing):
    """A ``transformers.SamModel`` with MedSAM or SAM preprocessing; no image state.

    Embedding features are a torch tensor on ``device`` (see ``features_to_array``).
    """

    mask_threshold_logit = 0.0  # sigmoid(logit) > 0.5, as MedSAM's and SAM's reference scripts

    def __init__(self, model, style: str, name: str, display_name: str, source: str, licence: str,
                 model_id: str, device: torch.device) -> None:
        if style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}")
        self.model = model.to(device).eval().requires_grad_(False)
        self.style = style
        self.name = name
        self.device = device
        self.model_id = model_id
        config = model.config
        self.input_size = int(config.vision_config.image_size)
        self.lowres_size = 4 * int(config.prompt_encoder_config.image_embedding_size)
        self.preprocessing_signature = (
            f"{style}-ref:{'squash-bicubic-minmax' if style == 'medsam' else 'longest-bilinear-imagenet-pad'}:{self.input_size}"
        )
        self.decoder = FastSamDecoder(*heads_from_transformers(self.model), device, self.mask_threshold_logit)
        # the between_blocks callable of the encode call running on this thread
        self._pass_of_thread = threading.local()
        for layer in self.model.vision_encoder.layers:
            layer.register_forward_pre_hook(self._before_vit_block)
        self.info = ModelInfo(name=name, display_name=display_name, device=str(device), licence=licence,
                              source=source, input_size=self.input_size)

    def frame_for(self, image_size_hw: tuple[int, int]) -> ModelFrame:
        return frame_for_style(self.style, image_size_hw, self.input_size, self.lowres_size)

    @torch.inference_mode()
    def encode(self, image_rgb_uint8: np.ndarray, between_blocks=None) -> Embedding:
        """uint8 ``[H, W, 3]`` -> Embedding with features ``[1, C, S/16, S/16]`` float32.

        ``between_blocks``: None or a callable run before each ViT block (the engine
        pauses a background pass there while the user prompts).
        """
        pixels, frame = preprocess(image_rgb_uint8, self.style, self.input_size, self.lowres_size)
        # a pass may run inside another's between_blocks (the engine's urgent jobs): restore the outer's
        outer_between_blocks = getattr(self._pass_of_thread, "between_blocks", None)
        self._pass_of_thread.between_blocks = between_blocks
        try:
            with encoder_autocast(self.device):
                features = self.model.vision_encoder(pixels.to(self.device)).last_hidden_state
        finally:
            self._pass_of_thread.between_blocks = outer_between_blocks
        return Embedding(features.float(), frame)

    def _before_vit_block(self, _module, _inputs) -> None:
        between_blocks = getattr(self._pass_of_thread, "between_blocks", None)
        if between_blocks is not None:
            between_blocks()

    def decode(self, embedding: Embedding, prompts: Prompts) -> tuple[np.ndarray, float]:
        """Low-res logits float32 ``[L, L]`` and the predicted IoU; single-mask output."""
        return self.decoder.decode(embedding, prompts)

    def features_to_array(self, features: torch.Tensor) -> np.ndarray:
        """Embedding features -> float32 ``[1, C, S/16, S/16]`` numpy."""
        return features.detach().float().cpu().numpy()

    def features_from_array(self, array: np.ndarray) -> torch.Tensor:
        """Cached fp16 ``[1, C, S/16, S/16]`` array -> float32 tensor on the device."""
        return torch.from_numpy(np.asarray(array, dtype=np.float32)).to(self.device)
