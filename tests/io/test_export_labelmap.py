"""Labelmap export (NIfTI/NRRD/MHA + colour sidecars) read back with SimpleITK."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.core.labelmap import Label, LabelTable
from medsam_gui.io.atomic import atomic_output
from medsam_gui.io.color_table import read_color_table, sidecar_paths
from medsam_gui.io.labelmap_export import write_labelmap
from medsam_gui.io.load import open_volume
from medsam_gui.io.resample import resample_onto


def _dicom_series_geometry(folder) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


@pytest.fixture(scope="module")
def dicom_case(data_root):
    volume = open_volume(data_root / "totalseg" / "example_ct_dicom")
    labels = resample_onto(volume, data_root / "totalseg" / "example_seg_dicom.nii.gz").astype(np.uint8)
    return volume, labels


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".mha"])
def test_export_from_dicom_series_overlays_the_series(dicom_case, data_root, tmp_path, suffix):
    volume, labels = dicom_case
    table = LabelTable([Label(5, "liver", (221, 130, 101)), Label(1, "spleen", (157, 108, 162))])
    written = write_labelmap(labels, volume, table, tmp_path / f"organs{suffix}")
    assert written[0] == tmp_path / f"organs{suffix}"
    image = sitk.ReadImage(str(written[0]))
    series = _dicom_series_geometry(data_root / "totalseg" / "example_ct_dicom")
    # same physical grid as the DICOM series read independently by SimpleITK/GDCM
    assert image.GetSize() == series.GetSize()
    np.testing.assert_allclose(image.GetSpacing(), series.GetSpacing(), atol=1e-4)
    np.testing.assert_allclose(image.GetOrigin(), series.GetOrigin(), atol=1e-3)
    np.testing.assert_allclose(image.GetDirection(), series.GetDirection(), atol=1e-6)
    # voxels: compare in physical space with the reference labelmap resampled by SimpleITK itself
    reference = sitk.Resample(
        sitk.ReadImage(str(data_root / "totalseg" / "example_seg_dicom.nii.gz")), series, sitk.Transform(), sitk.sitkNearestNeighbor
    )
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(reference))
    slicer_path, itksnap_path = sidecar_paths(written[0])
    assert [slicer_path, itksnap_path] == written[1:]
    for sidecar in (slicer_path, itksnap_path):
        read_back = read_color_table(sidecar)
        assert [(label.value, label.name, label.colour) for label in read_back] == [
            (1, "spleen", (157, 108, 162)),
            (5, "liver", (221, 130, 101)),
        ]


def test_export_on_source_grid_matches_the_nifti_file(data_root, tmp_path):
    source = data_root / "totalseg" / "example_ct_sm.nii.gz"
    volume = open_volume(source)
    assert not volume.source_grid.is_identity  # the file is stored flipped relative to display
    ground_truth = sitk.ReadImage(str(data_root / "totalseg" / "example_seg.nii.gz"))
    labels = resample_onto(volume, ground_truth).astype(np.uint8)
    path = write_labelmap(labels, volume, LabelTable(), tmp_path / "on_file_grid.nii.gz", source_grid=True)[0]
    written = sitk.ReadImage(str(path))
    ct = sitk.ReadImage(str(source))
    np.testing.assert_allclose(written.GetDirection(), ct.GetDirection(), atol=1e-6)
    np.testing.assert_allclose(written.GetOrigin(), ct.GetOrigin(), atol=1e-3)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(written), sitk.GetArrayFromImage(ground_truth))
    display_path = write_labelmap(labels, volume, LabelTable(), tmp_path / "display.nrrd", sidecars=False)
    assert display_path == [tmp_path / "display.nrrd"]
    np.testing.assert_array_equal(resample_onto(volume, display_path[0]), labels)


def test_export_refuses_to_overwrite_the_source_scan(data_root, tmp_path):
    source = tmp_path / "scan.nii.gz"
    source.write_bytes((data_root / "totalseg" / "example_ct_sm.nii.gz").read_bytes())
    volume = open_volume(source)
    before = source.read_bytes()
    with pytest.raises(MedsamGuiError, match="source"):
        write_labelmap(np.zeros(volume.shape_zyx, np.uint8), volume, LabelTable(), source)
    assert source.read_bytes() == before


def test_export_rejects_wrong_shape_and_unknown_format(dicom_case, tmp_path):
    volume, labels = dicom_case
    with pytest.raises(MedsamGuiError, match="do not match"):
        write_labelmap(labels[:-1], volume, LabelTable(), tmp_path / "x.nii.gz")
    with pytest.raises(MedsamGuiError, match="unknown labelmap format"):
        write_labelmap(labels, volume, LabelTable(), tmp_path / "x.png")


def test_atomic_output_keeps_the_last_good_file_when_writing_fails(tmp_path):
    target = tmp_path / "labels.nii.gz"
    target.write_bytes(b"last good copy")
    with pytest.raises(RuntimeError):
        with atomic_output(target) as temporary:
            temporary.write_bytes(b"half writ")
            raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"last good copy"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.nii.gz"]
