"""OpeningController: open a scan file or DICOM folder in the background, cancellably.

One job: reading scans. A VolumeLoader thread reads the file while the window stays
usable; the status bar shows a busy bar and a Cancel button meanwhile. A new open
supersedes one still reading, and a cancelled or superseded loader's result (even one
already queued) is dropped; a reader in flight is never killed (``wait`` joins them all
at exit). A folder with several series asks which one.

Dependencies (explicit): ``window`` (parent of the dialogs), ``status`` (the QStatusBar:
messages), ``show_error(message)``, ``confirm_unsaved_changes()`` (True: the open case may
be left) and ``show_volume(volume)`` (show a read volume as the new case).
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import QObject
from PyQt6.QtWidgets import QFileDialog, QProgressBar, QToolButton, QWidget

from medsam_gui.ui.dialogs import SeriesChooser
from medsam_gui.ui.worker import VolumeLoader

FILE_FILTER = "Scans (*.dcm *.nii *.nii.gz *.nrrd *.nhdr *.mha *.mhd *.png *.jpg *.jpeg *.tif *.tiff);;All files (*)"


class OpeningController(QObject):
    """Attributes: ``progress_bar`` and ``cancel_button`` (for the window's status bar),
    ``abandoned_loaders`` (cancelled opens still reading)."""

    def __init__(self, window: QWidget, status, show_error: Callable[[str], None],
                 confirm_unsaved_changes: Callable[[], bool], show_volume: Callable) -> None:
        super().__init__(window)
        self._window = window
        self._status = status
        self._show_error = show_error
        self._confirm_unsaved_changes = confirm_unsaved_changes
        self._show_volume = show_volume
        self._loader: VolumeLoader | None = None
        self.abandoned_loaders: list[VolumeLoader] = []
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("status.progress")
        self.progress_bar.setRange(0, 0)  # busy indicator
        self.progress_bar.setMaximumWidth(120)
        self.progress_bar.hide()
        self.cancel_button = QToolButton()
        self.cancel_button.setObjectName("status.cancel_open")
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop opening this file (the open case stays)")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()

    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._window, "Open a scan", "", FILE_FILTER)
        if path:
            self.open_path(path)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self._window, "Open a DICOM folder")
        if path:
            self.open_path(path)

    def open_path(self, path: str, series_uid: str | None = None, on_loaded=None) -> None:
        """Open a file or folder in the background; the window stays usable meanwhile.
        ``on_loaded(volume)``, when given, is called instead of showing the volume
        (a project case: its controller saves the case being left and shows it)."""
        if on_loaded is None and not self._confirm_unsaved_changes():
            return
        self.cancel()  # a new open supersedes one still reading
        loader = VolumeLoader(str(path), series_uid, parent=self)
        # a cancelled or superseded loader's result (even one already queued) is dropped
        show = on_loaded or self._show_volume
        loader.loaded.connect(lambda volume: loader is self._loader and (self.show_busy(False), show(volume)))
        loader.ambiguous.connect(lambda folder, series: loader is self._loader and self._choose_series(folder, series))
        loader.failed.connect(lambda message: loader is self._loader and self._on_failed(message))
        self._loader = loader
        self.show_busy(True)
        self._status.showMessage(f"Opening {path}...")
        loader.start()

    def cancel(self) -> None:
        """Stop waiting for the file being opened: its result is dropped when it arrives
        (a reader in flight is never killed) and the open case stays as it was."""
        loader, self._loader = self._loader, None
        if loader is None:
            return
        self.abandoned_loaders = [old for old in self.abandoned_loaders if old.isRunning()] + [loader]
        if not self.progress_bar.isVisible():
            return
        self.show_busy(False)
        self._status.showMessage(f"Stopped opening {loader.path}", 5000)

    def show_busy(self, opening: bool) -> None:
        """Show or hide the busy bar and the Cancel button."""
        self.progress_bar.setVisible(opening)
        self.cancel_button.setVisible(opening)

    def wait(self) -> None:
        """Join every reader still running (at exit)."""
        for loader in (self._loader, *self.abandoned_loaders):
            if loader is not None:
                loader.wait()

    def _on_failed(self, message: str) -> None:
        self.show_busy(False)
        self._show_error(message)

    def _choose_series(self, folder: str, series: list) -> None:
        self.show_busy(False)
        self._status.clearMessage()
        chooser = SeriesChooser(folder, series, self._window)
        chooser.accepted.connect(lambda: chooser.chosen_uid and self.open_path(folder, chooser.chosen_uid))
        chooser.open()
