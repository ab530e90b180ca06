"""Start the desktop app: ``medsam-gui [PATH]`` ends up in :func:`run_app`."""

from __future__ import annotations

import sys

from PyQt6.QtWidgets import QApplication

from medsam_gui.ui.main_window import MainWindow
from medsam_gui.ui.termination import stop_on_sigterm


def run_app(path: str | None = None, series_uid: str | None = None) -> int:
    """Show the main window, open ``path`` (file or DICOM folder) if given, run the event loop.

    Returns the exit status of the Qt event loop.
    """
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("medsam-gui")
    app.setOrganizationName("medsam-gui")
    window = MainWindow()
    window.show()
    stop_on_sigterm(app, window)
    if path:
        window.open_path(path, series_uid)
    return int(app.exec())
