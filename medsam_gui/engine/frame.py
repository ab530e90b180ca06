"""Where an image sits inside a model's square input: the one transform for images,
boxes, points and logits. numpy only.

A backend resizes an image of ``image_size_hw`` (rows, columns) into a square model
input of side ``input_size``: the resized content occupies the top-left
``content_size_hw`` and the rest is zero padding. Coordinates scale per axis by
``scale_xy``; the decoder's low-resolution logits (side ``lowres_size``) cover the
whole padded input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ModelFrame:
    """Geometry of one image inside a model input (all sizes in pixels).

    Attributes:
        image_size_hw: (rows, columns) of the image given to the backend.
        content_size_hw: (rows, columns) the image was resized to inside the input.
        scale_xy: factors mapping image x and y to model-input x and y.
        input_size: side of the square model input.
        lowres_size: side of the square low-resolution logits the decoder returns.
    """

    image_size_hw: tuple[int, int]
    content_size_hw: tuple[int, int]
    scale_xy: tuple[float, float]
    input_size: int
    lowres_size: int

    @classmethod
    def longest_side(cls, image_size_hw: tuple[int, int], input_size: int, lowres_size: int) -> "ModelFrame":
        """Resize the longest side to ``input_size``, keep the aspect, pad bottom/right.

        Follows LiteMedSAM's ``resize_longest_side`` (new size ``int(old * scale + 0.5)``)
        and its ``resize_box_to_256`` (coordinates times ``input_size / max(h, w)``).
        """
        height, width = (int(v) for v in image_size_hw)
        scale = input_size / max(height, width)
        content = (int(height * scale + 0.5), int(width * scale + 0.5))
        return cls((height, width), content, (scale, scale), int(input_size), int(lowres_size))

    @classmethod
    def squash(cls, image_size_hw: tuple[int, int], input_size: int, lowres_size: int) -> "ModelFrame":
        """Stretch to ``input_size`` x ``input_size`` (MedSAM); box scaled per axis."""
        height, width = (int(v) for v in image_size_hw)
        return cls((height, width), (int(input_size), int(input_size)),
                   (input_size / width, input_size / height), int(input_size), int(lowres_size))

    def to_model_xy(self, points_xy: np.ndarray) -> np.ndarray:
        """Image (x, y) pixel coordinates ``(..., 2)`` -> model-input coordinates (float64)."""
        return np.asarray(points_xy, dtype=np.float64) * np.asarray(self.scale_xy)

    def from_model_xy(self, points_xy: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_model_xy`."""
        return np.asarray(points_xy, dtype=np.float64) / np.asarray(self.scale_xy)

    def box_to_model(self, box_xyxy) -> np.ndarray:
        """(x0, y0, x1, y1) image pixels -> float64 (4,) model-input coordinates."""
        corners = np.asarray(box_xyxy, dtype=np.float64).reshape(2, 2)
        return self.to_model_xy(corners).reshape(4)

    def lowres_sample_grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Low-res logit coordinates of each image row and column centre.

        Returns ``(rows, cols)``: float64 arrays of length ``image_size_hw[0]`` and
        ``image_size_hw[1]``, in the ``align_corners=False`` convention (pixel ``i``
        has centre ``i + 0.5``), clamped to the content. Sampling the low-res logits bilinearly at these
        coordinates equals LiteMedSAM's ``postprocess_masks``: crop the logits to the
        content, then bilinear-resize (align_corners=False) to the image size.
        """
        lowres_per_input = self.lowres_size / self.input_size
        axes = []
        for size, content in zip(self.image_size_hw, self.content_size_hw):
            content_lowres = content * lowres_per_input
            centres = (np.arange(size, dtype=np.float64) + 0.5) * (content_lowres / size) - 0.5
            # interpolate() on the cropped logits clamps at the crop's first and last pixel
            axes.append(np.clip(centres, 0.0, max(content_lowres - 1.0, 0.0)))
        return axes[0], axes[1]
