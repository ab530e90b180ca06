"""Importing labelmaps onto an open scan: by geometry, with names and colours."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from medsam_gui.core.errors import UnreadableInputError
from medsam_gui.core.labelmap import Label, LabelTable
from medsam_gui.io.label_import import import_labels
from medsam_gui.io.labelmap_export import write_labelmap
from medsam_gui.io.load import open_volume
from medsam_gui.io.resample import resample_onto

LIVER, SPLEEN = 5, 1  # TotalSegmentator values


def test_flipped_y_labelmap_lands_on_the_right_organs(data_root):
    folder = data_root / "totalseg" / "example_ct_dicom"
    volume = open_volume(folder)
    imported = import_labels(data_root / "totalseg" / "example_seg_dicom.nii.gz", volume)
    # geometry-correct reference computed independently: SimpleITK resampling onto the series
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    series = reader.Execute()
    reference = sitk.Resample(
        sitk.ReadImage(str(data_root / "totalseg" / "example_seg_dicom.nii.gz")), series, sitk.Transform(), sitk.sitkNearestNeighbor
    )
    np.testing.assert_array_equal(imported.labels, sitk.GetArrayFromImage(reference))
    # the organs sit on tissue with the right Hounsfield units; by array index they would not
    liver_hu = volume.voxels[imported.labels == LIVER].mean()
    spleen_hu = volume.voxels[imported.labels == SPLEEN].mean()
    assert 40 < liver_hu < 150 and 40 < spleen_hu < 150
    by_array_index = np.flip(imported.labels, axis=1)  # what ignoring the flipped Y would give
    assert volume.voxels[by_array_index == LIVER].mean() < 0
    assert {label.value for label in imported.label_table} == set(np.unique(imported.labels)) - {0}


def test_import_reads_names_and_colours_from_the_sidecar(data_root, tmp_path):
    volume = open_volume(data_root / "totalseg" / "example_ct_sm.nii.gz")
    labels = resample_onto(volume, data_root / "totalseg" / "example_seg.nii.gz").astype(np.uint8)
    labels[labels > 3] = 0
    table = LabelTable([Label(1, "spleen", (157, 108, 162)), Label(2, "kidney right", (185, 102, 83), visible=False)])
    path = write_labelmap(labels, volume, table, tmp_path / "organs.nrrd")[0]
    (tmp_path / "organs.ctbl").unlink()  # the ITK-SNAP file alone must be enough
    imported = import_labels(path, volume)
    np.testing.assert_array_equal(imported.labels, labels)
    entries = [(label.value, label.name, label.colour, label.visible) for label in imported.label_table]
    assert entries[:2] == [(1, "spleen", (157, 108, 162), True), (2, "kidney right", (185, 102, 83), False)]
    assert entries[2][0] == 3 and "3" in imported.warnings[0]


def test_import_dicom_seg_matches_the_manual_nrrd(data_root):
    volume = open_volume(data_root / "dcmqi" / "ct-3slice")
    imported = import_labels(data_root / "dcmqi" / "liver.dcm", volume)
    reference = resample_onto(volume, data_root / "dcmqi" / "liver_seg.nrrd") > 0
    liver = imported.labels == 1
    dice = 2 * (liver & reference).sum() / (liver.sum() + reference.sum())
    assert dice > 0.98
    assert imported.label_table.get(1).name.lower() == "liver"


def test_import_rejects_an_image_and_a_non_image(data_root, tmp_path):
    volume = open_volume(data_root / "totalseg" / "example_ct_sm.nii.gz")
    with pytest.raises(UnreadableInputError, match="label values must be"):
        import_labels(data_root / "totalseg" / "example_ct_sm.nii.gz", volume)
    text = tmp_path / "notes.nrrd"
    text.write_text("not an image")
    with pytest.raises(UnreadableInputError, match="notes.nrrd"):
        import_labels(text, volume)
