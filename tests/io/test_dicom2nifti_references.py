"""Every dicom2nifti series matches its reference NIfTI in voxels and physical geometry."""

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from medsam_gui.core.orientation import to_display_orientation
from medsam_gui.io.load import open_volume

SERIES = [
    "ge/anatomical/001",
    "ge/anatomical/001_implicit",
    "ge/anatomical/001_single_slice",
    "generic/anatomical/001",
    "generic/anatomical/001_implicit",
    "generic/anatomical/002_non_isotropic",
    "generic/compressed/001",
    "generic/compressed_j2k/001",
    "generic/compressed_jpeg/001",
    "generic/compressed_jpegls/001",
    "generic/compressed_rle/001",
    "generic/rgb/001",
    "hitachi/anatomical/001",
    "hitachi/anatomical/001_implicit",
    "philips_enhanced/anatomical/001",
    "philips_enhanced/anatomical/001_implicit",
    "siemens_multiframe/anatomical/001",
]


def _reference_in_display_orientation(path: Path):
    """The reference NIfTI (LPS via SimpleITK) reoriented the same canonical way."""
    image = sitk.ReadImage(str(path))
    array = sitk.GetArrayFromImage(image)
    if image.GetNumberOfComponentsPerPixel() > 1:
        array = array[..., :3]  # dicom2nifti stores RGB as RGBA-like vectors; compare colour
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    return to_display_orientation(array, image.GetSpacing(), image.GetOrigin(), direction)


@pytest.mark.parametrize("series", SERIES)
def test_series_matches_reference_nifti(data_root, series):
    folder = data_root / "dicom2nifti" / series
    volume = open_volume(folder)
    ref_voxels, ref_spacing, ref_origin, ref_direction, _ = _reference_in_display_orientation(
        folder.parent / f"{folder.name}_ground_truth.nii.gz"
    )
    assert volume.voxels.shape == ref_voxels.shape
    assert np.allclose(volume.voxels.astype(np.float64), ref_voxels.astype(np.float64), rtol=1e-5, atol=1e-3)
    assert np.allclose(volume.spacing_xyz, ref_spacing, atol=1e-3)
    assert np.allclose(volume.origin_xyz, ref_origin, atol=1e-3)
    if volume.is_2d:  # a single slice has no slice direction; its sign is a convention
        assert np.allclose(volume.direction[:, :2], ref_direction[:, :2], atol=1e-3)
    else:
        assert np.allclose(volume.direction, ref_direction, atol=1e-3)
    # the far corner lands on the same patient point, the whole extent agrees
    corner = np.array(volume.size_xyz) - 1
    reference_corner = np.asarray(ref_origin) + ref_direction @ (np.asarray(ref_spacing) * corner)
    assert np.allclose(volume.index_to_physical(corner), reference_corner, atol=1e-3)
    assert volume.modality == "MR"
    files_in_folder = {str(p) for p in folder.rglob("*") if p.is_file()}
    assert volume.dicom is not None and set(volume.dicom.file_paths) <= files_in_folder


def test_display_orientation_is_radiological(data_root):
    volume = open_volume(data_root / "dicom2nifti" / "generic" / "anatomical" / "001")  # a sagittal stack
    assert np.all(np.diag(volume.direction) > 0.99)  # x -> Left, y -> Posterior, z -> Superior
    assert not volume.source_grid.is_identity


def test_dicom_reference_follows_display_slices(data_root):
    folder = data_root / "totalseg" / "example_ct_dicom"
    volume = open_volume(folder)
    assert volume.dicom.frame_of_reference_uid.startswith("1.3.12.2.1107.5.1.4.60064")
    # this anonymised series has empty Study/Series UIDs: the reader says so
    assert volume.dicom.series_instance_uid == ""
    assert volume.warnings == [
        "the files carry no StudyInstanceUID or SeriesInstanceUID or SOPInstanceUID (anonymised?): "
        "a DICOM SEG cannot refer to them"
    ]
    assert len(volume.dicom.sop_instance_uids) == len(set(volume.dicom.file_paths)) == volume.shape_zyx[0] == 20
    import pydicom

    slice_z = [float(pydicom.dcmread(p, stop_before_pixels=True).ImagePositionPatient[2]) for p in volume.dicom.file_paths]
    expected_z = [volume.index_to_physical((0, 0, z))[2] for z in range(volume.shape_zyx[0])]
    assert np.allclose(slice_z, expected_z, atol=1e-3)
    assert volume.description == "CT Body 3.0" and volume.modality == "CT"
    assert volume.default_window == (40.0, 300.0)
    assert volume.voxels.dtype == np.int16 and volume.voxels.min() == -1024  # RescaleIntercept applied
