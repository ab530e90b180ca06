"""Before the window opens on Linux: are the system libraries of Qt's xcb plugin there?

Without one of them Qt cannot load its X11 (xcb) platform plugin and aborts the process
(exit status 134) with a message that blames ``libxcb-cursor0`` even when another
library is the one missing. :func:`check_qt_platform_libraries` runs before PyQt6 is
imported (this module never imports it) and names the missing libraries with the
packages that provide them. A plain Qt-free module, so ``cli.py`` can call it first.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

from medsam_gui.core.errors import MedsamGuiError

# The libraries that PyQt6-Qt6 6.11's plugins/platforms/libqxcb.so and the Qt libraries it
# loads (libQt6XcbQpa, libQt6Gui, libQt6Core, libQt6DBus) name as NEEDED (`readelf -d`),
# less those PyQt6 ships in Qt6/lib and the C/C++ runtime; their own dependencies come
# with the packages. soname -> (Debian/Ubuntu package, Fedora package).
# tests/test_platform_check.py checks this table against the installed PyQt6.
XCB_PLUGIN_LIBRARIES: dict[str, tuple[str, str]] = {
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libz.so.1": ("zlib1g", "zlib"),
    "libzstd.so.1": ("libzstd1", "libzstd"),
}


def library_loads(soname: str) -> bool:
    """Whether the dynamic loader finds and loads ``soname`` (as Qt's plugin loader would)."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def qt_will_load_xcb(environ: Mapping[str, str]) -> bool:
    """Whether Qt will load its xcb plugin in this (Linux) environment.

    ``QT_QPA_PLATFORM`` lists the plugins Qt tries in order ("wayland;xcb", "xcb:opts");
    unset, Qt 6 tries wayland first in a Wayland session (``XDG_SESSION_TYPE=wayland``),
    else xcb. Wayland is taken to work when ``WAYLAND_DISPLAY`` is set, any other plugin
    (offscreen, minimal, eglfs, vnc, ...) always: Qt then never reaches xcb. Qt loads the
    plugin (and fails on a missing library) before it looks for a display, so ``DISPLAY``
    does not matter here.
    """
    requested = environ.get("QT_QPA_PLATFORM", "").strip()
    if requested:
        names = [entry.split(":")[0].strip() for entry in requested.split(";")]
    elif environ.get("XDG_SESSION_TYPE") == "wayland":
        names = ["wayland", "xcb"]
    else:
        names = ["xcb"]
    for name in names:
        if name == "xcb":
            return True
        if not name.startswith("wayland") or environ.get("WAYLAND_DISPLAY"):
            return False
    return False


def missing_libraries(probe: Callable[[str], bool] = library_loads) -> list[str]:
    """The sonames of :data:`XCB_PLUGIN_LIBRARIES` that ``probe`` cannot load, in table order."""
    return [soname for soname in XCB_PLUGIN_LIBRARIES if not probe(soname)]


def check_qt_platform_libraries(
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    probe: Callable[[str], bool] = library_loads,
) -> None:
    """Raise :class:`MedsamGuiError` naming the missing libraries and their packages when
    Qt would load its xcb plugin (on Linux) and cannot; return quietly otherwise.

    ``environ`` (default ``os.environ``), ``platform`` (default ``sys.platform``) and
    ``probe`` (soname -> loads?) are parameters so tests can describe any machine.
    """
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux") or not qt_will_load_xcb(environ):
        return
    missing = missing_libraries(probe)
    if not missing:
        return
    debian = list(dict.fromkeys(XCB_PLUGIN_LIBRARIES[soname][0] for soname in missing))
    fedora = list(dict.fromkeys(XCB_PLUGIN_LIBRARIES[soname][1] for soname in missing))
    raise MedsamGuiError(
        "the window cannot open: Qt's X11 (xcb) platform plugin needs system libraries "
        f"that are missing: {', '.join(missing)}. Install them with\n"
        f"  sudo apt-get install {' '.join(debian)}    (Debian, Ubuntu)\n"
        f"  sudo dnf install {' '.join(fedora)}    (Fedora)\n"
        "The commands without a window (medsam-gui info, convert, segment, models) work without them."
    )
