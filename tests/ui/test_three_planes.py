"""Three planes (issue 12): axial, coronal and sagittal views of real scans in the real window.

The crosshair (3D cursor) links the views, the brush paints on any plane into the one
history, pixels keep their physical aspect, oblique scans get true orientation letters,
and the layout is remembered. Every check is on the Document or on what a view shows.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest
from ui_helpers import drag_on_canvas, make_window, open_and_wait, press_key, wait_encoded

from medsam_gui.core.window import apply_window
from medsam_gui.ui.canvas.orientation import plane_edge_letters


@pytest.fixture
def small_ct(data_root):
    """Real CT, 122 x 101 x 30 voxels of 3 mm."""
    return data_root / "totalseg" / "example_ct_sm.nii.gz"


def _click(view, x, y, modifiers=Qt.KeyboardModifier.NoModifier):
    """A left click on image pixel (x, y) of ``view`` (x = column, y = row)."""
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, modifiers, view.widget_position(x + 0.5, y + 0.5))


def _drag(view, start_xy, end_xy, steps=4):
    viewport = view.viewport()

    def at(x, y):
        return view.widget_position(x + 0.5, y + 0.5)

    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(*start_xy))
    for step in range(1, steps + 1):
        t = step / steps
        QTest.mouseMove(viewport, at(start_xy[0] + t * (end_xy[0] - start_xy[0]), start_xy[1] + t * (end_xy[1] - start_xy[1])))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(*end_xy))


def _shown_grey(view, x, y) -> int:
    return view.image_item.pixmap().toImage().pixelColor(x, y).red()


def _visible_planes(window) -> set[str]:
    return {plane for plane, view in window.plane_views.views.items() if view.isVisible()}


def test_crosshair_moves_the_other_views_slices_and_readout_follows_the_mouse(qtbot, window, small_ct):
    document = open_and_wait(qtbot, window, small_ct)
    press_key(window, Qt.Key.Key_F5)  # axial, coronal and sagittal side by side
    qtbot.waitUntil(lambda: _visible_planes(window) == {"axial", "coronal", "sagittal"})
    views = window.plane_views.views
    voxels = document.volume.voxels
    z = document.slice_index

    _click(views["axial"], 40, 60, Qt.KeyboardModifier.ControlModifier)  # Ctrl+click: the 3D cursor
    qtbot.waitUntil(lambda: document.cursor_zyx == (z, 60, 40))
    assert views["coronal"].caption.startswith("coronal 60 ") and views["sagittal"].caption.startswith("sagittal 40 ")
    centre, width = document.window_center, document.window_width
    coronal_expected = apply_window(voxels[::-1, 60, :], centre, width)  # top row = most superior slice
    sagittal_expected = apply_window(voxels[::-1, :, 40], centre, width)
    for row, column in ((0, 0), (5, 70), (20, 100), (29, 121)):
        assert _shown_grey(views["coronal"], column, row) == coronal_expected[row, column]
    for row, column in ((3, 10), (15, 60), (29, 100)):
        assert _shown_grey(views["sagittal"], column, row) == sagittal_expected[row, column]
    horizontal, vertical = views["coronal"].crosshair_items
    assert horizontal.isVisible() and horizontal.line().y1() == pytest.approx(29 - z + 0.5)
    assert vertical.line().x1() == pytest.approx(40.5)

    _click(views["sagittal"], 70, 4, Qt.KeyboardModifier.ControlModifier)  # row 4 = slice 25, column = y 70
    qtbot.waitUntil(lambda: document.cursor_zyx == (25, 70, 40))
    assert document.slice_index == 25
    assert window.slider.value() == 40 and window.slice_label.text() == "sagittal 40 of 0-121"  # the plane in use
    assert _shown_grey(views["axial"], 40, 70) == apply_window(voxels[25, 70, 40:41], centre, width)[0]
    assert views["coronal"].caption.startswith("coronal 70 ")

    press_key(window, Qt.Key.Key_C)  # the crosshair tool: a plain click moves the cursor
    _click(views["coronal"], 100, 10)
    qtbot.waitUntil(lambda: document.cursor_zyx == (19, 70, 100))

    QTest.mouseMove(views["coronal"].viewport(), views["coronal"].widget_position(30.5, 2.5))
    qtbot.waitUntil(lambda: "x 30 y 70 z 27" in window.readout_label.toolTip())
    physical = document.volume.index_to_physical((30, 70, 27))
    assert f"LPS {physical[0]:.1f}, {physical[1]:.1f}, {physical[2]:.1f} mm" in window.readout_label.toolTip()
    assert f"{voxels[27, 70, 30]} HU" in window.readout_label.toolTip()

    press_key(window, Qt.Key.Key_X)  # hide the crosshair
    assert not any(item.isVisible() for view in views.values() for item in view.crosshair_items)
    press_key(window, Qt.Key.Key_X)
    assert all(item.isVisible() for view in views.values() for item in view.crosshair_items)


def test_sagittal_brush_paints_one_x_slice_and_undo_takes_it_and_an_axial_box_back(qtbot, window, small_ct):
    document = open_and_wait(qtbot, window, small_ct)
    z = document.slice_index
    wait_encoded(qtbot, window, z)
    box = (30, 30, 90, 70)
    drag_on_canvas(window, box[:2], box[2:])  # an AI mask on the axial view
    qtbot.waitUntil(lambda: window.prompts.preview is not None and tuple(window.prompts.preview.box_xyxy) == box,
                    timeout=30_000)
    press_key(window, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: document.labels.any())
    after_box = document.labels.copy()

    press_key(window, Qt.Key.Key_F4)  # the sagittal view alone
    sagittal = window.plane_views.views["sagittal"]
    qtbot.waitUntil(lambda: _visible_planes(window) == {"sagittal"})
    x = document.cursor_zyx[2]
    press_key(window, Qt.Key.Key_R)
    document.add_label()  # a second label, so the stroke is not hidden under the first
    _drag(sagittal, (20, 5), (60, 20))
    changed = np.argwhere(document.labels != after_box)
    assert len(changed) > 0
    assert set(changed[:, 2].tolist()) == {x}  # only the sagittal slice under the stroke
    assert (document.labels[:, :, x] == document.active_label).sum() == len(changed)
    overlay = sagittal.overlay_item.pixmap().toImage()
    assert overlay.pixelColor(40, 12).alpha() > 0  # the view shows its own stroke

    press_key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(document.labels, after_box)
    press_key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert document.labels.max() == 0 and not document.is_modified


def _displayed_ratio(view) -> float:
    height, width = view.displayed_pixel_size
    return height / width


def test_pixels_keep_their_physical_aspect_in_every_plane(qtbot, window, small_ct, tmp_path):
    document = open_and_wait(qtbot, window, small_ct)
    sx, sy, sz = document.volume.spacing_xyz
    press_key(window, Qt.Key.Key_F3)
    coronal = window.plane_views.views["coronal"]
    qtbot.waitUntil(coronal.isVisible)
    assert _displayed_ratio(coronal) == pytest.approx(sz / sy, rel=0.01)  # the example is 3 mm in every axis

    # the same real voxels with 0.8 mm pixels and 3 mm slices: coronal pixels 3.75 times taller than wide
    image = sitk.ReadImage(str(small_ct))
    image.SetSpacing((0.8, 0.8, 3.0))
    anisotropic = tmp_path / "ct_0.8x0.8x3.nii.gz"
    sitk.WriteImage(image, str(anisotropic))
    window.open_path(str(anisotropic))
    qtbot.waitUntil(lambda: window.document is not document, timeout=60_000)
    assert window.document.volume.spacing_xyz == pytest.approx((0.8, 0.8, 3.0))
    qtbot.waitUntil(lambda: _displayed_ratio(coronal) == pytest.approx(3.0 / 0.8, rel=0.01))
    press_key(window, Qt.Key.Key_F4)
    sagittal = window.plane_views.views["sagittal"]
    qtbot.waitUntil(sagittal.isVisible)
    assert _displayed_ratio(sagittal) == pytest.approx(3.0 / 0.8, rel=0.01)
    press_key(window, Qt.Key.Key_F2)
    assert _displayed_ratio(window.view) == pytest.approx(1.0, rel=0.01)


def test_oblique_series_opens_with_orientation_letters_on_all_views(qtbot, window, data_root):
    document = open_and_wait(qtbot, window, data_root / "dicom2nifti" / "ge" / "anatomical" / "001")
    assert not np.allclose(document.volume.direction, np.eye(3), atol=1e-3)  # oblique
    press_key(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: _visible_planes(window) == {"axial", "coronal", "sagittal"})
    for plane, view in window.plane_views.views.items():
        assert set(view.edge_letters) == {"left", "right", "top", "bottom"}
        assert view.edge_letters == plane_edge_letters(document.plane_geometry(plane))
        assert all(view.edge_letters.values())
    assert window.plane_views.views["coronal"].edge_letters["top"] == "S"
    assert window.plane_views.views["sagittal"].edge_letters["bottom"] == "I"
    assert {window.plane_views.views["sagittal"].edge_letters[e] for e in ("left", "right")} == {"A", "P"}


def test_layout_switching_works_and_is_remembered(qtbot, engine, monkeypatch, window, small_ct, ct_folder):
    open_and_wait(qtbot, window, small_ct)
    assert _visible_planes(window) == {"axial"}
    press_key(window, Qt.Key.Key_F3)
    qtbot.waitUntil(lambda: _visible_planes(window) == {"coronal"})
    press_key(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: _visible_planes(window) == {"axial", "coronal", "sagittal"})
    press_key(window, Qt.Key.Key_F4)
    qtbot.waitUntil(lambda: _visible_planes(window) == {"sagittal"})
    press_key(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: _visible_planes(window) == {"axial", "coronal", "sagittal"})

    second = make_window(qtbot, engine, monkeypatch)  # a new start remembers the layout
    try:
        assert second.plane_views.layout == "side_by_side"
        open_and_wait(qtbot, second, small_ct)
        assert second.document.volume.shape_zyx == (30, 101, 122)
        qtbot.waitUntil(lambda: _visible_planes(second) == {"axial", "coronal", "sagittal"})
        first_case = second.document
        second.open_path(str(ct_folder))  # 3 slices: axial only, and the choice stays
        qtbot.waitUntil(lambda: second.document is not first_case, timeout=60_000)
        assert _visible_planes(second) == {"axial"}
        press_key(second, Qt.Key.Key_F3)
        assert "8 slices or more" in second.statusBar().currentMessage()
        assert _visible_planes(second) == {"axial"} and second.plane_views.layout == "side_by_side"
    finally:
        second.close()
