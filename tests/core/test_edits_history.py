"""LabelEdit and History: exact undo/redo, grouping, memory bound, clean flag."""

import numpy as np
import pytest

from medsam_gui.core import edits
from medsam_gui.core.history import History


def random_labels(seed=0, shape=(6, 40, 50)):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 4, size=shape).astype(np.uint8)


def test_edit_stores_only_the_changed_box_and_reverts_exactly():
    labels = random_labels()
    before = labels.copy()
    mask = np.zeros(labels.shape[1:], bool)
    mask[5:9, 10:20] = True
    edit = edits.edit_paint_slice(labels, 3, mask, 7)
    assert edit.box_zyx[:2] == (3, 4)
    assert edit.block_shape[1] <= 4 and edit.block_shape[2] <= 10
    edit.apply(labels)
    assert (labels[3][mask] == 7).all()
    assert (labels[[0, 1, 2, 4, 5]] == before[[0, 1, 2, 4, 5]]).all()
    edit.revert(labels)
    assert (labels == before).all()


def test_unchanged_paint_gives_no_edit():
    labels = np.zeros((2, 8, 8), np.uint8)
    assert edits.edit_paint_slice(labels, 0, np.zeros((8, 8), bool), 3) is None


@pytest.mark.parametrize("mode", ["add", "erase", "replace"])
def test_paint_modes(mode):
    labels = np.zeros((1, 10, 10), np.uint8)
    labels[0, 0:5, 0:5] = 2  # existing object of label 2
    labels[0, 8:10, 8:10] = 3  # another label
    mask = np.zeros((10, 10), bool)
    mask[3:7, 3:7] = True
    edit = edits.edit_paint_slice(labels, 0, mask, 2, mode=mode)
    edit.apply(labels)
    if mode == "add":
        assert (labels[0][mask] == 2).all() and labels[0, 0, 0] == 2
    elif mode == "erase":
        assert labels[0, 3, 3] == 0 and labels[0, 0, 0] == 2 and labels[0, 6, 6] == 0
    else:
        assert (labels[0][mask] == 2).all() and labels[0, 0, 0] == 0
    assert (labels[0, 8:10, 8:10] == 3).all()


def test_replace_within_a_region_keeps_the_label_outside_it():
    labels = np.zeros((1, 10, 10), np.uint8)
    labels[0, 2:8, 2:8] = 2  # an accepted object
    labels[0, 4, 9] = 3  # another label inside the region
    region = np.zeros((10, 10), bool)
    region[0:10, 5:10] = True  # the right half: the box of a refinement
    mask = np.zeros((10, 10), bool)
    mask[3:6, 5:7] = True  # the refined, smaller object there
    edit = edits.edit_paint_slice(labels, 0, mask, 2, mode="replace", within_yx=region)
    before = labels.copy()
    edit.apply(labels)
    assert (labels[0][mask] == 2).all()
    assert (labels[0][region & ~mask] != 2).all()  # shrunk inside the region
    assert (labels[0][~region] == before[0][~region]).all()  # the left half is untouched
    assert labels[0, 4, 9] == 3
    edit.revert(labels)
    assert (labels == before).all()


def test_volume_edit_is_small_for_a_small_object_in_a_big_volume():
    labels = np.zeros((300, 512, 512), np.uint8)
    mask = np.zeros_like(labels, dtype=bool)
    mask[100:140, 200:260, 210:250] = True
    edit = edits.edit_paint_volume(labels, mask, 4)
    changed_voxels = 40 * 60 * 40
    # old values + one shared new value + packed bits: about 1.1 bytes a changed voxel, nowhere near 78 MB
    assert edit.nbytes < changed_voxels * 1.2
    edit.apply(labels)
    assert int((labels == 4).sum()) == int(mask.sum())


def test_history_undo_redo_and_grouping():
    labels = np.zeros((3, 20, 20), np.uint8)
    history = History()
    history.begin_group("brush")
    for offset in range(5):  # five overlapping dabs
        mask = np.zeros((20, 20), bool)
        mask[offset : offset + 4, offset : offset + 4] = True
        history.apply(labels, edits.edit_paint_slice(labels, 1, mask, 1))
    history.end_group()
    after_stroke = labels.copy()
    assert after_stroke.sum() > 0
    history.undo(labels)
    assert labels.sum() == 0  # one stroke, one step
    history.redo(labels)
    assert (labels == after_stroke).all()


def test_history_drops_oldest_steps_past_its_byte_bound():
    labels = np.zeros((1, 64, 64), np.uint8)
    history = History(max_bytes=20000)  # each step costs 64 * 64 * 1.125 + 1 bytes: two fit
    for value in range(1, 10):
        history.apply(labels, edits.edit_paint_slice(labels, 0, np.ones((64, 64), bool), value))
    assert history.nbytes <= 20000
    undone = 0
    while history.undo(labels):
        undone += 1
    assert 0 < undone < 9
    assert labels.max() > 0  # the oldest steps were forgotten, so not everything reverts


def test_clean_flag_follows_saves_undo_and_new_edits():
    labels = np.zeros((1, 8, 8), np.uint8)
    history = History()
    assert history.is_clean
    mask = np.ones((8, 8), bool)
    history.apply(labels, edits.edit_paint_slice(labels, 0, mask, 1))
    assert not history.is_clean
    history.mark_clean()
    assert history.is_clean
    history.undo(labels)
    assert not history.is_clean
    history.redo(labels)
    assert history.is_clean
    history.undo(labels)
    history.apply(labels, edits.edit_paint_slice(labels, 0, mask, 2))  # saved state now unreachable
    assert not history.is_clean
