"""``medsam-gui batch`` end to end on real scans with the bundled LiteMedSAM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from batch_testkit import KIDNEY_LEFT, LIVER, SPLEEN, dice, organ_row, read_report, write_manifest

from medsam_gui.cli import main
from medsam_gui.io.load import open_volume
from medsam_gui.io.resample import resample_onto

SMALL_CT = "totalseg/example_ct_sm.nii.gz"


def _organ_manifest(data_root: Path, labels: np.ndarray, path: Path) -> Path:
    image = str(data_root / SMALL_CT)
    return write_manifest(path, [
        organ_row(image, "liver", labels[15] == LIVER, slice_index=15),
        organ_row(image, "spleen", labels[15] == SPLEEN, slice_index=15),
        organ_row(image, "kidney_left", labels[11] == KIDNEY_LEFT, z_range=(10, 12)),  # a 3D box
    ])


def _files_state(output_dir: Path) -> dict[str, int]:
    return {str(path.relative_to(output_dir)): path.stat().st_mtime_ns for path in output_dir.rglob("*") if path.is_file()}


def _done_markers(folder: Path) -> list[Path]:
    """The done-markers in place (not io.atomic's hidden temporary files)."""
    return sorted(path for path in folder.glob("*.json") if not path.name.startswith(".")) if folder.is_dir() else []


def _temporaries(output_dir: Path) -> list[Path]:
    return [path for path in output_dir.rglob("*") if ".tmp" in path.name]


def _centre_box_manifest(images: list[Path], path: Path) -> Path:
    """A manifest with one row per image: a box over the middle half of its middle slice."""
    rows = []
    for image in images:
        volume = open_volume(image)
        _, height, width = volume.shape_zyx
        rows.append({"image": str(image), "label": "thing", "slice": volume.shape_zyx[0] // 2,
                     "x0": width // 4, "y0": height // 4, "x1": width * 3 // 4, "y1": height * 3 // 4})
    return write_manifest(path, rows)


@pytest.mark.slow
def test_batch_segments_the_organs_and_a_rerun_recomputes_nothing(data_root, small_ct, tmp_path, capsys):
    volume, labels = small_ct
    manifest = _organ_manifest(data_root, labels, tmp_path / "organs.csv")
    output = tmp_path / "out"
    argv = ["batch", str(manifest), "-o", str(output), "--device", "cpu", "--model", "litemedsam"]
    assert main(argv) == 0
    report = read_report(output)
    assert [row["status"] for row in report] == ["ok"] * 3 and all(float(row["predicted_iou"]) > 0 for row in report)
    labelmap = next(output.glob("example_ct_sm*_labels.nii.gz"))
    written = sitk.ReadImage(str(labelmap))
    assert written.GetSize() == sitk.ReadImage(str(data_root / SMALL_CT)).GetSize()  # the scan's own grid
    result = resample_onto(volume, labelmap)
    truth = {1: labels == LIVER, 2: labels == SPLEEN, 3: labels == KIDNEY_LEFT}
    assert dice(result[15] == 1, truth[1][15]) > 0.7
    assert dice(result[15] == 2, truth[2][15]) > 0.7
    kidney_slices = np.flatnonzero((result == 3).any(axis=(1, 2))).tolist()
    assert kidney_slices == [10, 11, 12]  # carried through z0..z1, not beyond
    assert dice(result[10:13] == 3, truth[3][10:13]) > 0.7
    assert (output / "labels.csv").read_text().splitlines()[1:] == [
        "1,liver,221,130,101", "2,spleen,157,108,162", "3,kidney_left,185,102,83"]
    assert int(report[0]["voxels"]) == int((result == 1).sum())
    before = _files_state(output)
    capsys.readouterr()

    assert main(argv) == 0  # the same command again: everything done, nothing recomputed
    assert "1 image(s) done earlier, skipped" in capsys.readouterr().out
    after = _files_state(output)
    assert {name: mtime for name, mtime in after.items() if name != "report.csv"} == \
        {name: mtime for name, mtime in before.items() if name != "report.csv"}
    assert [row["resumed"] for row in read_report(output)] == ["1"] * 3
    assert [row["voxels"] for row in read_report(output)] == [row["voxels"] for row in report]

    changed = manifest.read_text().replace("spleen,15,", "spleen,16,")  # a changed row: that image again
    manifest.write_text(changed)
    assert main(argv) == 0
    assert _files_state(output)[labelmap.name] != before[labelmap.name]
    assert [row["resumed"] for row in read_report(output)] == ["0"] * 3


@pytest.mark.slow
def test_bad_rows_are_reported_with_reasons_and_the_good_rows_done(data_root, small_ct, tmp_path, capsys):
    _, labels = small_ct
    image = str(data_root / SMALL_CT)
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"this is not a NIfTI file at all")
    liver = organ_row(image, "liver", labels[15] == LIVER, slice_index=15)
    manifest = write_manifest(tmp_path / "m.csv", [
        liver,
        {**liver, "image": "missing/scan.nii.gz"},
        {**liver, "x0": 500, "y0": 500, "x1": 600, "y1": 600},  # box outside the 122 x 101 slice
        {**liver, "slice": 30},  # slice out of range (0..29)
        {**liver, "image": "broken.nii.gz"},  # unreadable
        {**liver, "slice": "", "z0": 25, "z1": 40},  # 3D box past the last slice
        {**liver, "x0": "left"},
        {**liver, "label": "300"},
        {**liver, "image": str(data_root / "dcmqi" / "ct-3slice"), "slice": 1, "label": "spleen"},  # another good image
    ])
    output = tmp_path / "out"
    assert main(["batch", str(manifest), "-o", str(output), "--device", "cpu"]) == 1
    report = {int(row["row"]): row for row in read_report(output)}
    assert report[1]["status"] == "ok" and int(report[1]["voxels"]) > 0
    assert report[9]["status"] == "ok"
    reasons = {number: row["error"] for number, row in report.items() if row["status"] == "failed"}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 8]
    assert "no such file or folder" in reasons[2]
    assert "lies outside the 122 x 101 slice" in reasons[3]
    assert "slice 30 is outside the volume (0..29)" in reasons[4]
    assert "broken.nii.gz: not a readable NIfTI file" in reasons[5]
    assert "z0..z1 25..40 is outside the volume" in reasons[6]
    assert reasons[7] == "x0 is not a number ('left')"
    assert reasons[8] == "label value 300 is outside 1..255"
    out = capsys.readouterr().out
    assert "rows ok: 2, failed 7" in out and "row 4 (" in out
    result = resample_onto(small_ct[0], next(output.glob("example_ct_sm*_labels.nii.gz")))
    assert dice(result[15] == 1, labels[15] == LIVER) > 0.7


@pytest.mark.slow
def test_a_killed_run_resumes_without_recomputing_finished_images(data_root, tmp_path):
    images = [data_root / SMALL_CT, data_root / "pyradiomics" / "breast1_image.nrrd", data_root / "dcmqi" / "ct-3slice"]
    manifest = _centre_box_manifest(images, tmp_path / "m.csv")
    output = tmp_path / "out"
    command = [sys.executable, "-m", "medsam_gui", "batch", str(manifest), "-o", str(output), "--device", "cpu"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        markers = output / ".batch"
        deadline = time.monotonic() + 240
        while not _done_markers(markers):
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "no image finished in time"
            time.sleep(0.05)  # polling for the marker, not waiting for a guessed duration
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
    finished = _done_markers(markers)
    done_labelmaps = {path.stem: output / f"{path.stem}_labels.nii.gz" for path in finished}
    for labelmap in done_labelmaps.values():  # every finished image's labelmap is whole
        assert sitk.ReadImage(str(labelmap)).GetSize()
    mtimes = {name: path.stat().st_mtime_ns for name, path in done_labelmaps.items()}

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=400)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(finished)} image(s) done earlier, skipped" in rerun.stdout
    assert {name: path.stat().st_mtime_ns for name, path in done_labelmaps.items()} == mtimes
    report = read_report(output)
    assert [row["status"] for row in report] == ["ok"] * 3
    assert sum(row["resumed"] == "1" for row in report) == len(finished)
    assert _temporaries(output) == []
    assert len(list(output.glob("*_labels.nii.gz"))) == 3


@pytest.mark.slow
def test_embeddings_only_fills_the_cache_the_app_reads(data_root, tmp_path, monkeypatch, capsys):
    series = data_root / "dcmqi" / "ct-3slice"
    volume = open_volume(series)
    image = str(series)
    spine = organ_row(image, "spine", resample_onto(volume, data_root / "dcmqi" / "spine_seg.nrrd")[1] > 0,
                      slice_index=1)  # a small box: segmented on an ROI-zoom crop, encoded on its own
    liver = organ_row(image, "liver", resample_onto(volume, data_root / "dcmqi" / "liver_seg.nrrd")[1] > 0,
                      slice_index=1)
    manifest = write_manifest(tmp_path / "m.csv", [spine, liver])
    cache = tmp_path / "shared-cache"
    argv = ["batch", str(manifest), "-o", str(tmp_path / "out"), "--device", "cpu", "--embeddings-only",
            "--cache-dir", str(cache)]
    assert main(argv) == 0
    assert "2 embeddings computed, 0 already in the cache" in capsys.readouterr().out  # slice 1 and the crop
    assert not list((tmp_path / "out").glob("*.nii.gz"))

    from medsam_gui.engine import Engine

    monkeypatch.setenv("MEDSAM_GUI_CACHE_DIR", str(cache))  # what the app honours
    engine = Engine.create(device="cpu")
    encodes = []
    original_encode = engine.backend.encode
    monkeypatch.setattr(engine.backend, "encode", lambda image: encodes.append(1) or original_encode(image))
    engine.set_volume(open_volume(image))
    assert engine.is_encoded(1)
    for row in (spine, liver):  # no EmbeddingNotReady, no encoder pass
        prediction = engine.predict(1, box_xyxy=(row["x0"], row["y0"], row["x1"], row["y1"]))
        assert prediction.mask.any()
    assert encodes == []

    assert main(argv) == 0  # again: all from the cache
    assert "0 embeddings computed, 2 already in the cache" in capsys.readouterr().out


@pytest.mark.slow
def test_ray_local_gives_the_same_masks_as_in_process(data_root, small_ct, tmp_path, ray_session):
    _, labels = small_ct
    image = str(data_root / SMALL_CT)
    ct3 = data_root / "dcmqi" / "ct-3slice"
    liver_3 = resample_onto(open_volume(ct3), data_root / "dcmqi" / "liver_seg.nrrd")[1] > 0
    manifest = write_manifest(tmp_path / "m.csv", [
        organ_row(image, "liver", labels[15] == LIVER, slice_index=15),
        organ_row(image, "spleen", labels[15] == SPLEEN, slice_index=15),
        organ_row(str(ct3), "liver", liver_3, slice_index=1),
    ])
    common = ["--device", "cpu", "--cache-dir", str(tmp_path / "cache")]
    # the same embeddings for both runs (fresh fp32 ones and fp16 ones from disk may differ by a voxel)
    assert main(["batch", str(manifest), "-o", str(tmp_path / "warm"), "--embeddings-only", *common]) == 0
    assert main(["batch", str(manifest), "-o", str(tmp_path / "here"), *common]) == 0
    assert main(["batch", str(manifest), "-o", str(tmp_path / "ray"), "--ray", "local", "--workers", "2", *common]) == 0
    assert not ray_session.is_initialized()  # the batch shut its local instance down
    here = sorted(path.name for path in (tmp_path / "here").glob("*_labels.nii.gz"))
    assert len(here) == 2 and here == sorted(path.name for path in (tmp_path / "ray").glob("*_labels.nii.gz"))
    for name in here:
        expected = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "here" / name)))
        assert expected.any()
        assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "ray" / name))), expected)
    drop = ("seconds", "resumed")
    assert [{k: v for k, v in row.items() if k not in drop} for row in read_report(tmp_path / "ray")] == \
        [{k: v for k, v in row.items() if k not in drop} for row in read_report(tmp_path / "here")]


@pytest.mark.slow
def test_ctrl_c_finishes_the_image_in_hand_and_a_rerun_does_the_rest(data_root, tmp_path):
    images = [data_root / "dcmqi" / "ct-3slice", data_root / SMALL_CT, data_root / "pyradiomics" / "breast1_image.nrrd"]
    manifest = _centre_box_manifest(images, tmp_path / "m.csv")
    output = tmp_path / "out"
    command = [sys.executable, "-m", "medsam_gui", "batch", str(manifest), "-o", str(output), "--device", "cpu"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        markers = output / ".batch"
        deadline = time.monotonic() + 240
        while not _done_markers(markers):  # the first image is written: the second is in hand
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "no image finished in time"
            time.sleep(0.05)  # polling for the marker, not waiting for a guessed duration
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=240)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
    assert process.returncode == 130, stderr
    assert "stopping after the current image" in stderr
    assert "stopped; run the same command again to resume" in stdout
    assert "Traceback" not in stderr
    finished = _done_markers(markers)
    assert 1 <= len(finished) < 3  # the image in hand was finished, the next one never started
    report = read_report(output)
    assert sorted(row["status"] for row in report).count("ok") == len(finished)
    assert _temporaries(output) == []
    mtimes = {path.stem: (output / f"{path.stem}_labels.nii.gz").stat().st_mtime_ns for path in finished}

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=400)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(finished)} image(s) done earlier, skipped" in rerun.stdout
    assert {name: (output / f"{name}_labels.nii.gz").stat().st_mtime_ns for name in mtimes} == mtimes
    assert [row["status"] for row in read_report(output)] == ["ok"] * 3
