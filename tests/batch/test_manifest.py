"""Manifest parsing, usage errors and progress output: no model needed."""

from __future__ import annotations

import io
import json
import sys

import pytest
from batch_testkit import write_manifest

from medsam_gui.cli import main
from medsam_gui.cluster.manifest import folder_jobs, read_manifest
from medsam_gui.cluster.progress import Progress


def test_csv_and_json_lines_give_the_same_rows_and_label_values(tmp_path):
    rows = [
        {"image": "a.nii.gz", "label": "liver", "slice": 3, "x0": 1, "y0": 2, "x1": 30, "y1": 40},
        {"image": "a.nii.gz", "label": "2", "slice": 3, "x0": 1, "y0": 2, "x1": 30, "y1": 40},
        {"image": "sub/b.nrrd", "label": "spleen", "x0": 5, "y0": 6, "x1": 7, "y1": 8, "z0": 2, "z1": 6},
        {"image": "sub/b.nrrd", "label": "liver", "slice": "x", "x0": 5, "y0": 6, "x1": 7, "y1": 8},
    ]
    from_csv = read_manifest(write_manifest(tmp_path / "m.csv", rows))
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    from_json = read_manifest(tmp_path / "m.jsonl")
    for manifest in (from_csv, from_json):
        liver, two, spleen, bad = manifest.rows
        # numbers are kept, names take the lowest free values in order of appearance
        assert (liver.label_value, two.label_value, spleen.label_value) == (1, 2, 3)
        assert spleen.z_range == (2, 6) and spleen.slice_index is None
        assert bad.error == "slice is not a number ('x')"
        assert liver.image_path == str((tmp_path / "a.nii.gz").resolve())
        assert [job.output_stem for job in manifest.jobs] == ["a", "sub/b"]
        assert [len(job.rows) for job in manifest.jobs] == [2, 2]
        assert [label.name for label in manifest.labels] == ["liver", "label 2", "spleen"]


def test_same_output_name_for_two_images_gets_a_hash(tmp_path):
    rows = [{"image": name, "label": "x", "slice": 0, "x0": 0, "y0": 0, "x1": 1, "y1": 1} for name in ("a.nii.gz", "a.nrrd")]
    stems = [job.output_stem for job in read_manifest(write_manifest(tmp_path / "m.csv", rows)).jobs]
    assert len(set(stems)) == 2 and all(stem.startswith("a-") for stem in stems)


@pytest.mark.parametrize(
    "text, message",
    [
        ("image,label,x0,y0\na,b,1,2\n", "lacks the column(s) x1, y1"),
        ("image,label,x0,y0,x1,y1\na,b,1,2,3,4\n", "needs a slice column"),
        ("image,label,slice,x0,y0,x1,y1\n", "has no rows"),
    ],
)
def test_unreadable_manifest_exits_2_with_the_reason(tmp_path, capsys, text, message):
    manifest = tmp_path / "m.csv"
    manifest.write_text(text)
    assert main(["batch", str(manifest), "-o", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1


def test_missing_manifest_and_bad_usage_exit_2(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "out")]) == 2
    assert "no such manifest" in capsys.readouterr().err
    assert main(["batch", str(tmp_path), "-o", str(tmp_path / "out")]) == 2  # a folder without --embeddings-only
    assert "--embeddings-only" in capsys.readouterr().err


def test_ray_without_ray_installed_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails
    manifest = write_manifest(tmp_path / "m.csv", [{"image": "a.nii.gz", "label": "x", "slice": 0,
                                                    "x0": 0, "y0": 0, "x1": 1, "y1": 1}])
    assert main(["batch", str(manifest), "-o", str(tmp_path / "out"), "--ray", "local"]) == 2
    assert "pip install 'medsam-gui[cluster]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_folder_of_scans_gives_one_job_per_scan(tmp_path):
    (tmp_path / "a.nii.gz").write_bytes(b"")
    (tmp_path / "series").mkdir()
    (tmp_path / "notes.txt").write_text("not a scan")
    jobs = folder_jobs(tmp_path)
    assert [job.output_stem for job in jobs] == ["a", "series"] and all(job.all_slices for job in jobs)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_otherwise():
    plain = io.StringIO()
    progress = Progress(2, plain)
    progress.advance("a.nii.gz", 2, 1, 1.5)
    progress.advance("b.nii.gz", 0, 0, None, resumed=True)
    lines = plain.getvalue().splitlines()
    assert lines[0].startswith("[1/2] a.nii.gz: 2 ok, 1 failed, 1.5 s") and "rows/min" in lines[0] and "left" in lines[0]
    assert lines[1] == "[2/2] b.nii.gz: done earlier, skipped" and "\r" not in plain.getvalue()
    terminal = _Terminal()
    Progress(3, terminal).advance("a.nii.gz", 1, 0, 1.0)
    assert terminal.getvalue().startswith("\r\033[K[#########") and "1/3 images" in terminal.getvalue()
