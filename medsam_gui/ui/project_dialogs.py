"""The New project dialog: where the scans are, where the project goes, the label names."""

from __future__ import annotations

from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

MANIFEST_FILTER = "Manifests (*.csv *.json);;All files (*)"


class NewProjectDialog(QDialog):
    """Asks for the images (a folder of scans or a .csv/.json manifest), the project
    folder and the label names (comma-separated; ``name=value`` sets a value).

    After ``accepted``: ``images``, ``folder`` and ``label_names`` hold the answers.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("new_project_dialog")
        self.setWindowTitle("New annotation project")
        self.images_edit = QLineEdit()
        self.images_edit.setObjectName("new_project.images")
        self.folder_edit = QLineEdit()
        self.folder_edit.setObjectName("new_project.folder")
        self.labels_edit = QLineEdit()
        self.labels_edit.setObjectName("new_project.labels")
        self.labels_edit.setPlaceholderText("liver, spleen, tumour=5")

        images_folder = QPushButton("Folder...")
        images_folder.clicked.connect(lambda: self._choose_folder(self.images_edit, "Folder of scans"))
        manifest = QPushButton("Manifest...")
        manifest.clicked.connect(self._choose_manifest)
        project_folder = QPushButton("Folder...")
        project_folder.clicked.connect(lambda: self._choose_folder(self.folder_edit, "Project folder"))

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        for edit in (self.images_edit, self.folder_edit, self.labels_edit):
            edit.textChanged.connect(self._update_ok)
        self._update_ok()

        form = QFormLayout(self)
        form.addRow("Images (folder or manifest)", _row(self.images_edit, images_folder, manifest))
        form.addRow("Project folder", _row(self.folder_edit, project_folder))
        form.addRow("Label names", self.labels_edit)
        form.addRow(self.buttons)

    @property
    def images(self) -> str:
        return self.images_edit.text().strip()

    @property
    def folder(self) -> str:
        return self.folder_edit.text().strip()

    @property
    def label_names(self) -> list[str]:
        return [name.strip() for name in self.labels_edit.text().split(",") if name.strip()]

    def _update_ok(self) -> None:
        ready = bool(self.images and self.folder and self.label_names)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ready)

    def _choose_folder(self, edit: QLineEdit, title: str) -> None:
        path = QFileDialog.getExistingDirectory(self, title, edit.text())
        if path:
            edit.setText(path)

    def _choose_manifest(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Manifest of scans", self.images, MANIFEST_FILTER)
        if path:
            self.images_edit.setText(path)


def _row(*widgets) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(widgets[0], 1)
    for widget in widgets[1:]:
        layout.addWidget(widget)
    return row
