"""The 17 transfer-syntax files decode; lossless ones give identical pixels."""

import numpy as np
import pytest

from medsam_gui.io.load import open_volume

LOSSLESS = [
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.90",
]
LOSSY = ["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.53", "1.2.840.10008.1.2.4.55", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.91"]


def _syntax_file(data_root, syntax):
    matches = [p for p in (data_root / "transfer_syntax").iterdir() if p.name.endswith(f"_{syntax}.dcm")]
    assert len(matches) == 1, syntax
    return matches[0]


@pytest.fixture(scope="module")
def reference_hu(data_root):
    return open_volume(data_root / "transfer_syntax" / "CTImage.dcm").voxels


@pytest.mark.parametrize("syntax", LOSSLESS)
def test_lossless_syntax_gives_identical_pixels(data_root, reference_hu, syntax):
    volume = open_volume(_syntax_file(data_root, syntax))
    assert volume.voxels.dtype == np.int16
    assert np.array_equal(volume.voxels, reference_hu)


@pytest.mark.parametrize("syntax", LOSSY)
def test_lossy_syntax_decodes_close_to_reference(data_root, reference_hu, syntax):
    volume = open_volume(_syntax_file(data_root, syntax))
    assert volume.shape_zyx == reference_hu.shape
    error = np.abs(volume.voxels.astype(np.float64) - reference_hu)
    assert np.median(error) < 40.0  # 8-bit baseline keeps ~32 HU steps; 12-bit/JPEG-LS/J2K far less
    assert np.corrcoef(volume.voxels.ravel(), reference_hu.ravel())[0, 1] > 0.99


def test_other_ct_files_in_folder(data_root):
    j2k = open_volume(data_root / "transfer_syntax" / "CT1_J2KR")
    assert j2k.shape_zyx == (1, 512, 512) and j2k.modality == "CT" and j2k.voxels.min() == -3024
    fragmented = open_volume(data_root / "transfer_syntax" / "CT0012.fragmented_no_bot_jpeg_baseline.51.dcm")
    uncompressed = open_volume(data_root / "enhanced" / "eCT_Supplemental.dcm")
    assert fragmented.shape_zyx == (2, 512, 512)
    assert np.allclose(fragmented.origin_xyz, uncompressed.origin_xyz)
    assert np.corrcoef(fragmented.voxels.ravel(), uncompressed.voxels.ravel())[0, 1] > 0.98


@pytest.mark.parametrize("name", ["emri_small_RLE.dcm", "emri_small_jpeg_2k_lossless.dcm", "emri_small_jpeg_ls_lossless.dcm"])
def test_lossless_enhanced_mr_matches_uncompressed(data_root, name):
    reference = open_volume(data_root / "enhanced" / "emri_small.dcm")
    assert np.array_equal(open_volume(data_root / "enhanced" / name).voxels, reference.voxels)
