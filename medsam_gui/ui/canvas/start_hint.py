"""The start screen: what to do while no scan is open, and the recent files to reopen.

Shown centred on the empty slice view (see ``SliceView.set_placeholder``); the window
hides it when a scan opens. Drops pass through it to the view.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

HINT_TEXT = "Open a scan: File > Open file (Ctrl+O), File > Open DICOM folder (Ctrl+Shift+O), or drop a file or folder here"
MAX_SHOWN_RECENT = 6
RECENT_ENTRY_WIDTH_PX = 520  # the hint's width; longer paths are elided in the middle (tooltip: the whole path)
STYLE = """
QLabel { color: #c8c8c8; }
QPushButton { color: #8ab4f8; background: transparent; border: none; text-align: left; padding: 2px 0; }
QPushButton:hover { color: #c6dafc; text-decoration: underline; }
"""


class StartHint(QWidget):
    """The hint text and one clickable entry per recent file or folder.

    Signals:
        recent_chosen(str path): a recent entry was clicked.
    """

    recent_chosen = pyqtSignal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("start_hint")
        self.setStyleSheet(STYLE)
        self.hint_label = QLabel(HINT_TEXT)
        self.hint_label.setObjectName("start_hint.text")
        self.hint_label.setWordWrap(True)
        self.hint_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.hint_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.hint_label.setFont(font)
        self.recent_title = QLabel("Recent:")
        self.recent_buttons: list[QPushButton] = []
        self._layout = QVBoxLayout(self)
        self._layout.addWidget(self.hint_label)
        self._layout.addSpacing(12)
        self._layout.addWidget(self.recent_title)
        self.setFixedWidth(RECENT_ENTRY_WIDTH_PX + 20)

    def set_recent(self, paths: list[str]) -> None:
        """Show ``paths`` (newest first; at most MAX_SHOWN_RECENT) as clickable entries."""
        for button in self.recent_buttons:
            self._layout.removeWidget(button)
            button.deleteLater()
        self.recent_buttons = []
        for number, path in enumerate(paths[:MAX_SHOWN_RECENT]):
            button = QPushButton(self.fontMetrics().elidedText(path, Qt.TextElideMode.ElideMiddle, RECENT_ENTRY_WIDTH_PX))
            button.setObjectName(f"start_hint.recent.{number}")
            button.setToolTip(path)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(lambda _checked=False, chosen=path: self.recent_chosen.emit(chosen))
            self._layout.addWidget(button)
            self.recent_buttons.append(button)
        self.recent_title.setVisible(bool(self.recent_buttons))
