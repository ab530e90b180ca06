"""Small dialogs: choose a series of a DICOM folder; list the keyboard shortcuts."""

from __future__ import annotations

from PyQt6.QtWidgets import QAbstractItemView, QDialog, QDialogButtonBox, QTableWidget, QTableWidgetItem, QVBoxLayout

from medsam_gui.ui.actions import shortcut_rows


def _table(headers: list[str], rows: list[list[str]], object_name: str) -> QTableWidget:
    table = QTableWidget(len(rows), len(headers))
    table.setObjectName(object_name)
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    for row, values in enumerate(rows):
        for column, value in enumerate(values):
            table.setItem(row, column, QTableWidgetItem(value))
    table.resizeColumnsToContents()
    table.horizontalHeader().setStretchLastSection(True)
    return table


class SeriesChooser(QDialog):
    """Lists the series of a folder (description, modality, size, identifier); ``chosen_uid`` after OK.

    ``chosen_uid`` is the chosen series' ``series_id`` (what ``open_volume`` takes):
    its SeriesInstanceUID, or ``no-series-uid`` for files without one.
    """

    def __init__(self, folder: str, series: list, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Choose a series - {folder}")
        self.setObjectName("series_chooser")
        self.series = series
        rows = [
            [info.description or "(no description)", info.modality, " x ".join(str(v) for v in info.size_xyz), info.series_id]
            for info in series
        ]
        self.table = _table(["Description", "Modality", "Size (x y z)", "Series UID"], rows, "series_chooser.table")
        self.table.selectRow(0)
        self.table.doubleClicked.connect(lambda _index: self.accept())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(700, 300)

    @property
    def chosen_uid(self) -> str | None:
        row = self.table.currentRow()
        return self.series[row].series_id if 0 <= row < len(self.series) else None


class ShortcutsDialog(QDialog):
    """Every action with a shortcut, built from the action table."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setObjectName("shortcuts_dialog")
        rows = [list(row) for row in shortcut_rows()]
        rows += [
            ["Canvas", "Next / previous slice of that view (it becomes the view in use)", "Mouse wheel"],
            ["Canvas", "Box or +/- points on any plane (axial, coronal, sagittal)", "B or P tool, left drag / click"],
            ["Canvas", "Move the 3D cursor (the other views follow)", "Ctrl+click, Ctrl+drag"],
            ["Canvas", "Zoom about the cursor", "Ctrl+wheel"],
            ["Canvas", "Pan", "Middle drag, Space+drag"],
            ["Canvas", "Window / level", "Right drag"],
        ]
        self.table = _table(["Menu", "Action", "Shortcut"], rows, "shortcuts_dialog.table")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(520, 600)
