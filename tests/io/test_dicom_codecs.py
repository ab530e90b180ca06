"""Compressed grey frames decoded with the GIL released (io/dicom_codecs.py) equal pydicom's."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate, generate_frames

from medsam_gui.core.errors import UnreadableInputError
from medsam_gui.io import dicom_codecs
from medsam_gui.io.dicom_codecs import CODECS, decode_without_gil
from medsam_gui.io.load import open_volume

pytest.importorskip("imagecodecs", reason="imagecodecs is not installed: pydicom decodes every frame")


def _compressed_files(data_root):
    """Every DICOM file of the test data in a transfer syntax of CODECS, with its dataset."""
    for path in sorted(p for p in data_root.rglob("*") if p.is_file()):
        try:
            dataset = pydicom.dcmread(path)
        except Exception:
            continue
        if str(getattr(dataset.file_meta, "TransferSyntaxUID", "")) in CODECS and "PixelData" in dataset:
            yield path, dataset


def test_every_grey_frame_equals_pydicom_and_each_codec_is_used(data_root):
    used = {}
    for path, dataset in _compressed_files(data_root):
        fast = decode_without_gil(dataset)
        if int(dataset.get("SamplesPerPixel", 1)) != 1:
            assert fast is None, f"{path}: colour is pydicom's"
            continue
        assert fast is not None, f"{path}: a grey frame in {dataset.file_meta.TransferSyntaxUID.name} fell back"
        expected = dataset.pixel_array
        expected = expected[None] if expected.ndim == 2 else expected
        assert fast.dtype == expected.dtype and np.array_equal(fast, expected), path
        used.setdefault(CODECS[str(dataset.file_meta.TransferSyntaxUID)], []).append(int(dataset.PixelRepresentation))
    # the test data holds all three codestream kinds, signed (CT) and unsigned
    assert set(used) == set(CODECS.values())
    assert all(set(representations) == {0, 1} for representations in used.values()), used


def test_series_reads_the_same_without_imagecodecs(data_root, monkeypatch):
    folder = data_root / "totalseg" / "example_ct_dicom"
    with_codecs = open_volume(folder)
    monkeypatch.setattr(dicom_codecs, "imagecodecs", None)  # as on a machine without it
    assert decode_without_gil(pydicom.dcmread(next(folder.iterdir()))) is None
    without = open_volume(folder)
    assert with_codecs.voxels.dtype == without.voxels.dtype
    assert np.array_equal(with_codecs.voxels, without.voxels)
    assert with_codecs.voxels.min() == -1024  # RescaleIntercept applied: HU


def test_damaged_codestream_falls_back_and_names_the_file(data_root, tmp_path):
    source = data_root / "transfer_syntax" / "CT1_J2KR"
    dataset = pydicom.dcmread(source)
    frame = next(generate_frames(dataset.PixelData, number_of_frames=1))
    dataset.PixelData = encapsulate([frame[: len(frame) // 3]])  # a truncated codestream
    damaged = tmp_path / "damaged.dcm"
    dataset.save_as(damaged)
    assert decode_without_gil(pydicom.dcmread(damaged)) is None  # imagecodecs refused: pydicom's turn
    with pytest.raises(UnreadableInputError) as raised:
        open_volume(damaged)
    assert "damaged.dcm" in str(raised.value)
