"""Writing arrays on a volume's grid (display or source) and reading them back."""

import numpy as np
import pytest
import SimpleITK as sitk

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.io.itk_bridge import volume_to_sitk, write_image
from medsam_gui.io.load import open_volume
from medsam_gui.io.resample import resample_onto


@pytest.fixture(scope="module")
def sagittal_mr(data_root):
    return open_volume(data_root / "dicom2nifti" / "generic" / "anatomical" / "001")  # reoriented for display


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha"])
def test_labelmap_written_on_display_grid_round_trips(sagittal_mr, tmp_path, suffix):
    labels = np.zeros(sagittal_mr.shape_zyx, dtype=np.uint16)
    labels[100:120, 50:90, 1:3] = 300
    path = write_image(labels, sagittal_mr, tmp_path / f"labels{suffix}")
    image = sitk.ReadImage(str(path))
    assert np.array_equal(sitk.GetArrayFromImage(image), labels)
    assert np.allclose(image.GetSpacing(), sagittal_mr.spacing_xyz, atol=1e-5)
    assert np.allclose(image.GetOrigin(), sagittal_mr.origin_xyz, atol=1e-3)
    assert np.allclose(np.reshape(image.GetDirection(), (3, 3)), sagittal_mr.direction, atol=1e-5)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_source_grid_file_lands_on_the_same_voxels(sagittal_mr, data_root, tmp_path):
    labels = np.zeros(sagittal_mr.shape_zyx, dtype=np.uint8)
    labels[10:40, 60:200:3, 2] = 7
    path = write_image(labels, sagittal_mr, tmp_path / "source.nii.gz", source_grid=True)
    image = sitk.ReadImage(str(path))
    reference = sitk.ReadImage(str(data_root / "dicom2nifti" / "generic" / "anatomical" / "001_ground_truth.nii.gz"))
    assert image.GetSize() == reference.GetSize()  # the file's own axis order (sagittal slices)
    in_plane = np.reshape(image.GetDirection(), (3, 3))[:, :2]
    assert np.allclose(in_plane, np.reshape(reference.GetDirection(), (3, 3))[:, :2], atol=1e-3)
    assert np.array_equal(resample_onto(sagittal_mr, image), labels)  # back by geometry: identical


def test_volume_to_sitk_keeps_values_and_geometry(sagittal_mr):
    image = volume_to_sitk(sagittal_mr)
    assert np.array_equal(sitk.GetArrayFromImage(image), sagittal_mr.voxels)
    assert image.TransformIndexToPhysicalPoint((3, 7, 2)) == pytest.approx(tuple(sagittal_mr.index_to_physical((3, 7, 2))))


def test_write_refuses_bad_requests(sagittal_mr, tmp_path):
    with pytest.raises(MedsamGuiError, match="does not lie on the volume's grid"):
        write_image(np.zeros((2, 2, 2), np.uint8), sagittal_mr, tmp_path / "x.nii.gz")
    with pytest.raises(MedsamGuiError, match="unsupported output type"):
        write_image(np.zeros(sagittal_mr.shape_zyx, np.uint8), sagittal_mr, tmp_path / "x.png")
    with pytest.raises(MedsamGuiError, match="cannot write voxels of type int64"):
        write_image(np.zeros(sagittal_mr.shape_zyx, np.int64), sagittal_mr, tmp_path / "x.nii.gz")
    assert list(tmp_path.iterdir()) == []


def test_write_refuses_to_overwrite_the_source_file(tmp_path):
    source = tmp_path / "scan.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(np.ones((2, 3, 4), np.int16)), str(source))
    volume = open_volume(source)
    before = source.read_bytes()
    with pytest.raises(MedsamGuiError, match="refusing to overwrite"):
        write_image(np.zeros(volume.shape_zyx, np.uint8), volume, source)
    assert source.read_bytes() == before
