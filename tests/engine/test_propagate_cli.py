"""``medsam-gui segment --propagate`` writes a 3D mask, here as a DICOM SEG."""

from __future__ import annotations

import numpy as np
import pytest

from medsam_gui.cli import main
from medsam_gui.engine.propagate import box_of_mask
from medsam_gui.io.label_import import import_labels
from medsam_gui.io.load import open_volume
from medsam_gui.io.resample import resample_onto


@pytest.mark.slow
def test_segment_propagate_to_dicom_seg(data_root, tmp_path, capsys):
    series = data_root / "dcmqi" / "ct-3slice"
    volume = open_volume(series)
    liver = resample_onto(volume, data_root / "dcmqi" / "liver_seg.nrrd") > 0
    x0, y0, x1, y1 = box_of_mask(liver[1])
    output = tmp_path / "liver.dcm"
    argv = ["segment", str(series), "--box", str(x0), str(y0), str(x1), str(y1), "--slice", "1", "--propagate"]
    assert main([*argv, "--device", "cpu", "-o", str(output)]) == 0
    assert "propagated to slices 0..2" in capsys.readouterr().out
    labels = import_labels(output, volume).labels > 0
    assert labels.any(axis=(1, 2)).all()  # all three slices carry the liver
    dice = 2 * (labels & liver).sum() / (labels.sum() + liver.sum())
    assert dice > 0.85
    assert main([*argv, "--slice-range", "1", "1", "-o", str(tmp_path / "one.dcm")]) == 0
    one_slice = import_labels(tmp_path / "one.dcm", volume).labels > 0
    assert np.flatnonzero(one_slice.any(axis=(1, 2))).tolist() == [1]
    assert main([*argv, "--slice-range", "2", "2", "-o", str(tmp_path / "bad.dcm")]) == 2
    assert "does not contain the key slice" in capsys.readouterr().err
