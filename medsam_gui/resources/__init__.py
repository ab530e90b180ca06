"""Files the app reads at run time: the window icon and the style sheet.

They ship inside the package (setuptools package data; the PyInstaller spec copies
this folder), so they are found the same way from a source checkout, a wheel and a
frozen build. Installer-only files (.desktop, .ico, .icns) live in ``resources/`` at
the repository root.
"""

from __future__ import annotations

from pathlib import Path

RESOURCE_DIR = Path(__file__).resolve().parent
APP_ICON_NAME = "medsam-gui.png"
STYLE_SHEET_NAME = "style.qss"


def resource_path(name: str) -> Path:
    """Path of the packaged resource ``name``; raises FileNotFoundError when missing."""
    path = RESOURCE_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: packaged resource missing (broken installation)")
    return path


def app_icon_path() -> Path:
    """The 256 x 256 PNG window icon."""
    return resource_path(APP_ICON_NAME)


def style_sheet_text() -> str:
    """The Qt style sheet, as text for ``QApplication.setStyleSheet``."""
    return resource_path(STYLE_SHEET_NAME).read_text(encoding="utf-8")
