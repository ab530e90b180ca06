"""Creating a project: cases from a folder (recursive, DICOM series) or a manifest, headers only."""

from __future__ import annotations

import json
import shutil
import threading

import pydicom
import pytest
import SimpleITK as sitk
from project_helpers import CASE_SOURCES, SCHEMA_NAMES, build_images_folder

from medsam_gui.project import LabelSchema, OperationCancelled, Project, ProjectError


def test_init_from_a_folder_makes_one_case_per_series_and_file(project, images_folder):
    entries = {entry.case_id: entry for entry in project.cases}
    assert sorted(entries) == sorted(CASE_SOURCES)
    assert {case_id: entry.kind for case_id, entry in entries.items()} == {
        "breast1_image": "file", "ct3": "dicom", "example_ct_sm": "file", "nested_ts_dicom": "dicom",
    }
    assert entries["ct3"].series_uid == "1.2.392.200103.20080913.113635.1.2009.6.22.21.43.10.23430.1"
    assert entries["ct3"].size_xyz == (512, 512, 3) and entries["ct3"].modality == "CT"
    assert entries["nested_ts_dicom"].size_xyz == (512, 512, 20)
    assert entries["example_ct_sm"].size_xyz == (122, 101, 30)
    assert entries["breast1_image"].image == "../images/breast1_image.nrrd"
    assert entries["nested_ts_dicom"].image == "../images/nested/ts_dicom"
    assert project.image_path("ct3") == images_folder / "ct3"
    # the folder is readable by a person, and one folder per case holds a record
    for case_id in CASE_SOURCES:
        record = json.loads((project.folder / "cases" / case_id / "case.json").read_text())
        assert record["status"] == "to_do" and record["case_id"] == case_id


def test_no_absolute_paths_are_stored(project, tmp_path):
    for name in ("project.json", "cases.json", "cases/ct3/case.json"):
        assert str(tmp_path) not in (project.folder / name).read_text(), name


def test_the_project_folder_can_move(tmp_path, data_root):
    first = tmp_path / "first"
    images = build_images_folder(first, data_root)
    Project.create(first / "proj", images, LabelSchema.from_names(SCHEMA_NAMES), user="alice")
    shutil.move(str(first), str(tmp_path / "moved"))
    moved = Project.open(tmp_path / "moved" / "proj")
    assert moved.image_path("example_ct_sm") == tmp_path / "moved" / "images" / "example_ct_sm.nii.gz"
    assert moved.open_volume("ct3").shape_zyx == (3, 512, 512)


def test_init_from_a_manifest_lists_a_missing_path_and_indexes_the_rest(tmp_path, data_root):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "path,case_id,series_uid\n"
        f"{data_root / CASE_SOURCES['example_ct_sm']},patient-1,\n"
        f"{data_root / 'totalseg' / 'no_such_scan.nii.gz'},patient-2,\n"
        f"{data_root / CASE_SOURCES['ct3']},,1.2.392.200103.20080913.113635.1.2009.6.22.21.43.10.23430.1\n"
        f"{data_root / CASE_SOURCES['breast1_image']},,\n"
    )
    project, result = Project.create(tmp_path / "proj", manifest, LabelSchema.from_names(["liver"]))
    assert project.case_ids == ["patient-1", "ct-3slice", "breast1_image"]
    assert [(item.path.endswith("no_such_scan.nii.gz"), item.reason) for item in result.unreadable] == [
        (True, "no such file or folder (manifest row 2)")
    ]
    assert project.unreadable == result.unreadable  # kept in cases.json
    assert project.case("ct-3slice").kind == "dicom"


def test_a_json_manifest_with_a_wrong_series_uid(tmp_path, data_root):
    manifest = tmp_path / "cases.json"
    manifest.write_text(json.dumps({"cases": [
        {"path": str(data_root / CASE_SOURCES["ct3"]), "case_id": "wrong", "series_uid": "1.2.3"},
        {"image": str(data_root / CASE_SOURCES["nested_ts_dicom"])},
    ]}))
    project, result = Project.create(tmp_path / "proj", manifest, LabelSchema.from_names(["liver"]))
    assert project.case_ids == ["example_ct_dicom"]
    assert len(result.unreadable) == 1
    assert "no series with SeriesInstanceUID 1.2.3" in result.unreadable[0].reason


def test_a_manifest_without_a_path_column_is_refused(tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,label\na.nii.gz,b.nii.gz\n")
    with pytest.raises(ProjectError, match="no 'path'"):
        Project.create(tmp_path / "proj", manifest, LabelSchema.from_names(["liver"]))
    assert not (tmp_path / "proj" / "project.json").exists()


def test_indexing_reads_headers_only(tmp_path, images_folder, monkeypatch):
    def no_voxels(*args, **kwargs):
        raise AssertionError("indexing must not read voxels")

    real_dcmread = pydicom.dcmread

    def headers_only(*args, **kwargs):
        assert kwargs.get("stop_before_pixels") is True
        return real_dcmread(*args, **kwargs)

    monkeypatch.setattr(sitk, "ReadImage", no_voxels)
    monkeypatch.setattr("medsam_gui.io.load.open_volume", no_voxels)
    monkeypatch.setattr(pydicom, "dcmread", headers_only)
    project, result = Project.create(tmp_path / "proj", images_folder, LabelSchema.from_names(["liver"]))
    assert len(project.cases) == 4 and result.ignored_files == 1  # notes.txt


def test_unreadable_scans_are_listed_with_the_reason_and_the_rest_indexed(tmp_path, images_folder):
    (images_folder / "broken.nii.gz").write_bytes(b"not a nifti at all")
    (images_folder / "broken.dcm").write_bytes(b"\x00" * 10)
    project, result = Project.create(tmp_path / "proj", images_folder, LabelSchema.from_names(["liver"]))
    assert len(project.cases) == 4
    reasons = {item.path.rsplit("/", 1)[-1]: item.reason for item in result.unreadable}
    assert set(reasons) == {"broken.nii.gz", "broken.dcm"}
    assert reasons["broken.nii.gz"].startswith("cannot read the image header")


def test_exclude_patterns(tmp_path, images_folder):
    project, _ = Project.create(
        tmp_path / "proj", images_folder, LabelSchema.from_names(["liver"]), exclude=["*.nrrd", "nested/*"]
    )
    assert project.case_ids == ["ct3", "example_ct_sm"]


def test_indexing_reports_progress_and_can_be_cancelled(tmp_path, images_folder):
    reports = []
    Project.create(tmp_path / "a", images_folder, LabelSchema.from_names(["liver"]), progress=lambda *r: reports.append(r))
    assert reports[-1][0] == reports[-1][1] and reports[-1][1] > 0
    assert any("reading headers" in message for _, _, message in reports)

    cancel = threading.Event()

    def cancel_at_first_report(done, total, message):
        cancel.set()

    with pytest.raises(OperationCancelled, match="nothing was written"):
        Project.create(
            tmp_path / "b", images_folder, LabelSchema.from_names(["liver"]),
            progress=cancel_at_first_report, cancel=cancel,
        )
    assert not (tmp_path / "b").exists()


def test_adding_cases_skips_known_scans(project, data_root, tmp_path):
    assert project.add_cases(project.image_path("ct3").parent).cases == []
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "example_ct_sm.nii.gz").symlink_to(data_root / CASE_SOURCES["example_ct_sm"])
    added = project.add_cases(extra)
    assert [entry.case_id for entry in added.cases] == ["example_ct_sm_2"]  # ids stay unique
    assert Project.open(project.folder).case_ids[-1] == "example_ct_sm_2"
    assert project.record("example_ct_sm_2").status.value == "to_do"
    assert not (project.folder / "cases.lock.json").exists()


def test_an_existing_project_is_not_overwritten(project, images_folder):
    with pytest.raises(ProjectError, match="holds a project already"):
        Project.create(project.folder, images_folder, LabelSchema.from_names(["liver"]))


def test_a_folder_without_scans(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("nothing")
    with pytest.raises(ProjectError, match="no scans found"):
        Project.create(tmp_path / "proj", tmp_path / "empty", LabelSchema.from_names(["liver"]))


def test_manifest_case_ids_are_kept_and_duplicates_refused(tmp_path, data_root):
    nifti = data_root / CASE_SOURCES["example_ct_sm"]
    nrrd = data_root / CASE_SOURCES["breast1_image"]
    manifest = tmp_path / "manifest.csv"
    # the first row would be called example_ct_sm; the third asks for that id itself
    manifest.write_text(f"path,case_id\n{nifti},\n{nrrd},Case 7/b\n{nifti},example_ct_sm\n{nrrd},case_7_B\n")
    project, result = Project.create(tmp_path / "proj", manifest, LabelSchema.from_names(["liver"]))
    assert project.case_ids == ["example_ct_sm_2", "Case_7_b", "example_ct_sm"]
    assert [item.reason for item in result.unreadable] == ["case id 'case_7_B' is used twice"]
