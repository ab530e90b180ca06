"""Data-set formats: per-slice PNG masks, COCO JSON (RLE) and MedSAM training npz.

- PNG: one 8-bit greyscale PNG per slice holding label values (0 = background),
  ``<stem>_z0007.png`` (``<stem>.png`` for a 2D image); only slices with labels.
- COCO: one image entry per labelled slice, one category per label, one annotation
  per label per slice with an uncompressed RLE (column-major runs, pycocotools'
  convention), bbox ``[x, y, width, height]`` and area.
- MedSAM npz (the LiteMedSAM / CVPR24 training format): ``imgs`` uint8 ``[z, y, x]``
  (3D; ``[y, x, 3]`` for a 2D image) normalised like the model input, ``gts`` uint8
  labels of the same shape, ``spacing`` (x, y, z) mm.
All files are written atomically and never over the source scan.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.core.labelmap import LabelTable, default_label
from medsam_gui.core.volume import Volume
from medsam_gui.core.window import default_model_input_preset, resolve_model_input, to_model_input
from medsam_gui.io.atomic import atomic_write_bytes, atomic_write_text, refuse_source_overwrite
from medsam_gui.io.labelmap_export import check_labels_fit


def labelled_slices(labels_zyx: np.ndarray) -> list[int]:
    """Slice indices holding at least one label voxel."""
    return [int(z) for z in np.flatnonzero(labels_zyx.reshape(labels_zyx.shape[0], -1).any(axis=1))]


def write_png_masks(labels_zyx: np.ndarray, volume: Volume, folder: str | Path, stem: str) -> list[Path]:
    """Write one label-value PNG per labelled slice into ``folder``; returns the paths."""
    folder = Path(folder)
    check_labels_fit(labels_zyx, volume, folder)
    written = []
    for slice_index in labelled_slices(labels_zyx) if not volume.is_2d else [0]:
        name = f"{stem}.png" if volume.is_2d else f"{stem}_z{slice_index:04d}.png"
        path = folder / name
        refuse_source_overwrite(path, [volume.source_path])
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(labels_zyx[slice_index], dtype=np.uint8), mode="L").save(buffer, format="PNG")
        written.append(atomic_write_bytes(path, buffer.getvalue()))
    return written


def rle_encode(mask_yx: np.ndarray) -> dict:
    """Uncompressed COCO RLE of a bool ``[y, x]`` mask: runs over the column-major pixels,
    starting with a (possibly empty) run of zeros."""
    flat = np.asarray(mask_yx, dtype=bool).reshape(-1, order="F")
    boundaries = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    counts = np.diff(np.concatenate([[0], boundaries, [flat.size]])).tolist()
    if flat.size and flat[0]:
        counts = [0, *counts]
    return {"size": [int(mask_yx.shape[0]), int(mask_yx.shape[1])], "counts": [int(c) for c in counts]}


def rle_decode(rle: dict) -> np.ndarray:
    """bool ``[y, x]`` mask from an uncompressed COCO RLE."""
    rows, columns = rle["size"]
    flat = np.zeros(rows * columns, dtype=bool)
    position, value = 0, False
    for count in rle["counts"]:
        flat[position : position + count] = value
        position += count
        value = not value
    return flat.reshape((rows, columns), order="F")


def coco_document(labels_zyx: np.ndarray, label_table: LabelTable, image_stem: str) -> dict:
    """The COCO dict for a labelmap; image file names are ``<stem>.png`` or ``<stem>_z0007.png``."""
    depth, rows, columns = labels_zyx.shape
    values = [int(v) for v in np.unique(labels_zyx) if v]
    categories = []
    for value in values:
        name = label_table.get(value).name if value in label_table else default_label(value)[0]
        categories.append({"id": value, "name": name, "supercategory": "anatomy"})
    images, annotations = [], []
    for slice_index in labelled_slices(labels_zyx):
        image_id = slice_index + 1
        file_name = f"{image_stem}.png" if depth == 1 else f"{image_stem}_z{slice_index:04d}.png"
        images.append({"id": image_id, "file_name": file_name, "height": rows, "width": columns, "slice_index": slice_index})
        for value in values:
            mask = labels_zyx[slice_index] == value
            if not mask.any():
                continue
            ys, xs = np.nonzero(mask)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": value,
                    "segmentation": rle_encode(mask),
                    "area": int(mask.sum()),
                    "bbox": [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)],
                    "iscrowd": 0,
                }
            )
    return {"info": {"description": "medsam-gui export"}, "images": images, "annotations": annotations, "categories": categories}


def write_coco(labels_zyx: np.ndarray, volume: Volume, label_table: LabelTable, path: str | Path) -> Path:
    """Write a COCO JSON of the labels (image names follow the PNG export's); returns ``path``."""
    path = Path(path)
    check_labels_fit(labels_zyx, volume, path)
    refuse_source_overwrite(path, [volume.source_path])
    stem = Path(volume.source_path).name.split(".")[0] or "image"
    return atomic_write_text(path, json.dumps(coco_document(labels_zyx, label_table, stem)))


def write_medsam_npz(labels_zyx: np.ndarray, volume: Volume, path: str | Path) -> Path:
    """Write a MedSAM training npz (``imgs``, ``gts``, ``spacing``); returns ``path``."""
    path = Path(path)
    if not path.name.lower().endswith(".npz"):
        raise MedsamGuiError("a MedSAM data set file must end in .npz", path)
    check_labels_fit(labels_zyx, volume, path)
    refuse_source_overwrite(path, [volume.source_path])
    preset = resolve_model_input(default_model_input_preset(volume.voxels, volume.modality), volume.voxels)
    if volume.is_2d:
        images = to_model_input(volume.voxels[0], preset)
        ground_truth = np.ascontiguousarray(labels_zyx[0], dtype=np.uint8)
    else:
        images = np.stack([to_model_input(volume.voxels[z], preset)[:, :, 0] for z in range(volume.shape_zyx[0])])
        ground_truth = np.ascontiguousarray(labels_zyx, dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, imgs=images, gts=ground_truth, spacing=np.asarray(volume.spacing_xyz, dtype=np.float64))
    return atomic_write_bytes(path, buffer.getvalue())
