"""``medsam-gui project init|status|export`` through cli.main: output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

from project_helpers import CASE_SOURCES, paint

from medsam_gui import cli
from medsam_gui.project import Project


def test_init_status_and_export(tmp_path, images_folder, capsys):
    folder = tmp_path / "proj"
    code = cli.main(["project", "init", str(folder), "--images", str(images_folder), "--labels", "liver,spleen",
                     "--name", "abdomen", "--user", "alice"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "created project 'abdomen'" in captured.out and "4 cases (2 DICOM series, 2 files)" in captured.out
    assert "indexing: reading headers" in captured.err  # progress lines

    project = Project.open(folder, user="alice")
    volume = project.open_volume("ct3")
    labels, _ = paint(volume.shape_zyx)
    labels[labels == 5] = 2
    with project.editing("ct3"):
        project.save_case_labels("ct3", labels, project.schema.label_table(), active_seconds=125, volume=volume)
        project.set_status("ct3", "approved", "ok")
    lock = project.acquire_lock("example_ct_sm")

    assert cli.main(["project", "status", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "approved          1" in out and "to do             3" in out
    ct3_row = next(line for line in out.splitlines() if line.startswith("ct3 "))
    assert "approved" in ct3_row and "alice" in ct3_row and "2:05" in ct3_row and ct3_row.endswith("ok")
    assert "alice@" in next(line for line in out.splitlines() if line.startswith("example_ct_sm "))

    assert cli.main(["project", "status", str(folder), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["counts"] == {"to_do": 3, "in_progress": 0, "done": 0, "needs_fix": 0, "approved": 1}
    cases = {case["case_id"]: case for case in document["cases"]}
    assert cases["ct3"]["label_count"] == 2 and cases["ct3"]["active_seconds"] == 125
    assert cases["example_ct_sm"]["locked_by"]["user"] == "alice"
    lock.release()

    out_dir = tmp_path / "dataset"
    assert cli.main(["project", "export", str(folder), "--format", "nnunet", "--status", "approved,done",
                     "-o", str(out_dir)]) == 0
    captured = capsys.readouterr()
    assert f"exported 1 case(s) as nnunet to {out_dir}" in captured.out
    assert "export: exported 1 of 1 cases" in captured.err
    assert json.loads((out_dir / "dataset.json").read_text())["numTraining"] == 1
    assert (out_dir / "labelsTr" / "ct3.nii.gz").is_file() and (out_dir / "report.csv").is_file()


def test_export_with_nothing_matching_exits_2(project, tmp_path, capsys):
    code = cli.main(["project", "export", str(project.folder), "--format", "nifti", "--status", "approved",
                     "-o", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert "nothing to export" in err and "approved" in err
    assert cli.main(["project", "export", str(project.folder), "--format", "nnunet", "-o", str(tmp_path / "o")]) == 2
    assert "nothing to export: no case has saved labels" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_seg_export_of_non_dicom_cases_only_reports_the_skips(project, tmp_path, capsys):
    volume = project.open_volume("example_ct_sm")
    with project.editing("example_ct_sm"):
        project.save_case_labels("example_ct_sm", paint(volume.shape_zyx)[0], project.schema.label_table(), volume=volume)
    assert cli.main(["project", "export", str(project.folder), "--format", "seg", "-o", str(tmp_path / "seg")]) == 2
    err = capsys.readouterr().err
    assert "skipped example_ct_sm: not a DICOM case" in err and "nothing exported" in err


def test_init_from_a_manifest_lists_unreadable_rows(tmp_path, data_root, capsys):
    manifest = tmp_path / "cases.csv"
    manifest.write_text(f"image\n{data_root / CASE_SOURCES['example_ct_sm']}\nmissing/scan.nii.gz\n")
    assert cli.main(["project", "init", str(tmp_path / "p"), "--images", str(manifest), "--labels", "liver"]) == 0
    captured = capsys.readouterr()
    assert "1 cases" in captured.out
    assert "unreadable: ../missing/scan.nii.gz: no such file or folder (manifest row 2)" in captured.err


def test_init_errors_are_one_line_and_exit_2(tmp_path, images_folder, capsys):
    assert cli.main(["project", "init", str(tmp_path / "p"), "--images", str(images_folder)]) == 2
    assert "--labels" in capsys.readouterr().err
    assert cli.main(["project", "init", str(tmp_path / "p"), "--images", str(images_folder),
                     "--labels", "liver,Liver"]) == 2
    assert "'Liver' repeats 'liver'" in capsys.readouterr().err
    assert cli.main(["project", "status", str(tmp_path)]) == 2
    assert "not a medsam-gui project" in capsys.readouterr().err


def test_the_project_command_loads_neither_qt_nor_torch(project):
    code = (
        "import importlib.abc, sys\n"
        "class Blocker(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('PyQt6', 'torch', 'transformers'):\n"
        "            raise ImportError('must not be imported: ' + name)\n"
        "sys.meta_path.insert(0, Blocker())\n"
        "from medsam_gui import cli\n"
        f"sys.exit(cli.main(['project', 'status', {str(project.folder)!r}, '--json']))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["case_count"] == 4
