"""Model panel: which model runs where, and how far the encoder has got."""

from __future__ import annotations

import os

from PyQt6.QtWidgets import QFormLayout, QLabel, QWidget


class ModelPanel(QWidget):
    """Read-only facts: model name, device, licence, source, encoded slices."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.name_label = QLabel("loading...")
        self.device_label = QLabel("-")
        self.licence_label = QLabel("-")
        self.source_label = QLabel("-")
        self.source_label.setWordWrap(True)
        self.licence_label.setWordWrap(True)
        self.progress_label = QLabel("-")
        self.progress_label.setObjectName("model.progress")
        layout = QFormLayout(self)
        layout.addRow("Model", self.name_label)
        layout.addRow("Device", self.device_label)
        layout.addRow("Licence", self.licence_label)
        layout.addRow("Source", self.source_label)
        layout.addRow("Encoded", self.progress_label)

    def set_model_info(self, info) -> None:
        self.name_label.setText(info.display_name)
        self.device_label.setText(info.device)
        self.licence_label.setText(info.licence)
        self.source_label.setText(os.path.basename(str(info.source)) or str(info.source))
        self.source_label.setToolTip(str(info.source))

    def set_model_error(self, message: str) -> None:
        self.name_label.setText("not available")
        self.source_label.setText(message)
        self.source_label.setToolTip(message)

    def set_progress(self, encoded: int, total: int) -> None:
        self.progress_label.setText(f"{encoded} / {total} slices")
