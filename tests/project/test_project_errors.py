"""Clear errors: case files deleted behind the app's back, a project folder that cannot be written."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import numpy as np
import pytest
from project_helpers import paint

from medsam_gui import cli
from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.project import CaseFileMissing, NotAProjectError, Project, ProjectReadOnly


def test_a_deleted_case_record(project, capsys):
    record_path = project.record_path("ct3")
    record_path.unlink()
    with pytest.raises(CaseFileMissing) as caught:
        project.open_case("ct3")
    assert caught.value.path == str(record_path) and "missing" in str(caught.value)
    assert not project.holds_lock("ct3")
    # everything else keeps working
    records = {record.case_id: record for record in project.records()}
    assert records["ct3"].problem is not None and str(record_path) in records["ct3"].problem
    assert records["example_ct_sm"].problem is None
    assert project.open_case("example_ct_sm").volume.shape_zyx == (30, 101, 122)
    assert cli.main(["project", "status", str(project.folder)]) == 0
    out = capsys.readouterr().out
    assert "record error      1" in out and "ERROR" in out and "case.json" in out


def test_saving_after_the_record_was_deleted_keeps_the_work(project):
    volume = project.open_volume("ct3")
    labels, _ = paint(volume.shape_zyx)
    with project.editing("ct3"):
        project.record_path("ct3").unlink()
        record = project.save_case_labels("ct3", labels, project.schema.label_table(), volume=volume)
    assert record.labels_saved and "recreated" in record.history[0].comment
    assert np.array_equal(project.load_case_labels("ct3", volume)[0], labels)


def test_deleted_saved_labels(project):
    volume = project.open_volume("breast1_image")
    labels, _ = paint(volume.shape_zyx)
    with project.editing("breast1_image"):
        project.save_case_labels("breast1_image", labels, project.schema.label_table(), volume=volume)
    project.labels_path("breast1_image").unlink()
    with pytest.raises(CaseFileMissing, match="saved labels of case 'breast1_image' are missing") as caught:
        project.load_case_labels("breast1_image", volume)
    assert caught.value.path == str(project.labels_path("breast1_image"))


def test_a_missing_scan_is_named(project, images_folder):
    (images_folder / "example_ct_sm.nii.gz").unlink()
    with pytest.raises(MedsamGuiError, match="example_ct_sm.nii.gz: no such file or folder"):
        project.open_case("example_ct_sm")
    assert not project.holds_lock("example_ct_sm")


def test_not_a_project(tmp_path):
    with pytest.raises(NotAProjectError, match="no project.json"):
        Project.open(tmp_path)


def _make_read_only(folder) -> tuple[str, list]:
    """Make ``folder`` (recursively) unwritable for this process; returns (how, undo commands).

    As a normal user, chmod does it. As root chmod is ignored, so the folders get the
    immutable attribute (chattr +i, ext4/xfs), which stops root too: the situation of
    a share mounted read-only. Skips the test when neither works here.
    """
    probe = folder / f".probe-{uuid.uuid4().hex}"
    if getattr(os, "geteuid", lambda: 1)() != 0:
        for root, dirs, _files in os.walk(folder):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o555)
        os.chmod(folder, 0o555)
        return "chmod", [["chmod", "-R", "u+w", str(folder)]]
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: cannot make a folder read-only here")
    done = subprocess.run(["chattr", "-R", "+i", str(folder)], capture_output=True, text=True)
    undo = [["chattr", "-R", "-i", str(folder)]]
    try:
        probe.write_text("x")
    except OSError:
        return "chattr +i", undo
    for command in undo:
        subprocess.run(command, check=False)
    probe.unlink(missing_ok=True)
    pytest.skip(f"cannot make a folder read-only as root here (chattr: {done.stderr.strip() or 'no effect'})")


def test_a_read_only_project_folder(project):
    volume = project.open_volume("ct3")
    labels, _ = paint(volume.shape_zyx)
    project.acquire_lock("ct3")
    breast = project.open_volume("breast1_image")
    with project.editing("breast1_image"):
        project.save_case_labels("breast1_image", paint(breast.shape_zyx)[0], project.schema.label_table(), volume=breast)
    how, undo = _make_read_only(project.folder)
    try:
        with pytest.raises(ProjectReadOnly) as caught:
            project.save_case_labels("ct3", labels, project.schema.label_table(), volume=volume)
        assert caught.value.path == str(project.case_folder("ct3"))
        assert "cannot save case 'ct3': the project folder cannot be written" in str(caught.value)
        # another case cannot be locked: it opens read-only, with the reason
        with pytest.raises(ProjectReadOnly, match="not writable"):
            project.acquire_lock("example_ct_sm")
        opened = project.open_case("breast1_image", user="bob")
        assert opened.read_only and "not writable" in opened.read_only_reason and opened.labels_saved
        # reading keeps working
        assert len(project.records()) == 4 and project.record("breast1_image").labels_saved
        assert Project.open(project.folder).case_ids == project.case_ids
    finally:
        for command in undo:
            subprocess.run(command, check=False)
    assert how in ("chmod", "chattr +i")
    assert not project.record("ct3").labels_saved  # nothing half-saved
