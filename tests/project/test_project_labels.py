"""Saving and loading a case's labels and view state in the project folder."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from project_helpers import CASE_SOURCES, paint

from medsam_gui.core.labelmap import Label, LabelTable
from medsam_gui.project import CaseStatus, LabelSchemaError, Project, ViewState


@pytest.mark.parametrize("case_id", ["example_ct_sm", "breast1_image", "ct3"])
def test_labels_and_view_state_round_trip(project, case_id):
    opened = project.open_case(case_id)
    assert not opened.labels_saved and not opened.labels.any() and opened.view_state is None
    labels, _painted = paint(opened.volume.shape_zyx)
    view = ViewState(slice_index=opened.volume.shape_zyx[0] // 2, window_center=40.0, window_width=400.0, active_label=5)
    record = project.save_case_labels(
        case_id, labels, opened.label_table, view, user="bob", active_seconds=95.5, volume=opened.volume
    )
    assert record.status is CaseStatus.IN_PROGRESS and record.last_editor == "bob"
    assert record.label_voxels == {"liver": int((labels == 1).sum()), "tumour": 12} and record.label_count == 2
    project.release_lock(case_id)

    again = Project.open(project.folder).open_case(case_id)  # another instance, later
    assert again.labels_saved and np.array_equal(again.labels, labels)
    assert again.view_state == view
    assert again.record.active_seconds == pytest.approx(95.5) and again.record.last_editor == "bob"
    loaded, loaded_view = project.load_case_labels(case_id, again.volume)
    assert np.array_equal(loaded, labels) and loaded_view == view
    again.lock.release()


def test_saved_labels_lie_on_the_source_files_grid(project, data_root):
    """labels.nii.gz overlays the NIfTI source voxel for voxel (the file's own, flipped axes)."""
    volume = project.open_volume("example_ct_sm")
    labels, painted = paint(volume.shape_zyx)
    with project.editing("example_ct_sm"):
        project.save_case_labels("example_ct_sm", labels, project.schema.label_table(), volume=volume)
    saved = sitk.ReadImage(str(project.labels_path("example_ct_sm")))
    source = sitk.ReadImage(str(data_root / CASE_SOURCES["example_ct_sm"]))
    assert saved.GetSize() == source.GetSize()
    assert np.allclose(saved.GetOrigin(), source.GetOrigin(), atol=1e-3)
    assert np.allclose(saved.GetDirection(), source.GetDirection(), atol=1e-6)
    for value, voxels in painted.items():
        for z, y, x in voxels:
            point = volume.index_to_physical((x, y, z))
            assert saved.GetPixel(saved.TransformPhysicalPointToIndex(tuple(point))) == value
    assert (project.folder / "cases" / "example_ct_sm" / "labels.ctbl").is_file()


def test_active_time_accumulates_over_saves(project):
    volume = project.open_volume("breast1_image")
    labels, _ = paint(volume.shape_zyx)
    with project.editing("breast1_image"):
        for seconds in (10, 20.5):
            project.save_case_labels("breast1_image", labels, project.schema.label_table(), active_seconds=seconds, volume=volume)
    assert project.record("breast1_image").active_seconds == pytest.approx(30.5)


def test_saving_checks_the_table_and_values_against_the_schema(project):
    volume = project.open_volume("breast1_image")
    labels, _ = paint(volume.shape_zyx)
    doubled = LabelTable([Label(1, "liver", (1, 1, 1)), Label(2, "Liver", (2, 2, 2))])
    with project.editing("breast1_image"):
        with pytest.raises(LabelSchemaError, match="duplicates 'liver'"):
            project.save_case_labels("breast1_image", labels, doubled, volume=volume)
        labels[0, 0, 0] = 9
        with pytest.raises(LabelSchemaError, match=r"values \[9\]"):
            project.save_case_labels("breast1_image", labels, project.schema.label_table(), volume=volume)
    assert not project.labels_path("breast1_image").exists()
    assert not project.record("breast1_image").labels_saved


def test_saving_without_the_volume_reads_the_scan(project):
    volume = project.open_volume("ct3")
    labels, _ = paint(volume.shape_zyx)
    with project.editing("ct3"):
        project.save_case_labels("ct3", labels, project.schema.label_table())
    loaded, _ = project.load_case_labels("ct3", volume)
    assert np.array_equal(loaded, labels)
