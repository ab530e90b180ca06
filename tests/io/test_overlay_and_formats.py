"""Labelmaps land on their scans by geometry; NIfTI/NRRD/MHA and pictures load."""

import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image

from medsam_gui.io.load import open_volume
from medsam_gui.io.resample import resample_onto

TOTALSEG_LIVER = 5
TOTALSEG_SPLEEN = 1


def _labels_by_geometry(volume, label_image, step=4):
    """Independent reference: look up the label at each sampled display voxel's LPS point."""
    z, y, x = np.meshgrid(*[np.arange(0, n, step if n > 8 else 1) for n in volume.shape_zyx], indexing="ij")
    index_xyz = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
    physical = volume.index_to_physical(index_xyz)
    label_direction = np.asarray(label_image.GetDirection()).reshape(3, 3)
    continuous = (physical - np.asarray(label_image.GetOrigin())) @ np.linalg.inv(label_direction).T / np.asarray(label_image.GetSpacing())
    label_index = np.rint(continuous).astype(int)
    array = sitk.GetArrayFromImage(label_image)
    inside = np.all((label_index >= 0) & (label_index < np.asarray(label_image.GetSize())), axis=1)
    expected = np.zeros(len(label_index), dtype=array.dtype)
    li = label_index[inside]
    expected[inside] = array[li[:, 2], li[:, 1], li[:, 0]]
    return (z.ravel(), y.ravel(), x.ravel()), expected


def test_totalseg_flipped_y_labelmap_overlays_by_geometry(data_root):
    volume = open_volume(data_root / "totalseg" / "example_ct_dicom")
    label_path = data_root / "totalseg" / "example_seg_dicom.nii.gz"
    label_image = sitk.ReadImage(str(label_path))
    assert label_image.GetDirection()[4] == -1.0  # stored with a flipped Y axis
    labels = resample_onto(volume, label_path)
    assert labels.shape == volume.shape_zyx and labels.dtype == np.uint8
    sample_index, expected = _labels_by_geometry(volume, label_image)
    assert np.array_equal(labels[sample_index], expected)
    liver_hu = volume.voxels[labels == TOTALSEG_LIVER].mean()
    spleen_hu = volume.voxels[labels == TOTALSEG_SPLEEN].mean()
    assert 40 < liver_hu < 200 and 40 < spleen_hu < 200  # soft tissue (contrast-enhanced)
    naive = sitk.GetArrayFromImage(label_image)  # reading by array index puts the liver elsewhere
    assert volume.voxels[naive == TOTALSEG_LIVER].mean() < 0


@pytest.mark.parametrize("name, low_hu, high_hu", [("liver", 0, 120), ("spine", 150, 1000)])
def test_dcmqi_nrrd_masks_land_on_their_ct_slices(data_root, name, low_hu, high_hu):
    volume = open_volume(data_root / "dcmqi" / "ct-3slice")
    mask_image = sitk.ReadImage(str(data_root / "dcmqi" / f"{name}_seg.nrrd"))
    mask = resample_onto(volume, mask_image) > 0
    # which CT slice each mask voxel belongs to, from the NRRD's own geometry
    nonzero = np.argwhere(sitk.GetArrayFromImage(mask_image) > 0)[:, ::-1].astype(float)
    points = np.array([mask_image.TransformContinuousIndexToPhysicalPoint(p) for p in nonzero[:: max(len(nonzero) // 500, 1)]])
    expected_slices = set(np.rint(volume.physical_to_index(points)[:, 2]).astype(int))
    assert {int(z) for z in np.nonzero(mask.any(axis=(1, 2)))[0]} == expected_slices
    assert mask.sum() > 1000
    assert low_hu < volume.voxels[mask].mean() < high_hu


def test_detached_nrrd_loads(data_root):
    volume = open_volume(data_root / "nrrd" / "MRHeadResampled.nhdr")
    assert volume.size_xyz == (130, 130, 68) and volume.voxels.dtype == np.int16
    assert volume.voxels.max() > 100 and volume.spacing_xyz == pytest.approx((2.0, 2.0, 2.0))


def test_nifti_is_reoriented_for_display_without_moving_voxels(data_root):
    path = data_root / "totalseg" / "example_ct_sm.nii.gz"
    image = sitk.ReadImage(str(path))
    volume = open_volume(path)
    assert volume.modality == "CT" and np.allclose(volume.direction, np.eye(3), atol=1e-6)
    for index_xyz in [(0, 0, 0), (121, 100, 29), (60, 30, 10)]:
        point = image.TransformIndexToPhysicalPoint(index_xyz)
        display_index = np.rint(volume.physical_to_index(point)).astype(int)
        assert volume.voxels[tuple(display_index[::-1])] == image[index_xyz]


def test_mha_and_mhd_load(tmp_path):
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((0.5, 0.7, 2.0))
    for suffix in (".mha", ".mhd"):
        sitk.WriteImage(image, str(tmp_path / f"scan{suffix}"))
        volume = open_volume(tmp_path / f"scan{suffix}")
        assert np.array_equal(volume.voxels, array) and volume.spacing_xyz == (0.5, 0.7, 2.0)


def test_sammed2d_png_is_grey_slice(data_root):
    path = data_root / "sammed2d" / "images" / "amos_0004_75.png"
    rgb = np.asarray(Image.open(path).convert("RGB"))
    volume = open_volume(path)
    assert volume.is_2d and not volume.is_rgb and volume.voxels.dtype == np.uint8  # equal channels -> grey
    assert np.array_equal(volume.voxels[0], rgb[:, :, 0])


@pytest.mark.parametrize(
    "suffix, mode, dtype",
    [(".png", "I;16", np.uint16), (".tif", "I;16", np.uint16), (".bmp", "L", np.uint8), (".jpg", "L", np.uint8)],
)
def test_grey_pictures_8_and_16_bit(tmp_path, suffix, mode, dtype):
    rng = np.random.default_rng(0)
    high = 60000 if dtype == np.uint16 else 250
    array = rng.integers(0, high, size=(20, 30)).astype(dtype)
    if suffix == ".jpg":
        array = np.full((20, 30), 77, dtype=np.uint8)  # lossy: a flat picture survives exactly
    picture = Image.fromarray(array) if dtype == np.uint8 else Image.frombytes(mode, (30, 20), array.tobytes())
    assert picture.mode == mode
    picture.save(tmp_path / f"picture{suffix}")
    volume = open_volume(tmp_path / f"picture{suffix}")
    assert volume.voxels.shape == (1, 20, 30) and volume.voxels.dtype == dtype
    assert np.array_equal(volume.voxels[0], array)


def test_colour_picture_stays_rgb(tmp_path):
    rng = np.random.default_rng(1)
    array = rng.integers(0, 255, size=(12, 9, 3)).astype(np.uint8)
    Image.fromarray(array, mode="RGB").save(tmp_path / "colour.png")
    volume = open_volume(tmp_path / "colour.png")
    assert volume.voxels.shape == (1, 12, 9, 3) and np.array_equal(volume.voxels[0], array)
