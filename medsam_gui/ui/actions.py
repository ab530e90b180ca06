"""The one table of the app's actions: adding an action is one row plus a handler.

Each row becomes a QAction whose objectName is the row's ``action_id`` (tests and the
Help > Shortcuts dialog find actions by it), placed in the named menu, with its
shortcuts, triggering the window's method ``handler`` with the row's ``args`` (a dotted
name such as ``project_controller.next_case`` reaches a controller the window holds).
Rows with ``group`` are checkable and mutually exclusive within the group (the tools).
The display window rows are made from the preset table (``core.window.CT_DISPLAY_PRESETS``).
"""

from __future__ import annotations

from dataclasses import dataclass

from PyQt6.QtGui import QAction, QActionGroup, QKeySequence

from medsam_gui.core.window import CT_DISPLAY_PRESETS

MENU_ORDER = ("File", "Edit", "Tools", "Segment", "View", "Labels", "Project", "Help")


@dataclass(frozen=True)
class ActionSpec:
    """One action: ``handler`` names a method of MainWindow or (dotted) of an object it
    holds, called with ``args``."""

    action_id: str
    text: str
    shortcuts: tuple[str, ...]
    handler: str
    menu: str
    group: str | None = None
    separator_before: bool = False
    args: tuple = ()


WINDOW_PRESET_SHORTCUTS = {"soft_tissue": "1", "lung": "2", "bone": "3", "brain": "4", "mediastinum": "5"}


def _window_preset_actions() -> tuple[ActionSpec, ...]:
    """View > Window: one row per CT preset (in the table's order, its values in the text), then auto."""
    presets = tuple(
        ActionSpec(f"view.window_{preset.key}", f"Window: {preset.name} {preset.center:g}/{preset.width:g}",
                   (WINDOW_PRESET_SHORTCUTS[preset.key],), "display_window.use_preset", "View",
                   separator_before=number == 0, args=(preset.key,))
        for number, preset in enumerate(CT_DISPLAY_PRESETS))
    auto = ActionSpec("view.window_auto", "Window: auto (percentiles, MR)", ("0",), "display_window.use_auto", "View")
    return (*presets, auto)


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("file.open", "&Open file...", ("Ctrl+O",), "opening.open_file_dialog", "File"),
    ActionSpec("file.open_folder", "Open DICOM &folder...", ("Ctrl+Shift+O",), "opening.open_folder_dialog", "File"),
    ActionSpec("file.new_project", "&New project...", (), "project_controller.new_project_dialog", "File",
               separator_before=True),
    ActionSpec("file.open_project", "Open pro&ject...", (), "project_controller.open_project_dialog", "File"),
    ActionSpec("file.export_labels", "&Export labels...", ("Ctrl+E",), "case_files.export_labels_dialog", "File", separator_before=True),
    ActionSpec("file.import_labels", "&Import labels...", ("Ctrl+I",), "case_files.import_labels_dialog", "File"),
    ActionSpec("file.save_session", "&Save session...", ("Ctrl+S",), "case_files.save_session_dialog", "File"),
    ActionSpec("file.open_session", "Open sess&ion...", (), "case_files.open_session_dialog", "File"),
    ActionSpec("file.quit", "&Quit", ("Ctrl+Q",), "close", "File", separator_before=True),
    ActionSpec("edit.undo", "&Undo", ("Ctrl+Z",), "undo", "Edit"),
    ActionSpec("edit.redo", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "redo", "Edit"),
    ActionSpec("edit.accept", "&Accept mask", ("Return", "Enter"), "prompt_controller.accept", "Edit",
               separator_before=True),
    ActionSpec("edit.accept_replace", "Accept mask, &replacing the label inside the box", ("Shift+Return", "Shift+Enter"),
               "prompt_controller.accept", "Edit", args=(True,)),  # replace_in_box
    ActionSpec("edit.discard", "&Discard mask", ("Escape",), "prompt_controller.discard", "Edit"),
    ActionSpec("edit.fill_slice", "&Fill holes of label on slice (view in use)", ("Ctrl+F",), "slice_label_edits.fill_holes",
               "Edit"),
    ActionSpec("edit.erase_slice", "&Erase label on slice (view in use)", ("Delete",), "slice_label_edits.erase", "Edit"),
    ActionSpec("tools.box", "&Box", ("B",), "tools.use", "Tools", group="tools", args=("box",)),
    ActionSpec("tools.points", "&Points (+ left, - right/Shift)", ("P",), "tools.use", "Tools", group="tools",
               args=("points",)),
    ActionSpec("tools.brush", "B&rush", ("R",), "tools.use", "Tools", group="tools", args=("brush",)),
    ActionSpec("tools.eraser", "&Eraser", ("E",), "tools.use", "Tools", group="tools", args=("eraser",)),
    ActionSpec("tools.crosshair", "&Crosshair: click sets the 3D cursor (Ctrl+click with any tool)", ("C",),
               "tools.use", "Tools", group="tools", args=("crosshair",)),
    ActionSpec("tools.brush_smaller", "Brush smaller", ("[",), "tools.resize_brush", "Tools", separator_before=True,
               args=(-1,)),
    ActionSpec("tools.brush_larger", "Brush larger", ("]",), "tools.resize_brush", "Tools", args=(+1,)),
    ActionSpec("view.next_slice", "&Next slice (view in use)", ("PgDown",), "plane_views.step_in_use", "View", args=(+1,)),
    ActionSpec("view.previous_slice", "&Previous slice (view in use)", ("PgUp",), "plane_views.step_in_use", "View", args=(-1,)),
    ActionSpec("view.layout_axial", "&Axial view", ("F2",), "plane_views.show_axial", "View", separator_before=True),
    ActionSpec("view.layout_coronal", "&Coronal view", ("F3",), "plane_views.show_coronal", "View"),
    ActionSpec("view.layout_sagittal", "&Sagittal view", ("F4",), "plane_views.show_sagittal", "View"),
    ActionSpec("view.layout_side_by_side", "Axial, coronal and sagittal side &by side", ("F5",),
               "plane_views.show_side_by_side", "View"),
    ActionSpec("view.crosshair", "Show/hide the &crosshair (3D cursor)", ("X",), "plane_views.toggle_crosshair", "View"),
    ActionSpec("view.fit", "&Fit to window", ("F",), "plane_views.fit", "View", separator_before=True),
    ActionSpec("view.zoom_in", "Zoom &in", ("Ctrl+=", "Ctrl++"), "plane_views.zoom_in_use", "View", args=(1.25,)),
    ActionSpec("view.zoom_out", "Zoom &out", ("Ctrl+-",), "plane_views.zoom_in_use", "View", args=(0.8,)),
    ActionSpec("view.toggle_overlays", "Show/hide all &overlays", ("O",), "labels_panel.show_box.toggle", "View",
               separator_before=True),
    ActionSpec("view.outline", "Out&line only", ("Shift+O",), "labels_panel.outline_box.toggle", "View"),
    *_window_preset_actions(),
    ActionSpec("labels.add", "&New label", ("N",), "labels_panel.add_label", "Labels"),
    ActionSpec("labels.next", "Next label", ("L",), "labels_panel.step_label", "Labels", args=(+1,)),
    ActionSpec("labels.previous", "Previous label", ("Shift+L",), "labels_panel.step_label", "Labels", args=(-1,)),
    ActionSpec("segment.propagate", "&Propagate label from this slice, both ways along the plane in use", ("Ctrl+P",),
               "segment3d.propagate_both", "Segment"),
    ActionSpec("segment.propagate_up", "Propagate &up (higher slice numbers of the plane in use)", ("Ctrl+Shift+Up",),
               "segment3d.propagate_up", "Segment"),
    ActionSpec("segment.propagate_down", "Propagate &down (lower slice numbers of the plane in use)",
               ("Ctrl+Shift+Down",), "segment3d.propagate_down", "Segment"),
    ActionSpec("segment.next_weak_slice", "Next &weak slice of the last 3D job", ("W",), "segment3d.next_weak_slice",
               "Segment"),
    ActionSpec("segment.add_key_box", "Add &key box (this slice; one plane per set)", ("K",), "segment3d.add_key_box",
               "Segment",
               separator_before=True),
    ActionSpec("segment.key_boxes_propagate", "&Segment key boxes and propagate between them", ("Ctrl+Shift+K",),
               "segment3d.propagate_from_key_boxes", "Segment"),
    ActionSpec("segment.interpolate", "&Interpolate key boxes through volume", ("Ctrl+K",),
               "segment3d.interpolate_key_boxes", "Segment"),
    ActionSpec("project.next_case", "&Next case (saves this one)", ("Ctrl+Right",), "project_controller.next_case", "Project"),
    ActionSpec("project.previous_case", "&Previous case (saves this one)", ("Ctrl+Left",),
               "project_controller.previous_case", "Project"),
    ActionSpec("project.mark_done", "Mark &done", ("Ctrl+D",), "project_controller.mark_done", "Project",
               separator_before=True),
    ActionSpec("project.approve", "&Approve", (), "project_controller.approve", "Project"),
    ActionSpec("project.needs_fix", "Needs &fix...", (), "project_controller.mark_needs_fix", "Project"),
    ActionSpec("project.reopen", "&Reopen (make editable)", (), "project_controller.reopen", "Project"),
    ActionSpec("project.comment", "&Comment...", (), "project_controller.edit_comment", "Project"),
    ActionSpec("help.shortcuts", "&Keyboard shortcuts", ("F1",), "show_shortcuts", "Help"),
    ActionSpec("help.about", "&About", (), "show_about", "Help"),
)


def build_actions(window, menu_bar, specs: tuple[ActionSpec, ...] = ACTIONS) -> dict[str, QAction]:
    """Create the QActions of ``specs`` on ``window`` and put them in ``menu_bar``.

    Returns the actions by id. Menus are created in :data:`MENU_ORDER` (others after).
    """
    menus = {}
    for name in MENU_ORDER + tuple(spec.menu for spec in specs if spec.menu not in MENU_ORDER):
        if name not in menus and any(spec.menu == name for spec in specs):
            menus[name] = menu_bar.addMenu(f"&{name}")
            menus[name].setObjectName(f"menu.{name.lower()}")
    groups: dict[str, QActionGroup] = {}
    actions: dict[str, QAction] = {}
    for spec in specs:
        action = QAction(spec.text, window)
        action.setObjectName(spec.action_id)
        action.setShortcuts([QKeySequence(shortcut) for shortcut in spec.shortcuts])
        if spec.group is not None:
            group = groups.setdefault(spec.group, QActionGroup(window))
            action.setCheckable(True)
            group.addAction(action)
        action.triggered.connect(_caller(window, spec.handler, spec.args))
        if spec.separator_before:
            menus[spec.menu].addSeparator()
        menus[spec.menu].addAction(action)
        window.addAction(action)  # shortcuts work even when the menu bar is hidden
        actions[spec.action_id] = action
    return actions


def _caller(window, handler_path: str, args: tuple):
    handler = window
    for name in handler_path.split("."):
        handler = getattr(handler, name)
    return lambda _checked=False: handler(*args)


def shortcut_rows(specs: tuple[ActionSpec, ...] = ACTIONS) -> list[tuple[str, str, str]]:
    """(menu, action text without '&', shortcuts joined) for every action with a shortcut."""
    rows = []
    for spec in specs:
        if spec.shortcuts:
            native = [QKeySequence(s).toString(QKeySequence.SequenceFormat.NativeText) for s in spec.shortcuts]
            rows.append((spec.menu, spec.text.replace("&", ""), ", ".join(native)))
    return rows
