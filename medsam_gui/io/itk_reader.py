"""Read NIfTI, NRRD (attached or detached .nhdr), MHA/MHD through SimpleITK.

ITK's NIfTI reader (nifti1_io) silently turns NaN and infinite float voxels into 0.
:func:`read_itk_volume` finds them in the file's own bytes and puts them back, so
the volume builder replaces and reports them the same way for every format.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from medsam_gui.core.errors import UnreadableInputError
from medsam_gui.core.volume import Volume
from medsam_gui.io.itk_bridge import volume_from_sitk

ITK_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")
FORMAT_NAMES = {
    ".nii": "NIfTI", ".nii.gz": "NIfTI", ".nrrd": "NRRD", ".nhdr": "NRRD", ".mha": "MetaImage", ".mhd": "MetaImage",
}
NIFTI_FLOAT_DTYPES = {16: "f4", 64: "f8"}  # nifti1.h datatype codes DT_FLOAT32, DT_FLOAT64
NIFTI_SCAN_CHUNK_VOXELS = 1 << 22
SITK_NO_READER_TEXT = "Unable to determine ImageIO reader"


def has_itk_suffix(path: str | Path) -> bool:
    return str(path).lower().endswith(ITK_SUFFIXES)


def format_name(path: str | Path) -> str:
    """'NIfTI', 'NRRD' or 'MetaImage' from the file name (which decides how it is read)."""
    name = str(path).lower()
    return next((kind for suffix, kind in FORMAT_NAMES.items() if name.endswith(suffix)), "image")


def read_itk_image(path: str | Path) -> sitk.Image:
    """The file as a SimpleITK image; UnreadableInputError with the reason on failure.

    The reasons name the format: an empty file, a compressed stream that is
    truncated or holds nothing, or a file that is not a readable NIfTI/NRRD/MetaImage.
    """
    kind = format_name(path)
    if Path(path).is_file() and Path(path).stat().st_size == 0:
        raise UnreadableInputError(f"the file is empty (0 bytes), so it holds no {kind} image", path)
    if str(path).lower().endswith(".gz") and _decompressed_size(path, kind) == 0:
        raise UnreadableInputError(
            f"the file is empty (its compressed stream holds 0 bytes), so it holds no {kind} image", path
        )
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as error:
        if SITK_NO_READER_TEXT in str(error):
            raise UnreadableInputError(f"not a readable {kind} file (no {kind} header found)", path) from error
        lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
        detail = lines[-1].removeprefix("sitk::ERROR:").strip() if lines else "unknown error"
        raise UnreadableInputError(f"not a readable {kind} file ({detail[:200]})", path) from error


def _decompressed_size(path: str | Path, kind: str, chunk_bytes: int = 1 << 24) -> int:
    """Bytes in a .gz file once decompressed; decompressing it all is also the only way to
    know it is whole, as ITK pads a truncated stream silently. ``kind`` names the format."""
    size = 0
    try:
        with gzip.open(path, "rb") as stream:
            while chunk := stream.read(chunk_bytes):
                size += len(chunk)
    except gzip.BadGzipFile as error:
        reason = f"not a readable {kind} file (it ends in .gz but is not gzip-compressed)"
        raise UnreadableInputError(reason, path) from error
    except (EOFError, OSError, zlib.error) as error:
        raise UnreadableInputError(f"the compressed file is truncated or damaged ({error})", path) from error
    return size


def read_itk_volume(path: str | Path) -> Volume:
    """A display Volume from a NIfTI/NRRD/MHA file; 4D and non-RGB vector images are refused."""
    image = read_itk_image(path)
    if format_name(path) == "NIfTI":
        image = _with_nifti_non_finite_restored(image, path)
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


def _with_nifti_non_finite_restored(image: sitk.Image, path: str | Path) -> sitk.Image:
    """``image`` with NaN back where the NIfTI file holds NaN or infinite floats.

    ITK read those voxels as 0; the file's own voxel bytes (x fastest, then y, z:
    the flat order of ``GetArrayFromImage``'s ``[z, y, x]``) say which they were.
    Returns ``image`` itself when the file has no float voxels or none is non-finite.
    """
    if image.GetNumberOfComponentsPerPixel() != 1 or image.GetPixelID() not in (sitk.sitkFloat32, sitk.sitkFloat64):
        return image
    layout = _nifti_float_layout(path)
    if layout is None:
        return image
    dtype, data_offset = layout
    non_finite_chunks = _non_finite_chunks(path, dtype, data_offset, image.GetNumberOfPixels())
    if not non_finite_chunks:
        return image
    voxels = sitk.GetArrayFromImage(image)
    flat_voxels = voxels.reshape(-1)
    for start, non_finite in non_finite_chunks:
        flat_voxels[start : start + non_finite.size][non_finite] = np.nan
    restored = sitk.GetImageFromArray(voxels, isVector=False)
    restored.CopyInformation(image)
    return restored


def _nifti_float_layout(path: str | Path) -> tuple[np.dtype, int] | None:
    """(voxel dtype with byte order, byte offset of the voxel data) of a float32/float64
    NIfTI-1 or NIfTI-2 file; None for other data types or a header not recognised."""
    with _open_nifti(path) as stream:
        header = stream.read(540)
    for byte_order in "<>":
        if len(header) >= 348 and struct.unpack(f"{byte_order}i", header[:4])[0] == 348:
            (datatype,) = struct.unpack(f"{byte_order}h", header[70:72])
            (vox_offset,) = struct.unpack(f"{byte_order}f", header[108:112])
            header_bytes = 348
        elif len(header) >= 540 and struct.unpack(f"{byte_order}i", header[:4])[0] == 540:
            (datatype,) = struct.unpack(f"{byte_order}h", header[12:14])
            (vox_offset,) = struct.unpack(f"{byte_order}q", header[168:176])
            header_bytes = 540
        else:
            continue
        code = NIFTI_FLOAT_DTYPES.get(datatype)
        # nifti1_io reads the voxels from max(vox_offset, header size)
        return (np.dtype(byte_order + code), max(int(vox_offset), header_bytes)) if code else None
    return None


def _non_finite_chunks(
    path: str | Path, dtype: np.dtype, data_offset: int, voxel_count: int
) -> list[tuple[int, np.ndarray]]:
    """(first flat voxel index, bool mask) for each chunk of the voxel data holding a
    NaN or infinite value; streamed, so only the chunks that have one are kept."""
    chunks = []
    start = 0
    with _open_nifti(path) as stream:
        stream.seek(data_offset)
        while start < voxel_count:
            wanted = min(NIFTI_SCAN_CHUNK_VOXELS, voxel_count - start)
            data = stream.read(wanted * dtype.itemsize)
            values = np.frombuffer(data[: len(data) - len(data) % dtype.itemsize], dtype=dtype)
            if values.size == 0:
                break
            non_finite = ~np.isfinite(values)
            if non_finite.any():
                chunks.append((start, non_finite))
            start += values.size
    return chunks


def _open_nifti(path: str | Path):
    return gzip.open(path, "rb") if str(path).lower().endswith(".gz") else open(path, "rb")
