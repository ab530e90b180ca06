"""Document: labels, table and history stay consistent and listeners hear every change."""

import numpy as np

from medsam_gui.core.document import Document
from medsam_gui.core.volume import Volume


def make_document(shape=(4, 32, 32), modality="CT"):
    return Document(Volume(np.zeros(shape, np.int16), modality=modality))


def test_new_document_opens_on_middle_slice_with_ct_window_and_a_label():
    document = make_document()
    assert document.slice_index == 2
    assert (document.window_center, document.window_width) == (40.0, 400.0)
    assert document.label_table.get(document.active_label).name == "liver"
    assert not document.is_modified


def test_listeners_receive_changed_slice_range_on_edit_undo_and_redo():
    document = make_document()
    heard = []
    document.add_labels_listener(lambda first, end: heard.append((first, end)))
    mask = np.zeros((32, 32), bool)
    mask[4:8, 4:8] = True
    assert document.paint_slice(3, mask)
    document.undo()
    document.redo()
    assert heard == [(3, 4), (3, 4), (3, 4)]


def test_delete_label_erases_voxels_undoably():
    document = make_document()
    spleen = document.add_label("spleen")
    mask_zyx = np.zeros((4, 32, 32), bool)
    mask_zyx[1:3, 10:20, 10:20] = True
    document.paint_volume(mask_zyx, spleen)
    document.delete_label(spleen)
    assert spleen not in document.label_table and not (document.labels == spleen).any()
    document.undo()
    assert int((document.labels == spleen).sum()) == int(mask_zyx.sum())
    assert spleen in document.label_table


def test_replace_labels_is_one_step():
    document = make_document()
    imported = np.zeros((4, 32, 32), np.uint8)
    imported[0, :5, :5] = 1
    imported[3, 20:, 20:] = 2
    assert document.replace_labels(imported)
    assert (document.labels == imported).all()
    document.undo()
    assert document.labels.sum() == 0


def test_renaming_or_recolouring_marks_modified_but_hiding_does_not():
    document = make_document()
    document.update_label(document.active_label, visible=False)
    assert not document.is_modified
    document.update_label(document.active_label, name="liver (segment 8)")
    assert document.is_modified and document.label_table.get(document.active_label).name == "liver (segment 8)"
    document.mark_saved()
    assert not document.is_modified
    document.update_label(document.active_label, colour=(1, 2, 3))
    assert document.is_modified
