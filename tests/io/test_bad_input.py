"""Every unreadable input gives one UnreadableInputError naming the file and the reason."""

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


def _nan_image(tmp_path):
    array = np.ones((3, 4, 5), dtype=np.float32)
    array[1, 2, 3] = np.nan
    path = tmp_path / "nan.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(array), str(path))
    return path, "1 NaN or infinite voxel values"


def _missing(tmp_path):
    return tmp_path / "does_not_exist.nii.gz", "no such file or folder"


def _truncated_dicom(tmp_path):
    return get_testdata_file("MR_truncated.dcm"), "pixel data cannot be decoded"


CASES = [_random_dcm, _truncated_nifti, _empty_folder, _dicomdir_only, _text_file, _four_d_nifti, _rtstruct, _nan_image, _missing, _truncated_dicom]


@pytest.mark.parametrize("make_case", CASES, ids=[case.__name__.strip("_") for case in CASES])
def test_bad_input_gives_one_clear_error(tmp_path, make_case):
    path, reason = make_case(tmp_path)
    with pytest.raises(UnreadableInputError) as error:
        open_volume(path)
    message = str(error.value)
    assert message.startswith(str(path)) and reason in message
    assert "\n" not in message and "Traceback" not in message


def test_seg_object_opened_as_image(data_root):
    path, reason = _seg_object(data_root)
    with pytest.raises(UnreadableInputError, match="DICOM Segmentation") as error:
        open_volume(path)
    assert str(path) in str(error.value)
