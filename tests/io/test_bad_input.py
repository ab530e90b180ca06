"""Every unreadable input gives one UnreadableInputError naming the file and the reason;
input that can be read with a caveat (NaN voxels) opens with a warning saying so."""

import gzip
import shutil

import numpy as np
import pytest
import SimpleITK as sitk
from pydicom.data import get_testdata_file

from medsam_gui.core.errors import UnreadableInputError
from medsam_gui.io.load import open_volume


def _random_dcm(tmp_path):
    path = tmp_path / "random.dcm"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return path, "not a recognised image file"


def _truncated_nifti(tmp_path):
    image = sitk.GetImageFromArray(np.random.default_rng(0).integers(0, 1000, (20, 64, 64)).astype(np.int16))
    full = tmp_path / "full.nii.gz"
    sitk.WriteImage(image, str(full))
    path = tmp_path / "truncated.nii.gz"
    path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    return path, "the compressed file is truncated"


def _empty_folder(tmp_path):
    path = tmp_path / "empty"
    path.mkdir()
    return path, "the folder is empty"


def _dicomdir_only(tmp_path):
    path = tmp_path / "dicomdir_only"
    path.mkdir()
    shutil.copy(get_testdata_file("DICOMDIR"), path / "DICOMDIR")
    return path, "DICOMDIR index"


def _text_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("patient scan notes\n")
    return path, "not a recognised image file"


def _four_d_nifti(tmp_path):
    path = tmp_path / "fmri.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((3, 4, 5, 6), dtype=np.int16), isVector=False), str(path))
    return path, "4D image"


def _seg_object(data_root):
    return data_root / "dcmqi" / "liver.dcm", "DICOM Segmentation (SEG) object, not an image"


def _rtstruct(tmp_path):
    return get_testdata_file("rtstruct.dcm"), "RT Structure Set"


def _empty_nifti(tmp_path):
    path = tmp_path / "empty.nii.gz"
    path.write_bytes(b"")
    return path, "the file is empty (0 bytes)"


def _nifti_gz_of_nothing(tmp_path):
    path = tmp_path / "nothing.nii.gz"
    path.write_bytes(gzip.compress(b""))
    return path, "the file is empty (its compressed stream holds 0 bytes)"


def _random_nrrd(tmp_path):
    path = tmp_path / "random.nrrd"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return path, "not a readable NRRD file"


def _random_nifti(tmp_path):
    path = tmp_path / "random.nii"
    path.write_bytes(np.random.default_rng(2).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return path, "not a readable NIfTI file"


def _random_nifti_gz(tmp_path):
    path = tmp_path / "random.nii.gz"
    path.write_bytes(np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return path, "not a readable NIfTI file (it ends in .gz but is not gzip-compressed)"


def _random_mha(tmp_path):
    path = tmp_path / "random.mha"
    path.write_bytes(np.random.default_rng(4).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return path, "not a readable MetaImage file"


def _empty_nrrd(tmp_path):
    path = tmp_path / "empty.nrrd"
    path.write_bytes(b"")
    return path, "the file is empty (0 bytes)"


def _missing(tmp_path):
    return tmp_path / "does_not_exist.nii.gz", "no such file or folder"


def _truncated_dicom(tmp_path):
    return get_testdata_file("MR_truncated.dcm"), "pixel data cannot be decoded"


CASES = [
    _random_dcm, _truncated_nifti, _empty_folder, _dicomdir_only, _text_file, _four_d_nifti, _rtstruct, _missing,
    _truncated_dicom, _empty_nifti, _nifti_gz_of_nothing, _random_nrrd, _random_nifti, _random_nifti_gz, _random_mha,
    _empty_nrrd,
]


@pytest.mark.parametrize("make_case", CASES, ids=[case.__name__.strip("_") for case in CASES])
def test_bad_input_gives_one_clear_error(tmp_path, make_case):
    path, reason = make_case(tmp_path)
    with pytest.raises(UnreadableInputError) as error:
        open_volume(path)
    message = str(error.value)
    assert message.startswith(str(path)) and reason in message
    assert "\n" not in message and "Traceback" not in message and "sitk::ERROR" not in message


def test_seg_object_opened_as_image(data_root):
    path, reason = _seg_object(data_root)
    with pytest.raises(UnreadableInputError, match="DICOM Segmentation") as error:
        open_volume(path)
    assert str(path) in str(error.value)


def _float_volume_with_non_finite_voxels() -> np.ndarray:
    """float32 ``[z, y, x]`` (4, 6, 7) of whole numbers -300..299 with NaN, +inf and -inf in three places."""
    array = np.arange(4 * 6 * 7, dtype=np.float32).reshape(4, 6, 7) - 300
    array[0, 0, 0], array[2, 3, 4], array[3, 5, 6] = np.nan, np.inf, -np.inf
    return array


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha"])
def test_nan_and_infinite_voxels_are_replaced_with_a_warning(tmp_path, suffix):
    array = _float_volume_with_non_finite_voxels()
    path = tmp_path / f"with_nan{suffix}"
    sitk.WriteImage(sitk.GetImageFromArray(array), str(path))
    volume = open_volume(path)
    assert volume.warnings == [
        "3 of 168 voxels (1.79%) are NaN or infinite in the file; "
        "they were replaced with -299, the lowest finite value of the image"
    ]
    finite = np.isfinite(array)
    np.testing.assert_array_equal(volume.voxels[~finite], -299)  # NIfTI too, though ITK reads those voxels as 0
    np.testing.assert_array_equal(volume.voxels[finite], array[finite])
    assert volume.voxels.dtype == np.int16  # whole numbers again once the NaNs are gone


def test_nifti_nan_voxels_are_found_across_scan_chunks(tmp_path, monkeypatch):
    from medsam_gui.io import itk_reader

    monkeypatch.setattr(itk_reader, "NIFTI_SCAN_CHUNK_VOXELS", 10)  # 168 voxels: 17 chunks, the last one short
    array = _float_volume_with_non_finite_voxels().astype(np.float64)
    array[1, 1, 2] = 0.5  # stays float
    path = tmp_path / "with_nan.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(array), str(path))
    volume = open_volume(path)
    assert volume.voxels.dtype == np.float32 and "3 of 168 voxels" in volume.warnings[0]
    np.testing.assert_array_equal(volume.voxels, np.where(np.isfinite(array), array, -299).astype(np.float32))


def test_volume_of_nan_only_opens_blank_with_a_warning_that_info_prints(tmp_path, capsys):
    from medsam_gui.cli import main

    path = tmp_path / "all_nan.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(np.full((3, 8, 9), np.nan, dtype=np.float32)), str(path))
    volume = open_volume(path)
    expected = (
        "216 of 216 voxels (100%) are NaN or infinite in the file; "
        "they were replaced with 0 (no voxel has a finite value)"
    )
    assert volume.warnings == [expected]
    assert not volume.voxels.any()
    assert main(["info", str(path)]) == 0
    assert f"warning:         {expected}" in capsys.readouterr().out.splitlines()


def test_float_tiff_with_nan_opens_with_a_warning(tmp_path):
    from PIL import Image

    pixels = np.linspace(0.0, 1.0, 20 * 30, dtype=np.float32).reshape(20, 30)
    pixels[5, 6] = np.nan
    path = tmp_path / "with_nan.tif"
    Image.fromarray(pixels, mode="F").save(path)
    volume = open_volume(path)
    assert volume.voxels[0, 5, 6] == 0.0 and "1 of 600 voxels" in volume.warnings[0]
