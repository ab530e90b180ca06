"""PNG masks, COCO JSON and MedSAM npz exports, read back and compared."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.core.labelmap import Label, LabelTable
from medsam_gui.io.dataset_export import rle_decode, rle_encode, write_coco, write_medsam_npz, write_png_masks
from medsam_gui.io.load import open_volume
from medsam_gui.io.resample import resample_onto


@pytest.fixture(scope="module")
def ct_case(data_root):
    volume = open_volume(data_root / "totalseg" / "example_ct_sm.nii.gz")
    labels = resample_onto(volume, data_root / "totalseg" / "example_seg.nii.gz").astype(np.uint8)
    return volume, labels


@pytest.fixture(scope="module")
def picture_case(data_root):
    images = sorted((data_root / "sammed2d" / "images").glob("*.png"))
    volume = open_volume(images[0])
    masks = sorted((data_root / "sammed2d" / "masks").glob(images[0].stem + "*.png"))
    labels = np.zeros(volume.shape_zyx, dtype=np.uint8)
    for value, mask_path in enumerate(masks[:3], start=1):
        labels[0][np.asarray(Image.open(mask_path).convert("L")) > 0] = value
    return volume, labels


def test_rle_round_trip_matches_column_major_runs():
    mask = np.array([[1, 0, 0], [1, 1, 0]], dtype=bool)
    assert rle_encode(mask) == {"size": [2, 3], "counts": [0, 2, 1, 1, 2]}  # columns: 1 1 | 0 1 | 0 0
    random_mask = np.random.default_rng(0).random((37, 51)) > 0.6
    np.testing.assert_array_equal(rle_decode(rle_encode(random_mask)), random_mask)


def test_png_masks_per_labelled_slice(ct_case, tmp_path):
    volume, labels = ct_case
    written = write_png_masks(labels, volume, tmp_path, "case7")
    labelled = [z for z in range(labels.shape[0]) if labels[z].any()]
    assert [p.name for p in written] == [f"case7_z{z:04d}.png" for z in labelled]
    for path, slice_index in zip(written, labelled):
        np.testing.assert_array_equal(np.asarray(Image.open(path)), labels[slice_index])


def test_coco_of_a_2d_image_decodes_to_the_masks(picture_case, tmp_path):
    volume, labels = picture_case
    table = LabelTable([Label(1, "liver", (1, 2, 3))])
    path = write_coco(labels, volume, table, tmp_path / "coco.json")
    document = json.loads(path.read_text())
    assert len(document["images"]) == 1 and document["images"][0]["height"] == labels.shape[1]
    present = sorted(int(v) for v in np.unique(labels) if v)
    assert [c["id"] for c in document["categories"]] == present
    assert document["categories"][0]["name"] == "liver"
    for annotation in document["annotations"]:
        mask = rle_decode(annotation["segmentation"])
        np.testing.assert_array_equal(mask, labels[0] == annotation["category_id"])
        x, y, width, height = annotation["bbox"]
        assert mask[y : y + height, x : x + width].sum() == annotation["area"] == mask.sum()
    write_png_masks(labels, volume, tmp_path, "picture")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "picture.png")), labels[0])


def test_medsam_npz_holds_images_labels_and_spacing(ct_case, picture_case, tmp_path):
    volume, labels = ct_case
    path = write_medsam_npz(labels, volume, tmp_path / "ct.npz")
    with np.load(path) as archive:
        assert archive["imgs"].shape == labels.shape and archive["imgs"].dtype == np.uint8
        np.testing.assert_array_equal(archive["gts"], labels)
        np.testing.assert_allclose(archive["spacing"], volume.spacing_xyz)
        # soft tissue window 40/400: -160 HU -> 0, 240 HU -> 255
        assert archive["imgs"][volume.voxels <= -160].max() == 0 and archive["imgs"][volume.voxels >= 240].min() == 255
    picture, picture_labels = picture_case
    with np.load(write_medsam_npz(picture_labels, picture, tmp_path / "picture.npz")) as archive:
        assert archive["imgs"].shape == (*picture_labels.shape[1:], 3)
        np.testing.assert_array_equal(archive["gts"], picture_labels[0])
    with pytest.raises(MedsamGuiError, match="npz"):
        write_medsam_npz(labels, volume, tmp_path / "ct.npy")
