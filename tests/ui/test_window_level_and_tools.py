"""The display window and the tools, driven by their keys in the real window.

DisplayWindowController: each preset key puts its (centre, width) of the preset table
into the Document and every plane view shows the slice through it; a right-drag moves
the centre (vertically) or the width (horizontally). ToolController: a tool key puts
that tool in every plane view, and the tool works through the controller (its
document, prompts, plane views, brush radius); [ and ] scale the brush within bounds.
The slice, zoom, fill and erase keys act on the plane in use only (PlaneViews,
SliceLabelEdits). No model is needed: the window runs without one.
"""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage, QKeySequence
from ui_helpers import click_on_view, drag_on_canvas, make_window, open_and_wait, press_key

from medsam_gui.core.window import CT_DISPLAY_PRESETS, apply_window
from medsam_gui.ui.actions import ACTIONS
from medsam_gui.ui.tool_controller import BRUSH_STEP, MAX_BRUSH_RADIUS, MIN_BRUSH_RADIUS, TOOL_TYPES

PLANES = ("axial", "coronal", "sagittal")


@pytest.fixture
def modelless_window(qtbot, monkeypatch):
    window = make_window(qtbot, None, monkeypatch, load_model=False)
    yield window
    window.close()


@pytest.fixture
def three_planes(qtbot, modelless_window, data_root):
    """The window showing a real CT of 30 slices (122 x 101 x 30) in all three planes."""
    document = open_and_wait(qtbot, modelless_window, data_root / "totalseg" / "example_ct_sm.nii.gz")
    press_key(modelless_window, Qt.Key.Key_F5)  # axial, coronal and sagittal side by side
    qtbot.waitUntil(lambda: all(modelless_window.plane_views.views[p].isVisible() for p in PLANES))
    return modelless_window, document


def _key_of(action_id: str) -> Qt.Key:
    spec = next(spec for spec in ACTIONS if spec.action_id == action_id)
    return QKeySequence(spec.shortcuts[0])[0].key()


def _shown_grey(view) -> np.ndarray:
    """uint8 ``[y, x]``: the grey values the view shows."""
    image = view.image_item.pixmap().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    bits = image.constBits()
    bits.setsize(image.sizeInBytes())
    return np.frombuffer(bits, np.uint8).reshape(image.height(), image.bytesPerLine())[:, : image.width()].copy()


def _assert_every_view_shows_the_window(window, document) -> None:
    for plane in PLANES:
        geometry = document.plane_geometry(plane)
        expected = apply_window(geometry.take(document.volume.voxels, document.plane_index(plane)),
                                document.window_center, document.window_width)
        assert np.array_equal(_shown_grey(window.plane_views.views[plane]), expected), plane


def test_each_preset_key_sets_the_documents_window_and_every_view_redraws(qtbot, three_planes):
    window, document = three_planes
    preset_windows = {(preset.center, preset.width) for preset in CT_DISPLAY_PRESETS}
    press_key(window, _key_of("view.window_auto"))  # a window that is no preset: each preset key below changes it
    auto = (document.window_center, document.window_width)
    assert auto not in preset_windows
    _assert_every_view_shows_the_window(window, document)
    for preset in CT_DISPLAY_PRESETS:
        press_key(window, _key_of(f"view.window_{preset.key}"))
        assert (document.window_center, document.window_width) == (preset.center, preset.width), preset.key
        assert window.statusBar().currentMessage() == f"Window {preset.center:.0f} / {preset.width:.0f}"
        _assert_every_view_shows_the_window(window, document)
        assert window.actions_by_id[f"view.window_{preset.key}"].text() == \
            f"Window: {preset.name} {preset.center:g}/{preset.width:g}"
    press_key(window, _key_of("view.window_auto"))
    assert (document.window_center, document.window_width) == auto
    _assert_every_view_shows_the_window(window, document)


def test_a_right_drag_moves_the_centre_down_and_the_width_right(qtbot, three_planes):
    window, document = three_planes
    view = window.plane_views.views["coronal"]
    center, width = document.window_center, document.window_width
    drag_on_canvas(window, (60, 5), (60, 20), button=Qt.MouseButton.RightButton, view=view)
    assert document.window_center > center and document.window_width == width
    _assert_every_view_shows_the_window(window, document)

    center = document.window_center
    drag_on_canvas(window, (60, 20), (20, 20), button=Qt.MouseButton.RightButton, view=view)
    assert document.window_width < width and document.window_center == center
    _assert_every_view_shows_the_window(window, document)


def test_a_tool_key_puts_that_tool_in_every_plane_view(qtbot, three_planes):
    window, _document = three_planes
    views = window.plane_views.views
    assert window.tools.in_use == "box" and window.actions_by_id["tools.box"].isChecked()
    for name in ("points", "brush", "eraser", "crosshair", "box"):
        press_key(window, _key_of(f"tools.{name}"))
        tool = views["axial"].tool
        assert tool.name == name and all(views[plane].tool is tool for plane in PLANES), name
        assert window.tools.in_use == name and window.actions_by_id[f"tools.{name}"].isChecked()
        assert window.tool_label.text().startswith(f"tool: {name}")
    assert set(TOOL_TYPES) == {"box", "points", "brush", "eraser", "crosshair"}


def test_tools_reach_the_document_prompts_and_cursor_through_the_controller(qtbot, three_planes):
    window, document = three_planes
    views = window.plane_views.views
    drag_on_canvas(window, (30, 5), (70, 20), view=views["coronal"])  # the box tool, on the coronal view
    assert window.prompts.plane == "coronal" and window.prompts.box_xyxy is not None

    press_key(window, _key_of("tools.crosshair"))
    sagittal = document.plane_geometry("sagittal")
    index = document.plane_index("sagittal")
    click_on_view(views["sagittal"], 40, 12)
    assert sagittal.from_volume(*document.cursor_zyx) == (index, 12, 40)


def _painted_row_width(window, document, x: int, y: int) -> int:
    """Columns a single brush dab at pixel (x, y) of the axial view paints on row y (undone after)."""
    z = document.slice_index
    drag_on_canvas(window, (x, y), (x, y), steps=0)
    width = int((document.labels[z, y] == document.active_label).sum())
    assert document.undo() is not None
    return width


def test_the_brush_keys_scale_the_radius_within_its_bounds_and_the_brush_paints_with_it(qtbot, three_planes):
    window, document = three_planes
    press_key(window, _key_of("view.layout_axial"))
    press_key(window, _key_of("tools.brush"))
    tools = window.tools
    radius = tools.brush_radius
    assert window.tool_label.text() == f"tool: brush (radius {radius:.1f} px)"
    small = _painted_row_width(window, document, 60, 50)
    assert 2 * radius - 1 <= small <= 2 * radius + 1  # a row through a disc of radius r: 2r +- 1 pixel centres

    press_key(window, _key_of("tools.brush_larger"))
    press_key(window, _key_of("tools.brush_larger"))
    assert tools.brush_radius == pytest.approx(radius * BRUSH_STEP**2)
    assert window.tool_label.text() == f"tool: brush (radius {tools.brush_radius:.1f} px)"
    large = _painted_row_width(window, document, 60, 50)
    assert 2 * tools.brush_radius - 1 <= large <= 2 * tools.brush_radius + 1 and large > small

    for _ in range(40):
        press_key(window, _key_of("tools.brush_larger"))
    assert tools.brush_radius == MAX_BRUSH_RADIUS
    for _ in range(40):
        press_key(window, _key_of("tools.brush_smaller"))
    assert tools.brush_radius == MIN_BRUSH_RADIUS
    press_key(window, _key_of("tools.box"))
    assert window.tool_label.text() == "tool: box"


def _press_action_key(window, action_id: str) -> None:
    """The first shortcut of ``action_id``, modifiers included, as the user types it."""
    spec = next(spec for spec in ACTIONS if spec.action_id == action_id)
    combination = QKeySequence(spec.shortcuts[0])[0]
    press_key(window, combination.key(), combination.keyboardModifiers())


def _use_coronal(window) -> None:
    """A crosshair click on the coronal view: it becomes the plane in use."""
    press_key(window, _key_of("tools.crosshair"))
    click_on_view(window.plane_views.views["coronal"], 60, 15)
    assert window.plane_views.current_plane == "coronal"


def test_slice_and_zoom_keys_act_on_the_plane_in_use(qtbot, three_planes):
    window, document = three_planes
    _use_coronal(window)
    coronal, axial = document.plane_index("coronal"), document.plane_index("axial")
    _press_action_key(window, "view.next_slice")
    assert (document.plane_index("coronal"), document.plane_index("axial")) == (coronal + 1, axial)
    _press_action_key(window, "view.previous_slice")
    _press_action_key(window, "view.previous_slice")
    assert document.plane_index("coronal") == coronal - 1

    views = window.plane_views.views
    zooms = {plane: views[plane].zoom for plane in PLANES}
    _press_action_key(window, "view.zoom_in")
    assert views["coronal"].zoom == pytest.approx(zooms["coronal"] * 1.25)
    assert all(views[plane].zoom == zooms[plane] for plane in ("axial", "sagittal"))
    _press_action_key(window, "view.zoom_out")
    assert views["coronal"].zoom == pytest.approx(zooms["coronal"])


def test_fill_and_erase_keys_edit_the_active_label_on_the_coronal_slice_only(qtbot, three_planes):
    window, document = three_planes
    _use_coronal(window)
    geometry, index = document.plane_geometry("coronal"), document.plane_index("coronal")
    ring = np.zeros(geometry.image_shape, bool)
    ring[5:15, 40:60] = True
    ring[8:12, 45:55] = False  # a hole
    document.paint_plane("coronal", index, ring)
    document.paint_plane("coronal", index + 1, ring)  # a neighbour the keys must leave alone
    label = document.active_label

    def on_slice(offset: int) -> np.ndarray:
        return geometry.take(document.labels, index + offset) == label

    _press_action_key(window, "edit.fill_slice")
    assert on_slice(0)[8:12, 45:55].all() and on_slice(0).sum() == 10 * 20
    assert np.array_equal(on_slice(1), ring)
    _press_action_key(window, "edit.erase_slice")
    assert not on_slice(0).any() and np.array_equal(on_slice(1), ring)
    assert document.undo() is not None and on_slice(0).sum() == 10 * 20  # each key is one undo step
