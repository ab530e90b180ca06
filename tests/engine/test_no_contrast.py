"""A slice whose voxels all have one value (blank, or NaN replaced on reading) is refused
with a clear message instead of returning a mask of nothing in particular; and
``medsam-gui segment`` prints the warning of a DICOM SEG whose UIDs were invented."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from engine_testkit import box_of

from medsam_gui.cli import main
from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.core.volume import Volume
from medsam_gui.engine import EmbeddingNotReady, Engine
from medsam_gui.engine.cache import EmbeddingCache
from medsam_gui.io.load import open_volume

BOX_XYXY = (10, 10, 40, 40)


@pytest.fixture
def scan_with_a_nan_slice(tmp_path):
    """A float32 NIfTI ``[z, y, x]`` (4, 48, 48): noise on slices 0, 2, 3; slice 1 all NaN."""
    voxels = np.random.default_rng(0).normal(100.0, 20.0, (4, 48, 48)).astype(np.float32)
    voxels[1] = np.nan
    path = tmp_path / "nan_slice.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(voxels), str(path))
    return path


def test_predict_refuses_a_slice_without_contrast_and_queues_nothing(tiny_backend, scan_with_a_nan_slice):
    volume = open_volume(scan_with_a_nan_slice)
    lowest = float(volume.voxels.min())
    assert "2304 of 9216 voxels" in volume.warnings[0]
    engine = Engine(tiny_backend, EmbeddingCache(16.0, None))
    engine.set_volume(volume)
    with pytest.raises(MedsamGuiError) as refused:
        engine.predict(1, box_xyxy=BOX_XYXY)
    assert str(refused.value) == f"slice 1 has no contrast (every voxel is {lowest:g}): nothing to segment"
    assert engine.slice_states() == {}  # nothing was queued for encoding
    with pytest.raises(EmbeddingNotReady):  # a slice with contrast goes on as before
        engine.predict(2, box_xyxy=BOX_XYXY)


def test_contrast_of_a_slice_is_computed_once_per_volume(tiny_backend):
    voxels = np.random.default_rng(1).normal(0.0, 50.0, (3, 32, 32)).astype(np.int16)
    voxels[0] = 0
    volume = Volume(voxels, modality="CT")
    engine = Engine(tiny_backend, EmbeddingCache(16.0, None))
    engine.set_volume(volume)
    with pytest.raises(MedsamGuiError, match="every voxel is 0"):
        engine.predict(0, box_xyxy=BOX_XYXY)
    volume.voxels[0, 5, 5] = 100  # not looked at again for this volume: the answer was kept
    with pytest.raises(MedsamGuiError, match="no contrast"):
        engine.predict(0, points_xy=[(5, 5)], point_labels=[1])
    engine.set_volume(volume)  # a new volume is measured afresh
    with pytest.raises(EmbeddingNotReady):
        engine.predict(0, box_xyxy=BOX_XYXY)


def test_decoder_worker_reports_the_refusal_in_words(qtbot, tiny_backend, scan_with_a_nan_slice):
    from medsam_gui.ui.worker import DecodeRequest, DecoderWorker

    engine = Engine(tiny_backend, EmbeddingCache(16.0, None))
    engine.set_volume(open_volume(scan_with_a_nan_slice))
    decoder = DecoderWorker(engine)
    decoder.start()
    try:
        with qtbot.waitSignal(decoder.failed, timeout=10_000) as failed:
            decoder.submit(DecodeRequest(7, 1, BOX_XYXY, None, None))
    finally:
        decoder.stop()
    request_id, message = failed.args
    assert request_id == 7
    assert message.startswith("segmentation failed: slice 1 has no contrast (every voxel is ")
    assert message.endswith("): nothing to segment")


def test_segment_cli_refuses_a_blank_slice_in_one_line(tiny_sam_folder, tmp_path, capsys):
    path = tmp_path / "all_nan.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(np.full((3, 32, 32), np.nan, dtype=np.float32)), str(path))
    output = tmp_path / "mask.nii.gz"
    code = main(["segment", str(path), "--slice", "1", "--box", "2", "2", "20", "20",
                 "--model", str(tiny_sam_folder), "--device", "cpu", "-o", str(output)])
    error = capsys.readouterr().err.strip()
    assert code == 2 and not output.exists()
    # the last line: the model loader may draw a progress bar before it
    assert error.splitlines()[-1] == "medsam-gui: error: slice 1 has no contrast (every voxel is 0): nothing to segment"


@pytest.mark.slow
def test_segment_cli_prints_the_warning_of_a_seg_with_invented_uids(data_root, tmp_path, capsys):
    from medsam_gui.io.resample import resample_onto

    scan = data_root / "totalseg" / "example_ct_dicom"  # anonymised: empty Study/Series UIDs
    volume = open_volume(scan)
    liver = resample_onto(volume, data_root / "totalseg" / "example_seg_dicom.nii.gz") == 5
    slice_index = int(np.argmax(liver.sum(axis=(1, 2))))
    output = tmp_path / "liver.dcm"
    code = main(["segment", str(scan), "--slice", str(slice_index), "--box", *map(str, box_of(liver[slice_index])),
                 "--device", "cpu", "-o", str(output)])
    printed = capsys.readouterr().out.splitlines()
    assert code == 0 and output.exists()
    assert ("warning: the source series has no StudyInstanceUID and SeriesInstanceUID (anonymised?), so the DICOM SEG "
            "carries invented ones; a viewer or PACS may not link it to the scan") in printed


def test_propagation_stops_at_a_blank_slice_instead_of_failing(tiny_backend):
    """A volume whose last slices are padding (one value): the walk ends there with a reason."""
    from medsam_gui.engine.propagate import propagate

    voxels = np.random.default_rng(2).normal(0.0, 50.0, (6, 32, 32)).astype(np.int16)
    voxels[3:] = -1024
    engine = Engine(tiny_backend, EmbeddingCache(16.0, None))
    engine.set_volume(Volume(voxels, modality="CT"))
    key_mask = np.zeros((32, 32), dtype=bool)
    key_mask[8:24, 8:24] = True
    result = propagate(engine, 2, key_mask, 6, encode_inline=True)
    assert result.stop_reasons["up"] == "slice 3 has no contrast"
    assert not result.mask_zyx[3:].any()
