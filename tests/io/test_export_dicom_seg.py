"""DICOM SEG export: highdicom reads the file back into the same voxels on the same slices."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pydicom
import pytest

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.core.labelmap import Label, LabelTable
from medsam_gui.io.dicom_seg import read_dicom_seg, write_dicom_seg
from medsam_gui.io.load import open_volume
from medsam_gui.io.resample import resample_onto

ORGANS = {5: "liver", 1: "spleen", 6: "stomach"}


def _file_sop_uids(volume) -> list[str]:
    """SOP instance UID per display slice as stored in each file (header, else file meta)."""
    uids = []
    for path in volume.dicom.file_paths:
        dataset = pydicom.dcmread(path, stop_before_pixels=True)
        uids.append(dataset.get("SOPInstanceUID") or dataset.file_meta.MediaStorageSOPInstanceUID)
    return uids


@pytest.fixture(scope="module")
def ct_with_organs(data_root):
    volume = open_volume(data_root / "totalseg" / "example_ct_dicom")
    all_labels = resample_onto(volume, data_root / "totalseg" / "example_seg_dicom.nii.gz")
    labels = np.where(np.isin(all_labels, list(ORGANS)), all_labels, 0).astype(np.uint8)
    table = LabelTable([Label(value, name, (10 * value, 200, 30)) for value, name in ORGANS.items()])
    return volume, labels, table


def test_seg_round_trip_through_highdicom(ct_with_organs, tmp_path):
    volume, labels, table = ct_with_organs
    path = write_dicom_seg(labels, volume, table, tmp_path / "organs.dcm")
    assert path == tmp_path / "organs.dcm"
    segmentation = hd.seg.segread(path)
    # segments in value order 1, 5, 6 -> segment numbers 1, 2, 3 with names, codes and colours
    descriptions = [segmentation.get_segment_description(n) for n in segmentation.get_segment_numbers()]
    assert [d.SegmentLabel for d in descriptions] == ["spleen", "liver", "stomach"]
    assert [d.SegmentedPropertyTypeCodeSequence[0].CodeValue for d in descriptions] == ["78961009", "10200004", "69695003"]
    assert {d.SegmentedPropertyCategoryCodeSequence[0].CodeMeaning for d in descriptions} == {"Anatomical Structure"}
    liver_lab = hd.color.CIELabColor.from_dicom_value(descriptions[1].RecommendedDisplayCIELabValue)
    assert liver_lab.to_rgb() == (50, 200, 30)
    # it references the source series and each instance; the voxels come back per source instance
    assert segmentation.FrameOfReferenceUID == pydicom.dcmread(volume.dicom.file_paths[0]).FrameOfReferenceUID
    uids = _file_sop_uids(volume)
    referenced = {uid for _, _, uid in segmentation.get_source_image_uids()}
    assert referenced == set(uids)
    pixels = segmentation.get_pixels_by_source_instance(uids, combine_segments=True)
    expected = np.select([labels == 1, labels == 5, labels == 6], [1, 2, 3], 0)
    np.testing.assert_array_equal(pixels, expected)
    # and our own import puts them back on the same voxels (values renumbered to segments)
    imported, imported_table = read_dicom_seg(path, volume)
    np.testing.assert_array_equal(imported, expected)
    assert [label.name for label in imported_table] == ["spleen", "liver", "stomach"]


def test_seg_of_a_series_with_uids_references_them(data_root, tmp_path):
    volume = open_volume(data_root / "dcmqi" / "ct-3slice")
    labels = resample_onto(volume, data_root / "dcmqi" / "liver_seg.nrrd").astype(np.uint8)
    tumour_and_liver = labels.copy()
    tumour_and_liver[1, 250:260, 100:110] = 7
    table = LabelTable([Label(1, "liver", (221, 130, 101)), Label(7, "tumour", (255, 255, 0))])
    path = write_dicom_seg(tumour_and_liver, volume, table, tmp_path / "liver.dcm")
    segmentation = hd.seg.segread(path)
    assert segmentation.ReferencedSeriesSequence[0].SeriesInstanceUID == volume.dicom.series_instance_uid
    tumour = segmentation.get_segment_description(2)
    assert tumour.SegmentedPropertyCategoryCodeSequence[0].CodeMeaning == "Morphologically Abnormal Structure"
    pixels = segmentation.get_pixels_by_source_instance(list(volume.dicom.sop_instance_uids), combine_segments=True)
    np.testing.assert_array_equal(pixels, np.select([tumour_and_liver == 1, tumour_and_liver == 7], [1, 2], 0))


def test_seg_refuses_non_dicom_sources_and_empty_labels(data_root, ct_with_organs, tmp_path):
    nifti = open_volume(data_root / "totalseg" / "example_ct_sm.nii.gz")
    with pytest.raises(MedsamGuiError, match="DICOM"):
        write_dicom_seg(np.ones(nifti.shape_zyx, np.uint8), nifti, LabelTable(), tmp_path / "x.dcm")
    volume, labels, table = ct_with_organs
    with pytest.raises(MedsamGuiError, match="no labelled voxels"):
        write_dicom_seg(np.zeros_like(labels), volume, table, tmp_path / "empty.dcm")
    with pytest.raises(MedsamGuiError, match="source"):
        write_dicom_seg(labels, volume, table, volume.dicom.file_paths[0])
    assert not (tmp_path / "empty.dcm").exists()
