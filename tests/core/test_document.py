"""Document: labels, table and history stay consistent and listeners hear every change."""

import numpy as np

from medsam_gui.core.document import MIN_WINDOW_WIDTH, Document
from medsam_gui.core.volume import Volume


def make_document(shape=(4, 32, 32), modality="CT"):
    return Document(Volume(np.zeros(shape, np.int16), modality=modality))


def test_new_document_opens_on_middle_slice_with_ct_window_and_a_label():
    document = make_document()
    assert document.slice_index == 2
    assert (document.window_center, document.window_width) == (40.0, 400.0)
    assert document.label_table.get(document.active_label).name == "label 1"
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


def test_undoing_a_delete_brings_back_the_labels_own_name_and_colour():
    document = make_document()
    lesion = document.add_label("lesion 3", (10, 20, 30))
    mask_zyx = np.zeros((4, 32, 32), bool)
    mask_zyx[2, 5:9, 5:9] = True
    document.paint_volume(mask_zyx, lesion)
    heard = []
    document.add_labels_listener(lambda first, end: heard.append((first, end)))
    document.delete_label(lesion)
    assert lesion not in document.label_table and document.active_label != lesion
    later = document.add_label("added after the delete")  # not on the undo stack: must survive
    document.undo()
    restored = document.label_table.get(lesion)
    assert (restored.name, restored.colour) == ("lesion 3", (10, 20, 30))
    assert int((document.labels == lesion).sum()) == 16 and later in document.label_table
    document.redo()
    assert lesion not in document.label_table and not (document.labels == lesion).any()
    assert heard == [(0, 4)] * 3  # every change repaints every slice (the colours changed)


def test_rename_and_recolour_are_undo_steps():
    document = make_document()
    value = document.active_label
    original = document.label_table.get(value)
    document.update_label(value, name="portal vein")
    document.update_label(value, colour=(0, 0, 255))
    assert document.history.undo_description.startswith("rename/recolour")
    document.undo()
    assert document.label_table.get(value).colour == original.colour
    assert document.label_table.get(value).name == "portal vein"
    document.undo()
    assert document.label_table.get(value).name == original.name
    assert not document.is_modified  # back to the saved state
    document.redo()
    assert document.label_table.get(value).name == "portal vein" and document.is_modified


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


def _anisotropic_document() -> Document:
    """10 slices of 6 x 7 voxels (0.8 x 0.7 x 3 mm), z pointing superior."""
    voxels = np.arange(10 * 6 * 7, dtype=np.int16).reshape(10, 6, 7)
    return Document(Volume(voxels, spacing_xyz=(0.8, 0.7, 3.0), direction=np.eye(3), modality="CT"))


def test_a_coronal_prediction_adds_or_replaces_inside_its_box_on_that_slice_only():
    document = _anisotropic_document()
    changes = []
    document.add_change_listener(changes.append)
    everywhere = np.ones((10, 7), dtype=bool)  # a coronal slice: rows z (top = z 9), columns x
    assert document.paint_plane_prediction("coronal", 2, everywhere)
    assert (document.labels[:, 2, :] == 1).all() and document.labels.sum() == 70
    assert changes[-1].writes[0][0].description == "AI mask"  # journaled
    corner = np.zeros((10, 7), dtype=bool)
    corner[0:2, 0:2] = True  # rows 0-1 = z 9 and 8
    box = (0, 0, 3, 4)  # columns 0-3, rows 0-4 = z 9-5
    assert document.paint_plane_prediction("coronal", 2, corner, box_xyxy=box, replace_in_box=True)
    coronal = document.labels[::-1, 2, :] == 1  # as displayed
    assert coronal[0:2, 0:2].all() and not coronal[0:5, 0:4][~corner[0:5, 0:4]].any()  # inside the box: the mask
    assert coronal[5:, :].all() and coronal[:, 4:].all()  # outside it: untouched
    assert document.labels[:, [0, 1, 3, 4, 5], :].max() == 0  # only y = 2
    document.undo()
    assert (document.labels[:, 2, :] == 1).all()  # one undo step each
    assert not document.paint_plane_prediction("coronal", 2, np.zeros((10, 7), dtype=bool))  # nothing to add


def test_replacing_a_label_on_sagittal_slices_is_one_step_and_leaves_other_slices():
    document = _anisotropic_document()
    document.paint_slice(5, np.ones((6, 7), dtype=bool))  # axial slice 5 crosses every sagittal slice
    before = document.labels.copy()
    heard = []
    document.add_labels_listener(lambda first, end: heard.append((first, end)))
    result = np.zeros((10, 6, 7), dtype=bool)
    result[2:4, 1:3, 3] = True
    result[6, 0, 4] = True
    chosen = np.zeros(7, dtype=bool)
    chosen[[3, 4]] = True  # sagittal slices x = 3 and 4
    assert document.replace_label_on_slices(result, chosen, 1, "propagate", plane="sagittal")
    assert np.array_equal(document.labels[:, :, [3, 4]] == 1, result[:, :, [3, 4]])  # exactly the result there
    assert np.array_equal(document.labels[:, :, [0, 1, 2, 5, 6]], before[:, :, [0, 1, 2, 5, 6]])
    assert heard == [(2, 7)]  # the z range written
    document.undo()
    assert np.array_equal(document.labels, before)


def test_display_window_change_is_announced_clamped_and_kept_in_view_state():
    document = make_document()
    heard = []
    document.add_display_window_listener(lambda center, width: heard.append((center, width)))
    document.set_display_window(50, 350)
    document.set_display_window(-600, 0)  # a zero width would divide by zero when drawing
    assert heard == [(50.0, 350.0), (-600.0, MIN_WINDOW_WIDTH)]
    assert (document.view_state()["window_center"], document.view_state()["window_width"]) == (-600.0, MIN_WINDOW_WIDTH)
