"""Volume <-> SimpleITK.Image, and writing arrays on a volume's grid.

``write_image`` is the one way arrays leave the app as NIfTI/NRRD/MHA: a scan, a
labelmap (uint8/uint16) or a probability map, on the display grid or on the
file's own grid (``source_grid=True``). Both describe the same physical space.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from medsam_gui.core.errors import MedsamGuiError, UnreadableInputError
from medsam_gui.core.orientation import source_geometry
from medsam_gui.core.volume import Volume
from medsam_gui.io.atomic import atomic_output
from medsam_gui.io.dicom_pixels import compact_dtype
from medsam_gui.io.volume_builder import build_volume

WRITABLE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha")
WRITABLE_DTYPES = (np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.float32, np.float64)


def grid_geometry(volume: Volume, source_grid: bool = False) -> tuple[tuple, tuple, np.ndarray, tuple[int, int, int]]:
    """(spacing_xyz, origin_xyz, direction, shape_zyx) of the display or source grid."""
    if not source_grid or volume.source_grid.is_identity:
        return volume.spacing_xyz, volume.origin_xyz, volume.direction, volume.shape_zyx
    spacing, origin, direction = source_geometry(
        volume.source_grid, volume.shape_zyx, volume.spacing_xyz, volume.origin_xyz, volume.direction
    )
    source_shape = tuple(int(v) for v in volume.source_grid.to_source(np.empty(volume.shape_zyx, dtype=np.uint8)).shape)
    return spacing, origin, direction, source_shape


def array_to_sitk(array_zyx: np.ndarray, spacing_xyz, origin_xyz, direction) -> sitk.Image:
    """SimpleITK image from ``[z, y, x]`` (scalar) or ``[z, y, x, 3]`` (vector) and geometry."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(array_zyx), isVector=array_zyx.ndim == 4)
    image.SetSpacing(tuple(float(v) for v in spacing_xyz))
    image.SetOrigin(tuple(float(v) for v in origin_xyz))
    image.SetDirection(tuple(float(v) for v in np.asarray(direction, dtype=np.float64).reshape(9)))
    return image


def volume_to_sitk(volume: Volume, source_grid: bool = False) -> sitk.Image:
    """The volume as a SimpleITK image on its display grid (or the file's grid)."""
    spacing, origin, direction, _ = grid_geometry(volume, source_grid)
    voxels = volume.source_grid.to_source(volume.voxels) if source_grid else volume.voxels
    return array_to_sitk(voxels, spacing, origin, direction)


def volume_from_sitk(image: sitk.Image, source_path: str = "", modality: str = "OT", description: str = "") -> Volume:
    """A display Volume from a 2D or 3D SimpleITK image (grey, or RGB uint8).

    NaN/infinite voxels are replaced and reported in ``Volume.warnings`` (see
    :func:`medsam_gui.io.volume_builder.replace_non_finite`).

    Raises:
        UnreadableInputError: 4D, other component counts, non-8-bit RGB.
    """
    dimension = image.GetDimension()
    if dimension == 4 and image.GetSize()[3] == 1:
        image = image[:, :, :, 0]
    elif dimension not in (2, 3):
        raise UnreadableInputError(
            f"a {dimension}D image (size {image.GetSize()}) is not supported: open one 3D volume", source_path
        )
    components = image.GetNumberOfComponentsPerPixel()
    if components not in (1, 3):
        raise UnreadableInputError(f"{components} components per voxel are not supported (grey or RGB only)", source_path)
    array = sitk.GetArrayFromImage(image)
    if image.GetDimension() == 2:
        array = array[None]
        spacing = tuple(image.GetSpacing()) + (1.0,)
        origin = tuple(image.GetOrigin()) + (0.0,)
        direction = np.eye(3)
        direction[:2, :2] = np.asarray(image.GetDirection()).reshape(2, 2)
    else:
        spacing, origin = image.GetSpacing(), image.GetOrigin()
        direction = np.asarray(image.GetDirection()).reshape(3, 3)
    if components == 3 and array.dtype != np.uint8:
        raise UnreadableInputError(f"RGB voxels of type {array.dtype} are not supported (8-bit only)", source_path)
    if components == 1 and array.dtype not in (np.uint8, np.int16, np.uint16):
        array = compact_dtype(array)
    return build_volume(
        array, spacing, origin, direction, source_path=source_path, modality=modality, description=description
    )


def _writable_suffix(path: Path) -> str | None:
    name = path.name.lower()
    return next((suffix for suffix in WRITABLE_SUFFIXES if name.endswith(suffix)), None)


def write_image(array_zyx: np.ndarray, like: Volume, path: str | Path, source_grid: bool = False) -> Path:
    """Write an array that lies on ``like``'s display grid to a NIfTI/NRRD/MHA file.

    Args:
        array_zyx: ``[z, y, x]`` (or ``[z, y, x, 3]`` uint8) with ``like.shape_zyx``;
            bool becomes uint8; uint8/uint16 labelmaps are written as they are.
        like: the volume whose geometry the array shares.
        path: output file ending in .nii.gz, .nii, .nrrd or .mha.
        source_grid: write on the grid of ``like``'s source file instead of the
            display grid (same physical space, the file's own axis order).

    The file is written to a temporary name in the same folder and then renamed,
    so a failure leaves nothing behind and never a half-written file.

    Raises:
        MedsamGuiError: wrong shape or dtype, unsupported suffix, writing over the
            volume's source file, or an I/O failure.
    """
    path = Path(path)
    suffix = _writable_suffix(path)
    if suffix is None:
        raise MedsamGuiError(f"unsupported output type: use one of {', '.join(WRITABLE_SUFFIXES)}", path)
    array = np.asarray(array_zyx)
    if array.dtype == bool:
        array = array.astype(np.uint8)
    if tuple(array.shape[:3]) != like.shape_zyx or array.ndim not in (3, 4) or (array.ndim == 4 and array.shape[3] != 3):
        raise MedsamGuiError(
            f"array of shape {array.shape} does not lie on the volume's grid {like.shape_zyx}", path
        )
    if array.dtype.type not in WRITABLE_DTYPES:
        raise MedsamGuiError(f"cannot write voxels of type {array.dtype}", path)
    if like.source_path and Path(like.source_path).exists() and path.exists() and path.resolve() == Path(like.source_path).resolve():
        raise MedsamGuiError("refusing to overwrite the volume's own source file", path)
    if not path.parent.is_dir():
        raise MedsamGuiError("the output folder does not exist", path.parent)
    spacing, origin, direction, _ = grid_geometry(like, source_grid)
    data = like.source_grid.to_source(array) if source_grid else array
    image = array_to_sitk(data, spacing, origin, direction)
    try:
        with atomic_output(path) as temporary_path:
            sitk.WriteImage(image, str(temporary_path), useCompression=suffix in (".nii.gz", ".nrrd", ".mha"))
    except (RuntimeError, OSError) as error:
        raise MedsamGuiError(f"cannot write the image ({str(error).strip().splitlines()[-1][:200]})", path) from error
    return path
