"""``medsam-gui info`` and ``convert`` through cli.main: output, exit codes, files."""

import json

import numpy as np
import pytest
import SimpleITK as sitk

from medsam_gui import cli
from medsam_gui.io.load import open_volume


def test_info_json_describes_the_display_volume(data_root, capsys):
    assert cli.main(["info", str(data_root / "totalseg" / "example_ct_dicom"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["size_xyz"] == [512, 512, 20] and info["modality"] == "CT"
    assert info["spacing_xyz"] == pytest.approx([0.976562, 0.976562, 2.0], abs=1e-5)
    assert info["origin_xyz"] == pytest.approx([-249.511719, -437.511719, -804.5], abs=1e-5)
    assert info["direction"] == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert info["intensity_range"] == [-1024.0, 1839.0]


def test_info_text_lists_series_of_an_ambiguous_folder(data_root, capsys):
    folder = data_root / "dicom2nifti" / "generic" / "anatomical"
    assert cli.main(["info", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "3 image series" in out and out.count("MR ") == 3 and "64x28x4" in out


def test_info_text_shows_warnings(data_root, capsys):
    assert cli.main(["info", str(data_root / "dicom2nifti" / "failing" / "gantrytilting" / "001")]) == 0
    out = capsys.readouterr().out
    assert "size (x, y, z):  512 x 512 x 4" in out and "warning:         gantry tilt of 14.0 degrees" in out


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".mha"])
def test_convert_writes_what_the_app_holds(data_root, tmp_path, capsys, suffix):
    source = data_root / "dicom2nifti" / "hitachi" / "anatomical" / "001"  # oblique, reoriented
    output = tmp_path / f"out{suffix}"
    assert cli.main(["convert", str(source), "-o", str(output)]) == 0
    assert f"wrote {output}" in capsys.readouterr().out
    volume = open_volume(source)
    image = sitk.ReadImage(str(output))
    assert np.array_equal(sitk.GetArrayFromImage(image), volume.voxels)
    assert np.allclose(image.GetSpacing(), volume.spacing_xyz, atol=1e-4)
    assert np.allclose(image.GetOrigin(), volume.origin_xyz, atol=1e-3)
    assert np.allclose(np.reshape(image.GetDirection(), (3, 3)), volume.direction, atol=1e-4)


def test_convert_with_series_choice(data_root, tmp_path, capsys):
    folder = data_root / "dicom2nifti" / "generic" / "anatomical"
    output = tmp_path / "chosen.nrrd"
    assert cli.main(["convert", str(folder), "-o", str(output)]) == 2
    assert "choose one" in capsys.readouterr().err and not output.exists()
    cli.main(["info", str(folder), "--json"])
    series = json.loads(capsys.readouterr().out)["series"]
    small = next(s for s in series if s["size_xyz"] == [64, 28, 4])
    assert cli.main(["convert", str(folder), "--series", small["series_instance_uid"], "-o", str(output)]) == 0
    assert sitk.ReadImage(str(output)).GetSize() == (64, 28, 4)


@pytest.mark.parametrize("command", ["info", "convert"])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, command):
    bad = tmp_path / "random.dcm"
    bad.write_bytes(b"\x00\x01garbage" * 100)
    output = tmp_path / "out.nii.gz"
    argv = [command, str(bad)] + (["-o", str(output)] if command == "convert" else [])
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"medsam-gui: error: {bad}: not a recognised image file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["random.dcm"]


def test_convert_refuses_unknown_output_type(data_root, tmp_path, capsys):
    output = tmp_path / "out.png"
    assert cli.main(["convert", str(data_root / "dcmqi" / "ct-3slice"), "-o", str(output)]) == 2
    assert "unsupported output type" in capsys.readouterr().err and not output.exists()
