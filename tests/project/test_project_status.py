"""Case status: transitions, history (who, when, comment), approved cases read-only until reopened."""

from __future__ import annotations

import time

import pytest
from project_helpers import paint

from medsam_gui.project import (
    CaseNotLocked,
    CaseReadOnly,
    CaseStatus,
    Project,
    ProjectError,
    ViewState,
)


def test_status_transitions_and_history(project):
    started = time.time()
    assert project.record("ct3").status is CaseStatus.TO_DO
    with project.editing("ct3"):
        project.set_status("ct3", CaseStatus.IN_PROGRESS)
        project.set_status("ct3", "done", "liver finished", user="bob")
    with project.editing("ct3", user="carol"):
        project.set_status("ct3", "approved", "checked", user="carol")
    record = Project.open(project.folder).record("ct3")  # as another instance reads it
    assert record.status is CaseStatus.APPROVED and record.comment == "checked"
    assert [(c.previous, c.status, c.user, c.comment) for c in record.history] == [
        (CaseStatus.TO_DO, CaseStatus.IN_PROGRESS, "alice", ""),
        (CaseStatus.IN_PROGRESS, CaseStatus.DONE, "bob", "liver finished"),
        (CaseStatus.DONE, CaseStatus.APPROVED, "carol", "checked"),
    ]
    assert all(started - 1 <= change.time <= time.time() + 1 for change in record.history)
    assert project.status_counts() == {
        CaseStatus.TO_DO: 3, CaseStatus.IN_PROGRESS: 0, CaseStatus.DONE: 0,
        CaseStatus.NEEDS_FIX: 0, CaseStatus.APPROVED: 1,
    }


def test_approved_cases_are_read_only_until_reopened(project):
    volume = project.open_volume("breast1_image")
    labels, _ = paint(volume.shape_zyx)
    with project.editing("breast1_image"):
        project.save_case_labels("breast1_image", labels, project.schema.label_table(), volume=volume)
        project.set_status("breast1_image", "approved", "fine")
        assert project.is_read_only("breast1_image")
        with pytest.raises(CaseReadOnly, match="approved and read-only; reopen it"):
            project.save_case_labels("breast1_image", labels, project.schema.label_table(), volume=volume)
        with pytest.raises(CaseReadOnly):
            project.set_status("breast1_image", "done")
        reopened = project.reopen("breast1_image", "tumour edge is off", user="carol")
        assert reopened.status is CaseStatus.NEEDS_FIX and not project.is_read_only(reopened)
        assert reopened.history[-1].comment == "tumour edge is off" and reopened.history[-1].user == "carol"
        project.save_case_labels("breast1_image", labels, project.schema.label_table(), volume=volume)
    opened = project.open_case("breast1_image")
    assert not opened.read_only


def test_an_approved_case_opens_read_only_with_the_reason(project):
    with project.editing("ct3"):
        project.set_status("ct3", "approved")
    opened = project.open_case("ct3")
    assert opened.read_only and "approved" in opened.read_only_reason
    assert opened.lock is not None  # held, so the reviewer can reopen it


def test_changes_need_the_case_lock(project):
    with pytest.raises(CaseNotLocked, match="not locked by this app"):
        project.set_status("ct3", "done")
    with pytest.raises(CaseNotLocked):
        project.save_view_state("ct3", ViewState(slice_index=1))


def test_comment_active_time_and_view_state_without_labels(project):
    with project.editing("ct3"):
        project.set_comment("ct3", "contrast phase unclear")
        project.add_active_seconds("ct3", 30)
        project.add_active_seconds("ct3", 12.5)
        project.save_view_state("ct3", ViewState(slice_index=2, window_center=50, window_width=350, active_label=5))
    record = project.record("ct3")
    assert record.comment == "contrast phase unclear" and record.active_seconds == pytest.approx(42.5)
    assert record.view_state == ViewState(2, 50.0, 350.0, 5)
    assert record.status is CaseStatus.TO_DO and not record.labels_saved


def test_status_words_are_parsed():
    assert CaseStatus.parse("to do") is CaseStatus.TO_DO
    assert CaseStatus.parse("Needs-Fix") is CaseStatus.NEEDS_FIX
    assert CaseStatus.parse_list("approved, done") == [CaseStatus.APPROVED, CaseStatus.DONE]
    assert CaseStatus.IN_PROGRESS.text == "in progress"
    with pytest.raises(ProjectError, match="unknown case status 'finished'"):
        CaseStatus.parse("finished")


def test_next_and_previous_case(project):
    ids = project.case_ids
    assert project.neighbour_case_id(ids[0]) == ids[1]
    assert project.neighbour_case_id(ids[0], step=-1) is None
    assert project.neighbour_case_id(ids[-1]) is None
    with project.editing(ids[1]):
        project.set_status(ids[1], "done")
    assert project.neighbour_case_id(ids[0], statuses=[CaseStatus.TO_DO]) == ids[2]
    assert project.neighbour_case_id(ids[3], step=-1, statuses=["done"]) == ids[1]
