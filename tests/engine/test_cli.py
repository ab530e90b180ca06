"""``medsam-gui segment`` and ``medsam-gui models`` end to end."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from engine_testkit import box_fill, box_of, dice

from medsam_gui.cli import main


@pytest.mark.slow
def test_segment_writes_a_labelmap_on_the_volume_grid(data_root, tmp_path, capsys):
    from medsam_gui.io.load import open_volume
    from medsam_gui.io.resample import resample_onto

    scan = data_root / "dcmqi" / "ct-3slice"
    volume = open_volume(scan)
    truth = resample_onto(volume, data_root / "dcmqi" / "liver_seg.nrrd")[2] > 0
    box = box_of(truth)
    output = tmp_path / "liver.nrrd"
    code = main(["segment", str(scan), "--slice", "2", "--box", *map(str, box), "--device", "cpu", "-o", str(output)])
    assert code == 0 and "slice 2" in capsys.readouterr().out
    written = sitk.ReadImage(str(output))
    assert np.allclose(written.GetSpacing(), volume.spacing_xyz) and np.allclose(written.GetOrigin(), volume.origin_xyz)
    labels = resample_onto(volume, output)
    assert labels[0].sum() == 0 and labels[1].sum() == 0
    assert dice(labels[2] > 0, truth) > dice(box_fill(box, truth.shape), truth)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--box", "1", "2", "3", "4", "-o", "out.nii.gz"], "--slice Z is needed"),
        (["--slice", "0", "-o", "out.nii.gz"], "give a --box"),
        (["--slice", "0", "--box", "1", "2", "3", "4", "-o", "out.txt"], "unsupported output type"),
        (["--slice", "7", "--box", "1", "2", "3", "4", "-o", "out.nii.gz"], "outside the volume"),
        (["--slice", "0", "--box", "900", "900", "990", "990", "-o", "out.nii.gz"], "lies outside"),
        (["--slice", "0", "--box", "1", "2", "3", "4", "--point", "5", "5", "3", "-o", "out.nii.gz"], "label 1"),
    ],
)
def test_segment_bad_input_is_one_line_and_exit_2(data_root, tmp_path, capsys, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    code = main(["segment", str(data_root / "dcmqi" / "ct-3slice"), "--device", "cpu", *arguments])
    error = capsys.readouterr().err.strip()
    assert code == 2 and message in error and len(error.splitlines()) == 1


@pytest.mark.slow
def test_segment_png_for_a_2d_image(data_root, tmp_path):
    from PIL import Image

    image = data_root / "sammed2d" / "images" / "amos_0006_90.png"
    truth = np.asarray(Image.open(data_root / "sammed2d" / "masks" / "amos_0006_90_liver_000.png").convert("L")) > 0
    box = box_of(truth)
    output = tmp_path / "liver.png"
    assert main(["segment", str(image), "--box", *map(str, box), "--device", "cpu", "-o", str(output)]) == 0
    mask = np.asarray(Image.open(output)) > 0
    assert mask.shape == truth.shape and dice(mask, truth) > dice(box_fill(box, truth.shape), truth)


def test_models_lists_the_bundled_model_as_available(capsys):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    lite = next(line for line in lines if line.startswith("litemedsam"))
    assert " yes " in lite and lite.rstrip().endswith("lite_medsam.pth")
    medsam = next(line for line in lines if line.startswith("medsam "))
    assert " download " in medsam  # isolated cache: not downloaded
