"""Plain data passed between the engine's parts and its callers (no torch import)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.engine.frame import ModelFrame


class SliceWithoutContrast(MedsamGuiError):
    """The slice's voxels all have one value (blank, or non-finite values replaced on
    reading): there is nothing to segment there."""


class EmbeddingNotReady(MedsamGuiError):
    """``predict`` needs an embedding that is not computed yet; it has been queued.

    ``slice_index`` names the slice of ``plane`` ('axial', 'coronal', 'sagittal');
    ``crop`` is the ROI crop (x_start, y_start, x_stop, y_stop, in the pixels of the
    image the model is given) when the missing embedding is an ROI-zoom one, else None.
    """

    def __init__(self, slice_index: int, crop: tuple[int, int, int, int] | None = None, plane: str = "axial") -> None:
        where = f"slice {slice_index}" if plane == "axial" else f"{plane} slice {slice_index}"
        what = f"ROI {crop} of {where}" if crop else where
        super().__init__(f"the embedding of {what} is being computed")
        self.slice_index = slice_index
        self.crop = crop
        self.plane = plane


@dataclass(frozen=True)
class ModelInfo:
    """What a user sees about a model.

    ``input_size`` is the side of the square model input in pixels; ``device`` is the
    torch device string it runs on ('cpu', 'cuda', 'mps').
    """

    name: str
    display_name: str
    device: str
    licence: str
    source: str
    input_size: int


@dataclass
class Embedding:
    """An encoded image: backend features plus where the image sat in the input.

    ``features`` are the backend's own ``[1, C, h, w]`` array, opaque to the engine (a
    torch tensor on the model's device, a numpy array for ONNX Runtime): the engine
    only passes them back to the backend's ``decode`` and asks the backend for a
    numpy copy (``features_to_array``). ``frame`` maps image pixels to the model input.
    """

    features: Any
    frame: ModelFrame

    @property
    def nbytes(self) -> int:
        """Bytes the features hold (numpy arrays and torch tensors both say)."""
        return int(self.features.nbytes)


@dataclass(frozen=True)
class Prompts:
    """Prompts in the pixel coordinates of the encoded image (slice or ROI crop).

    box_xyxy: (x0, y0, x1, y1) inclusive corners, or None.
    points_xy: float (n, 2) as (x, y), or None.
    point_labels: int (n,) 1 = positive, 0 = negative, or None.
    mask_logits: float32 ``[lowres, lowres]`` logits from an earlier decode of the
        same embedding (refinement), or None.
    """

    box_xyxy: tuple[float, float, float, float] | None = None
    points_xy: np.ndarray | None = None
    point_labels: np.ndarray | None = None
    mask_logits: np.ndarray | None = None


@dataclass(frozen=True)
class LowResLogits:
    """Decoder output kept for refinement: logits ``[lowres, lowres]`` float32 in the
    model-input frame of the embedding they came from (``frame``), which covered the
    slice region ``crop`` = (x_start, y_start, x_stop, y_stop) (the whole slice when
    the crop spans it)."""

    values: np.ndarray
    frame: ModelFrame
    crop: tuple[int, int, int, int]


@dataclass(frozen=True)
class Prediction:
    """A mask on one slice of one plane.

    mask: bool ``[rows, columns]`` on the slice's voxel grid (``PlaneGeometry.image_shape``,
        displayed orientation).
    score: the decoder's predicted IoU.
    logits: opaque; pass the Prediction back as ``mask_input`` to refine it.
    slice_index: the slice of ``plane`` it belongs to (z for axial).
    box_xyxy: the box prompt in slice voxel pixels (inclusive corners), or None.
    crop: the region that was encoded (x_start, y_start, x_stop, y_stop), in the pixels
        of the image the model is given: the slice itself for axial, the slice resampled
        to square pixels (``model_image_shape``) for coronal and sagittal.
    plane: 'axial', 'coronal' or 'sagittal'.
    model_image_shape: (rows, columns) of the image the model is given; None: the
        mask's shape (no resampling).
    """

    mask: np.ndarray
    score: float
    logits: LowResLogits
    slice_index: int
    box_xyxy: tuple[int, int, int, int] | None
    crop: tuple[int, int, int, int]
    plane: str = "axial"
    model_image_shape: tuple[int, int] | None = None

    @property
    def used_roi_zoom(self) -> bool:
        rows, cols = self.model_image_shape or self.mask.shape
        return self.crop != (0, 0, cols, rows)


@dataclass(frozen=True)
class EncodeResult:
    """What the worker did for one job: the slice (of ``plane``), whether it came from
    the cache (memory or disk) instead of the encoder, and the seconds it took."""

    slice_index: int
    from_cache: bool
    seconds: float
    crop: tuple[int, int, int, int] | None = None
    plane: str = "axial"
