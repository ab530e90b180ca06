"""Decode DICOM pixel data and turn stored values into original units.

Grey frames in JPEG 2000, JPEG-LS and lossless JPEG are decoded with the GIL released
(:mod:`medsam_gui.io.dicom_codecs`); everything else through pydicom's plugins (pylibjpeg,
GDCM, Pillow). The few transfer syntaxes none of them handles (JPEG spectral selection / full progression,
processes 6-8 and 10-12) are decoded by SimpleITK's GDCM reader instead, which
hands back values that are already rescaled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pydicom
import SimpleITK as sitk

from medsam_gui.core.errors import UnreadableInputError
from medsam_gui.io.dicom_codecs import decode_without_gil


@dataclass
class DecodedFrames:
    """Pixels of one DICOM file.

    Attributes:
        frames: ``[frames, y, x]`` (grey) or ``[frames, y, x, 3]`` uint8 (RGB).
        dataset: the full dataset (pixel data included).
        already_rescaled: True when the decoder applied rescale slope/intercept.
    """

    frames: np.ndarray
    dataset: pydicom.Dataset
    already_rescaled: bool


def decode_frames(path: str) -> DecodedFrames:
    """Read a DICOM file and decode all its frames."""
    try:
        dataset = pydicom.dcmread(path)
    except Exception as error:  # pydicom raises many types for damaged files
        raise UnreadableInputError(f"not a readable DICOM file ({error})", path) from error
    if "PixelData" not in dataset and "FloatPixelData" not in dataset and "DoubleFloatPixelData" not in dataset:
        raise UnreadableInputError("the DICOM file has no pixel data", path)
    stored = decode_without_gil(dataset)
    if stored is not None:
        return DecodedFrames(stored, dataset, already_rescaled=False)
    try:
        pixels = dataset.pixel_array
        already_rescaled = False
    except Exception as pydicom_error:  # unsupported syntax or broken stream: try GDCM via SimpleITK
        pixels = _decode_with_simpleitk(path, pydicom_error)
        already_rescaled = True
    frame_count = max(int(dataset.get("NumberOfFrames", 1) or 1), 1)
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    if samples == 3:
        frames = np.asarray(pixels)
        if frames.ndim == 3:
            frames = frames[None]
        return DecodedFrames(_rgb_to_uint8(frames, path), dataset, already_rescaled)
    if samples != 1:
        raise UnreadableInputError(f"{samples} samples per pixel is not supported (only grey or RGB)", path)
    if pixels.ndim == 2:
        pixels = pixels[None]
    if pixels.shape[0] != frame_count:
        raise UnreadableInputError(
            f"pixel data holds {pixels.shape[0]} frames but the header says {frame_count}", path
        )
    return DecodedFrames(np.asarray(pixels), dataset, already_rescaled)


def _decode_with_simpleitk(path: str, pydicom_error: Exception) -> np.ndarray:
    try:
        image = sitk.ReadImage(path)
    except RuntimeError as error:
        raise UnreadableInputError(f"pixel data cannot be decoded ({pydicom_error})", path) from error
    array = sitk.GetArrayFromImage(image)
    if image.GetNumberOfComponentsPerPixel() == 1 and array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    return array


def _rgb_to_uint8(frames: np.ndarray, path: str) -> np.ndarray:
    if frames.dtype == np.uint8:
        return np.ascontiguousarray(frames)
    if frames.max(initial=0) <= 255 and frames.min(initial=0) >= 0:
        return frames.astype(np.uint8)
    raise UnreadableInputError(f"RGB pixel data of type {frames.dtype} outside 0..255 is not supported", path)


def rescale(stored: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    """Original units (float32) from stored values: ``stored * slope + intercept``."""
    values = stored.astype(np.float32)
    if slope != 1.0:
        values *= np.float32(slope)
    if intercept != 0.0:
        values += np.float32(intercept)
    return values


def rescale_of(item: pydicom.Dataset) -> tuple[float, float]:
    """(slope, intercept) from a dataset or functional-group item; (1, 0) when absent."""
    slope = item.get("RescaleSlope", None)
    intercept = item.get("RescaleIntercept", None)
    slope = 1.0 if slope in (None, "") else float(slope)
    intercept = 0.0 if intercept in (None, "") else float(intercept)
    return (slope if slope != 0.0 else 1.0), intercept


def compact_dtype(values: np.ndarray) -> np.ndarray:
    """int16 when all values are integers within int16, uint16 when non-negative
    integers within uint16, else float32. Input is any numeric array."""
    if values.dtype.kind in "iu":
        low, high = int(values.min(initial=0)), int(values.max(initial=0))
    else:
        if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
            return values.astype(np.float32, copy=False)
        low, high = float(values.min(initial=0)), float(values.max(initial=0))
    if -32768 <= low and high <= 32767:
        return values.astype(np.int16)
    if 0 <= low and high <= 65535:
        return values.astype(np.uint16)
    return values.astype(np.float32)


def window_of(item: pydicom.Dataset) -> tuple[float, float] | None:
    """(center, width) from WindowCenter/WindowWidth (first value), or None."""
    center = item.get("WindowCenter", None)
    width = item.get("WindowWidth", None)
    if center in (None, "") or width in (None, ""):
        return None
    try:
        center = float(center[0] if isinstance(center, (list, pydicom.multival.MultiValue)) else center)
        width = float(width[0] if isinstance(width, (list, pydicom.multival.MultiValue)) else width)
    except (TypeError, ValueError, IndexError):
        return None
    return (center, width) if width > 0 else None
