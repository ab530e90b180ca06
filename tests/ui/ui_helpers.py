"""Helpers for driving the real window: open a scan, wait for embeddings, drag, press keys."""

from __future__ import annotations

from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtTest import QTest

ENCODE_TIMEOUT_MS = 120_000


def make_window(qtbot, engine, monkeypatch, load_model=True):
    """A shown MainWindow on ``engine``; unsaved labels are discarded without a dialog.

    With ``engine=None`` and ``load_model=False`` the window has no model until the
    test calls ``window.attach_engine(engine)``.
    """
    from medsam_gui.ui.main_window import MainWindow

    window = MainWindow(engine=engine, load_model=load_model)
    monkeypatch.setattr(window, "ask_save_changes", lambda: "discard")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    return window


def open_and_wait(qtbot, window, path, series_uid=None):
    """Open ``path`` through the window's background loader and wait for the document."""
    window.open_path(str(path), series_uid)
    qtbot.waitUntil(lambda: window.document is not None, timeout=60_000)
    return window.document


def wait_encoded(qtbot, window, slice_index):
    qtbot.waitUntil(lambda: window.engine.is_encoded(slice_index), timeout=ENCODE_TIMEOUT_MS)


def drag_on_canvas(window, start_xy, end_xy, button=Qt.MouseButton.LeftButton, steps=4, view=None):
    """Press at image pixel ``start_xy``, move in ``steps``, release at ``end_xy`` (x, y),
    on ``view`` (default the axial view)."""
    view = window.view if view is None else view
    viewport = view.viewport()

    def to_widget(x, y) -> QPoint:
        return view.widget_position(x + 0.5, y + 0.5)

    QTest.mousePress(viewport, button, Qt.KeyboardModifier.NoModifier, to_widget(*start_xy))
    for step in range(1, steps + 1):
        t = step / steps
        x = start_xy[0] + t * (end_xy[0] - start_xy[0])
        y = start_xy[1] + t * (end_xy[1] - start_xy[1])
        QTest.mouseMove(viewport, to_widget(x, y))
    QTest.mouseRelease(viewport, button, Qt.KeyboardModifier.NoModifier, to_widget(*end_xy))


def press_key(window, key, modifiers=Qt.KeyboardModifier.NoModifier):
    """A key press as the user makes it: to the focused canvas, through the shortcut map."""
    window.activateWindow()
    window.view.setFocus()
    QTest.keyClick(window.view, key, modifiers)


def click_on_view(view, x, y, modifiers=Qt.KeyboardModifier.NoModifier, button=Qt.MouseButton.LeftButton):
    """A click on image pixel (x, y) of ``view`` (x = column, y = row of its plane slice)."""
    QTest.mouseClick(view.viewport(), button, modifiers, view.widget_position(x + 0.5, y + 0.5))
