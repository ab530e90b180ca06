"""Exporting a project: nnU-Net v2 (labels overlay images and source by geometry), NIfTI, DICOM SEG, report."""

from __future__ import annotations

import csv
import json
import threading

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from project_helpers import CASE_SOURCES, DICOM_CASES, FILE_CASES, paint

from medsam_gui.project import CaseStatus, LabelSchema, NothingToExport, OperationCancelled, Project

ALL_CASES = sorted(CASE_SOURCES)


def save_painted(project: Project, case_ids, status: str | None = None) -> dict:
    """Paint and save every case; returns case id -> (volume, labels, painted voxels)."""
    saved = {}
    for case_id in case_ids:
        volume = project.open_volume(case_id)
        labels, painted = paint(volume.shape_zyx)
        with project.editing(case_id):
            project.save_case_labels(case_id, labels, project.schema.label_table(), active_seconds=60, volume=volume)
            if status:
                project.set_status(case_id, status)
        saved[case_id] = (volume, labels, painted)
    return saved


def read_source(data_root, case_id) -> sitk.Image:
    path = data_root / CASE_SOURCES[case_id]
    if path.is_dir():
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(path)))
        return reader.Execute()
    return sitk.ReadImage(str(path))


def assert_same_geometry(a: sitk.Image, b: sitk.Image) -> None:
    assert a.GetSize() == b.GetSize()
    assert np.allclose(a.GetSpacing(), b.GetSpacing(), atol=1e-4)
    assert np.allclose(a.GetOrigin(), b.GetOrigin(), atol=1e-3)
    assert np.allclose(a.GetDirection(), b.GetDirection(), atol=1e-5)


def test_nnunet_labels_overlay_images_and_sources_by_geometry(project, data_root, tmp_path):
    saved = save_painted(project, ALL_CASES)
    result = project.export(tmp_path / "nnunet", "nnunet")
    assert result.exported == ALL_CASES and result.skipped == []
    out = tmp_path / "nnunet"
    exported_value = {1: 1, 5: 3}  # schema liver=1, spleen=2, tumour=5 -> consecutive 1, 2, 3
    for case_id, (volume, labels, painted) in saved.items():
        image = sitk.ReadImage(str(out / "imagesTr" / f"{case_id}_0000.nii.gz"))
        label_image = sitk.ReadImage(str(out / "labelsTr" / f"{case_id}.nii.gz"))
        assert_same_geometry(label_image, image)
        assert_same_geometry(image, read_source(data_root, case_id))
        assert label_image.GetPixelID() == sitk.sitkUInt8
        for value, voxels in painted.items():
            for z, y, x in voxels:
                index = label_image.TransformPhysicalPointToIndex(tuple(volume.index_to_physical((x, y, z))))
                assert label_image.GetPixel(index) == exported_value[value], (case_id, value, (z, y, x))
                assert image.GetPixel(index) == volume.voxels[z, y, x]
        assert int((sitk.GetArrayFromImage(label_image) > 0).sum()) == int((labels > 0).sum())
    dataset = json.loads((out / "dataset.json").read_text())
    assert dataset["channel_names"] == {"0": "CT"}  # 3 CT scans, 1 MR without modality in its NRRD header
    assert dataset["labels"] == {"background": 0, "liver": 1, "spleen": 2, "tumour": 3}
    assert dataset["numTraining"] == 4 and dataset["file_ending"] == ".nii.gz"
    assert any("several modalities" in warning for warning in result.warnings)
    assert not [p for p in out.rglob(".*")]  # no temporary files left


def test_the_report_has_a_row_per_case_and_label(project, tmp_path):
    saved = save_painted(project, ["ct3", "example_ct_sm"], status="done")
    result = project.export(tmp_path / "out", "nifti")
    rows = list(csv.DictReader(result.report_path.open()))
    assert [(row["case"], row["label"]) for row in rows] == [
        (case_id, name) for case_id in ("ct3", "example_ct_sm") for name in ("liver", "spleen", "tumour")
    ]
    volume, labels, _ = saved["example_ct_sm"]
    liver = next(row for row in rows if row["case"] == "example_ct_sm" and row["label"] == "liver")
    voxels = int((labels == 1).sum())
    assert int(liver["voxels"]) == voxels and int(liver["slices"]) == 1
    assert float(liver["volume_ml"]) == pytest.approx(voxels * np.prod(volume.spacing_xyz) / 1000, rel=1e-3)
    assert liver["status"] == "done" and liver["annotator"] == "alice" and float(liver["active_seconds"]) == 60
    spleen = next(row for row in rows if row["case"] == "ct3" and row["label"] == "spleen")
    assert spleen["voxels"] == "0" and spleen["slices"] == "0"


def test_nifti_and_nrrd_labelmaps_overlay_the_source(project, data_root, tmp_path):
    saved = save_painted(project, FILE_CASES)
    for format, suffix in (("nifti", ".nii.gz"), ("nrrd", ".nrrd")):
        project.export(tmp_path / format, format)
        for case_id, (volume, _labels, painted) in saved.items():
            labelmap = sitk.ReadImage(str(tmp_path / format / f"{case_id}{suffix}"))
            assert_same_geometry(labelmap, read_source(data_root, case_id))
            z, y, x = painted[5][0]
            index = labelmap.TransformPhysicalPointToIndex(tuple(volume.index_to_physical((x, y, z))))
            assert labelmap.GetPixel(index) == 5  # schema values kept
    assert (tmp_path / "nifti" / "example_ct_sm.ctbl").is_file()


def test_dicom_seg_for_dicom_cases_only_with_schema_codes(tmp_path, images_folder):
    schema = LabelSchema.from_json({"labels": [
        {"value": 1, "name": "liver",
         "category": ["123037004", "SCT", "Anatomical Structure"], "type": ["10200004", "SCT", "Liver"]},
        {"value": 5, "name": "tumour", "type": ["108369006", "SCT", "Neoplasm"]},
    ]})
    project, _ = Project.create(tmp_path / "proj", images_folder, schema, user="alice")
    save_painted(project, ALL_CASES, status="approved")
    result = project.export(tmp_path / "seg", "seg", ["approved"])
    assert result.exported == list(DICOM_CASES)
    assert sorted(case_id for case_id, _ in result.skipped) == sorted(FILE_CASES)
    assert all("not a DICOM case" in reason for _, reason in result.skipped)
    segmentation = pydicom.dcmread(tmp_path / "seg" / "ct3.dcm")
    segments = {item.SegmentLabel: item for item in segmentation.SegmentSequence}
    assert set(segments) == {"liver", "tumour"}
    assert segments["tumour"].SegmentedPropertyTypeCodeSequence[0].CodeValue == "108369006"
    assert segments["liver"].SegmentedPropertyCategoryCodeSequence[0].CodeMeaning == "Anatomical Structure"


def test_status_selection(project, tmp_path):
    save_painted(project, ["ct3"], status="approved")
    save_painted(project, ["breast1_image"], status="done")
    save_painted(project, ["example_ct_sm"])  # in progress
    assert project.export(tmp_path / "a", "nifti", [CaseStatus.APPROVED]).exported == ["ct3"]
    assert project.export(tmp_path / "b", "nifti", ["approved", "done"]).exported == ["breast1_image", "ct3"]
    everything = project.export(tmp_path / "c", "nifti")
    assert everything.exported == ["breast1_image", "ct3", "example_ct_sm"]  # every case with labels
    to_do = project.export(tmp_path / "d", "nifti", ["to do", "approved"])
    assert to_do.exported == ["ct3"] and ("nested_ts_dicom", "no labels saved (status to do)") in to_do.skipped


def test_nothing_to_export(project, tmp_path):
    save_painted(project, ["ct3"])
    with pytest.raises(NothingToExport, match="nothing to export: no case with status approved has saved labels"):
        project.export(tmp_path / "out", "nnunet", ["approved"])
    assert not (tmp_path / "out").exists()


def test_export_can_be_cancelled_and_leaves_complete_files_only(project, tmp_path):
    save_painted(project, ALL_CASES)
    cancel = threading.Event()
    reports = []

    def progress(done, total, message):
        reports.append((done, total, message))
        if done == 1:
            cancel.set()  # the user presses Cancel while the second case is written

    with pytest.raises(OperationCancelled, match="after 2 of 4 cases"):
        project.export(tmp_path / "out", "nnunet", progress=progress, cancel=cancel)
    out = tmp_path / "out"
    assert sorted(p.name for p in (out / "labelsTr").iterdir()) == ["breast1_image.nii.gz", "ct3.nii.gz"]
    assert not (out / "dataset.json").exists() and not (out / "report.csv").exists()
    assert not [p for p in out.rglob(".*")]
    for path in (out / "imagesTr").iterdir():
        sitk.ReadImage(str(path))  # complete, readable
    assert reports[0] == (0, 4, "exporting breast1_image (1/4)")
