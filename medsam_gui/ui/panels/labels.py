"""Labels panel: the label table of the Document, overlay opacity and outline mode.

The panel edits the Document's LabelTable and active label directly (GUI thread) and
emits ``labels_changed`` so the window redraws the overlay. In an annotation project
(``set_schema``) the labels are the project's: "Add" offers the schema's labels not in
the table (and is disabled when none is missing); names and colours are not edited here.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QColor, QIcon, QPixmap
from PyQt6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)


def _swatch(colour: tuple[int, int, int]) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(*colour))
    return QIcon(pixmap)


class LabelsPanel(QWidget):
    """List of labels (checkbox = visible, swatch = colour), buttons and overlay settings.

    Signals:
        labels_changed(): names, colours, visibility or the active label changed.
        display_changed(): opacity or outline mode changed.
    """

    labels_changed = pyqtSignal()
    display_changed = pyqtSignal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.document = None
        self.schema = None  # the project's LabelSchema, or None outside a project
        self._updating = False
        self._shown_colours: list[tuple[int, int, int]] = []
        self.list_widget = QListWidget()
        self.list_widget.setObjectName("labels.list")
        self.list_widget.currentItemChanged.connect(self._on_current_changed)
        self.list_widget.itemChanged.connect(self._on_item_changed)
        self.list_widget.itemDoubleClicked.connect(lambda _item: self.rename_current())

        buttons = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for object_name, text, slot in (
            ("labels.add_button", "Add", self.add_label),
            ("labels.rename_button", "Rename", self.rename_current),
            ("labels.colour_button", "Colour", self.recolour_current),
            ("labels.delete_button", "Delete", self.delete_current),
        ):
            button = QPushButton(text)
            button.setObjectName(object_name)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(slot)
            buttons.addWidget(button)
            self.buttons[object_name] = button

        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setObjectName("labels.opacity")
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(50)
        self.opacity_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.opacity_slider.valueChanged.connect(lambda _v: self.display_changed.emit())
        self.outline_box = QCheckBox("Outline only")
        self.outline_box.setObjectName("labels.outline")
        self.outline_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.outline_box.toggled.connect(lambda _v: self.display_changed.emit())
        self.show_box = QCheckBox("Show overlays")
        self.show_box.setObjectName("labels.show_all")
        self.show_box.setChecked(True)
        self.show_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.show_box.toggled.connect(lambda _v: self.display_changed.emit())

        opacity_row = QHBoxLayout()
        opacity_row.addWidget(QLabel("Opacity"))
        opacity_row.addWidget(self.opacity_slider)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list_widget)
        layout.addLayout(buttons)
        layout.addLayout(opacity_row)
        layout.addWidget(self.outline_box)
        layout.addWidget(self.show_box)

    # -- state read by the window ----------------------------------------------------
    @property
    def opacity(self) -> float:
        return self.opacity_slider.value() / 100.0

    @property
    def outline_only(self) -> bool:
        return self.outline_box.isChecked()

    @property
    def overlays_visible(self) -> bool:
        return self.show_box.isChecked()

    # -- document --------------------------------------------------------------------
    def set_document(self, document) -> None:
        self.document = document
        self.refresh()

    def set_schema(self, schema) -> None:
        """Use the project's LabelSchema (None: free labels, as outside a project)."""
        self.schema = schema
        self.refresh()

    def missing_schema_labels(self) -> list:
        """The schema's labels (SchemaLabel) not in the document's table, by value."""
        if self.schema is None or self.document is None:
            return []
        return [label for label in self.schema if label.value not in self.document.label_table]

    def _update_buttons(self) -> None:
        editable = self.document is not None and not self.document.read_only
        in_project = self.schema is not None
        self.buttons["labels.add_button"].setEnabled(editable and (not in_project or bool(self.missing_schema_labels())))
        self.buttons["labels.rename_button"].setEnabled(editable and not in_project)
        self.buttons["labels.colour_button"].setEnabled(editable and not in_project)
        self.buttons["labels.delete_button"].setEnabled(editable)

    def refresh(self) -> None:
        """Rebuild the list from the document's label table."""
        self._updating = True
        self.list_widget.clear()
        self._shown_colours = [label.colour for label in self.document.label_table] if self.document is not None else []
        if self.document is not None:
            for label in self.document.label_table:
                item = QListWidgetItem(_swatch(label.colour), f"{label.value}  {label.name}")
                item.setData(Qt.ItemDataRole.UserRole, label.value)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if label.visible else Qt.CheckState.Unchecked)
                self.list_widget.addItem(item)
                if label.value == self.document.active_label:
                    self.list_widget.setCurrentItem(item)
        self._updating = False
        self._update_buttons()

    def refresh_if_table_changed(self) -> None:
        """Rebuild the list only when labels were added, removed, renamed or recoloured
        (undo and redo do all of these), or the active label changed."""
        if self.document is None:
            return
        shown = [(item.data(Qt.ItemDataRole.UserRole), item.text(), item.isSelected())
                 for item in map(self.list_widget.item, range(self.list_widget.count()))]
        wanted = [(label.value, f"{label.value}  {label.name}", label.value == self.document.active_label)
                  for label in self.document.label_table]
        if shown != wanted or self._shown_colours != [label.colour for label in self.document.label_table]:
            self.refresh()

    def _on_current_changed(self, current, _previous) -> None:
        if self._updating or current is None or self.document is None:
            return
        self.document.active_label = int(current.data(Qt.ItemDataRole.UserRole))
        self.labels_changed.emit()

    def _on_item_changed(self, item) -> None:
        if self._updating or self.document is None:
            return
        value = int(item.data(Qt.ItemDataRole.UserRole))
        visible = item.checkState() == Qt.CheckState.Checked
        if self.document.label_table.get(value).visible != visible:
            self.document.update_label(value, visible=visible)
            self.labels_changed.emit()

    # -- commands --------------------------------------------------------------------
    def select_label(self, value: int) -> None:
        if self.document is not None and value in self.document.label_table:
            self.document.active_label = value
            self.refresh()
            self.labels_changed.emit()

    def step_label(self, step: int) -> None:
        """Make the next (+1) or previous (-1) label active."""
        if self.document is None:
            return
        values = [label.value for label in self.document.label_table]
        if not values:
            return
        position = values.index(self.document.active_label) if self.document.active_label in values else 0
        self.select_label(values[(position + step) % len(values)])

    def add_label(self) -> None:
        """A new free label; in a project, the schema label the user picks among the missing ones."""
        if self.document is None or self.document.read_only:
            return
        if self.schema is None:
            self.document.add_label()
            self.refresh()
            self.labels_changed.emit()
            return
        missing = self.missing_schema_labels()
        if len(missing) > 1:
            names = [label.name for label in missing]
            name, ok = QInputDialog.getItem(self, "Add label", "Project label:", names, 0, False)
            missing = [label for label in missing if ok and label.name == name]
        if missing:
            self.document.merge_labels([missing[0].to_label()])
            self.select_label(missing[0].value)

    def rename_current(self) -> None:
        if self.document is None or self.schema is not None:
            return
        value = self.document.active_label
        name, ok = QInputDialog.getText(self, "Rename label", "Name:", text=self.document.label_table.get(value).name)
        if ok and name.strip():
            self.document.update_label(value, name=name.strip())
            self.refresh()
            self.labels_changed.emit()

    def recolour_current(self) -> None:
        if self.document is None or self.schema is not None:
            return
        value = self.document.active_label
        colour = QColorDialog.getColor(QColor(*self.document.label_table.get(value).colour), self, "Label colour")
        if colour.isValid():
            self.document.update_label(value, colour=(colour.red(), colour.green(), colour.blue()))
            self.refresh()
            self.labels_changed.emit()

    def delete_current(self) -> None:
        if self.document is None:
            return
        label = self.document.label_table.get(self.document.active_label)
        answer = QMessageBox.question(self, "Delete label", f"Delete label '{label.name}' and erase its voxels?")
        if answer == QMessageBox.StandardButton.Yes:
            self.document.delete_label(label.value)
            self.refresh()
            self.labels_changed.emit()
