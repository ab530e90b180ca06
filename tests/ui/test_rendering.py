"""numpy -> QImage rendering and orientation letters (no window needed)."""

from __future__ import annotations

import numpy as np

from medsam_gui.core.labelmap import LabelTable
from medsam_gui.ui.canvas.orientation import edge_letters
from medsam_gui.ui.canvas.rendering import label_boundaries, overlay_to_qimage, preview_to_qimage, slice_to_qimage


def test_slice_is_windowed_and_keeps_rows_and_columns(qapp):
    image = np.array([[-1000, 40], [240, 1000]], dtype=np.int16)  # [y, x]
    qimage = slice_to_qimage(image, 40.0, 400.0)
    assert (qimage.width(), qimage.height()) == (2, 2)
    assert qimage.pixelColor(0, 0).red() == 0  # x 0, y 0: below the window
    assert qimage.pixelColor(1, 0).red() == 127  # x 1, y 0: the centre
    assert qimage.pixelColor(0, 1).red() == 255  # x 0, y 1: 240 = top of the window
    assert qimage.pixelColor(1, 1).green() == 255


def test_overlay_colours_by_label_and_hides_hidden_labels(qapp):
    table = LabelTable()
    liver = table.add()
    spleen = table.add()
    labels = np.zeros((4, 5), dtype=np.uint8)
    labels[1, 2] = liver.value
    labels[3, 4] = spleen.value
    image = overlay_to_qimage(labels, table.lookup_table(), opacity=0.5, outline_only=False)
    colour = image.pixelColor(2, 1)
    assert (colour.red(), colour.green(), colour.blue()) == liver.colour and colour.alpha() == 127
    assert image.pixelColor(0, 0).alpha() == 0
    table.update(spleen.value, visible=False)
    image = overlay_to_qimage(labels, table.lookup_table(), opacity=0.5, outline_only=False)
    assert image.pixelColor(4, 3).alpha() == 0 and image.pixelColor(2, 1).alpha() == 127


def test_outline_mode_draws_only_borders(qapp):
    table = LabelTable()
    value = table.add().value
    labels = np.zeros((9, 9), dtype=np.uint8)
    labels[2:7, 2:7] = value
    assert label_boundaries(labels).sum() == 16  # the ring of a 5 x 5 square
    image = overlay_to_qimage(labels, table.lookup_table(), opacity=0.3, outline_only=True)
    assert image.pixelColor(2, 2).alpha() == 255 and image.pixelColor(4, 4).alpha() == 0


def test_preview_fills_the_mask_with_an_opaque_border(qapp):
    mask = np.zeros((6, 6), dtype=bool)
    mask[1:5, 1:5] = True
    image = preview_to_qimage(mask, (10, 20, 30))
    assert image.pixelColor(1, 1).alpha() == 255 and image.pixelColor(2, 2).alpha() < 255
    assert image.pixelColor(2, 2).blue() == 30 and image.pixelColor(0, 0).alpha() == 0


def test_edge_letters_follow_the_direction_matrix():
    assert edge_letters(np.eye(3)) == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    flipped = np.diag([-1.0, -1.0, 1.0])  # columns run to patient right, rows to anterior
    assert edge_letters(flipped) == {"left": "L", "right": "R", "top": "P", "bottom": "A"}
    coronal = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])  # rows run inferior
    assert edge_letters(coronal) == {"left": "R", "right": "L", "top": "S", "bottom": "I"}
