"""Read NIfTI, NRRD (attached or detached .nhdr), MHA/MHD through SimpleITK."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from medsam_gui.core.errors import UnreadableInputError
from medsam_gui.core.volume import Volume
from medsam_gui.io.itk_bridge import volume_from_sitk

ITK_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")


def has_itk_suffix(path: str | Path) -> bool:
    return str(path).lower().endswith(ITK_SUFFIXES)


def read_itk_image(path: str | Path) -> sitk.Image:
    """The file as a SimpleITK image; UnreadableInputError with the reason on failure."""
    if str(path).lower().endswith(".gz"):
        _check_gzip_complete(path)
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as error:
        lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
        detail = lines[-1] if lines else "unknown error"
        raise UnreadableInputError(f"cannot read the image ({detail[:200]})", path) from error


def _check_gzip_complete(path: str | Path, chunk_bytes: int = 1 << 24) -> None:
    """ITK pads a truncated .gz stream silently; decompress it once to be sure it is whole."""
    try:
        with gzip.open(path, "rb") as stream:
            while stream.read(chunk_bytes):
                pass
    except (EOFError, OSError, zlib.error) as error:
        raise UnreadableInputError(f"the compressed file is truncated or damaged ({error})", path) from error


def read_itk_volume(path: str | Path) -> Volume:
    """A display Volume from a NIfTI/NRRD/MHA file; 4D and non-RGB vector images are refused."""
    image = read_itk_image(path)
    modality = _modality_guess(image)
    return volume_from_sitk(image, source_path=str(path), modality=modality, description=Path(path).name)


def _modality_guess(image: sitk.Image) -> str:
    """'CT' when values look like Hounsfield units (air near -1000), else 'OT'."""
    if image.GetNumberOfComponentsPerPixel() != 1:
        return "OT"
    array = sitk.GetArrayViewFromImage(image).reshape(-1)
    if array.size == 0 or array.dtype.kind not in "iuf":
        return "OT"
    sample = array[:: max(array.size // 200_000, 1)]
    finite = sample[np.isfinite(sample)] if sample.dtype.kind == "f" else sample
    if finite.size == 0:
        return "OT"
    low = float(np.percentile(finite, 1))
    return "CT" if -1100.0 <= low <= -900.0 else "OT"
