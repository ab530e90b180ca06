"""The start-up check that names the missing system libraries of Qt's xcb plugin.

The library probe is injected, so these tests describe a machine instead of depending
on which X libraries this one has.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from medsam_gui import cli
from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.ui.platform_check import XCB_PLUGIN_LIBRARIES, check_qt_platform_libraries

X11_SESSION = {"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}


def every_library_but(*absent: str):
    """A probe for a machine on which only the sonames ``absent`` are missing."""
    return lambda soname: soname not in absent


def test_a_missing_library_is_named_with_its_packages():
    with pytest.raises(MedsamGuiError) as raised:
        check_qt_platform_libraries(X11_SESSION, "linux", every_library_but("libxcb-icccm.so.4"))
    message = str(raised.value)
    assert "libxcb-icccm.so.4" in message
    assert "sudo apt-get install libxcb-icccm4 " in message and "sudo dnf install xcb-util-wm " in message
    assert "libxcb-keysyms1" not in message and "libxcb-cursor0" not in message


def test_with_every_library_present_the_check_passes():
    probed = []
    check_qt_platform_libraries(X11_SESSION, "linux", lambda soname: probed.append(soname) or True)
    assert probed == list(XCB_PLUGIN_LIBRARIES)


@pytest.mark.parametrize(
    "environ",
    [
        {**X11_SESSION, "QT_QPA_PLATFORM": "offscreen"},
        {"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"},
        {"QT_QPA_PLATFORM": "wayland;xcb", "WAYLAND_DISPLAY": "wayland-0"},
    ],
    ids=["offscreen", "wayland-session", "wayland-first"],
)
def test_no_check_where_qt_does_not_load_xcb(environ):
    def probe(soname):
        raise AssertionError(f"probed {soname} though Qt will not load xcb")

    check_qt_platform_libraries(environ, "linux", probe)


@pytest.mark.parametrize(
    "environ",
    [
        {"QT_QPA_PLATFORM": "xcb", "XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"},
        {"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ":0"},  # no Wayland display: Qt falls back to xcb
        {"XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"},
        {},  # no display at all: Qt still loads the plugin (and aborts on the missing library)
    ],
    ids=["xcb-asked-for", "wayland-then-xcb", "wayland-session-without-wayland-display", "bare"],
)
def test_check_runs_where_qt_loads_xcb(environ):
    with pytest.raises(MedsamGuiError, match="libxcb-keysyms1"):
        check_qt_platform_libraries(environ, "linux", every_library_but("libxcb-keysyms.so.1"))


def test_no_check_off_linux():
    check_qt_platform_libraries(X11_SESSION, "darwin", every_library_but(*XCB_PLUGIN_LIBRARIES))


def test_gui_start_reports_a_missing_library_with_exit_status_2(monkeypatch, capsys):
    import medsam_gui.ui.app

    monkeypatch.setattr(medsam_gui.ui.app, "run_app", lambda *args, **kwargs: pytest.fail("the window was opened"))
    monkeypatch.setitem(XCB_PLUGIN_LIBRARIES, "libmedsam-gui-absent.so.9", ("medsam-gui-absent-deb", "medsam-gui-absent-rpm"))
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert cli.main([]) == 2
    error = capsys.readouterr().err
    assert error.startswith("medsam-gui: error: the window cannot open")
    assert "libmedsam-gui-absent.so.9" in error and "medsam-gui-absent-deb" in error  # the real probe ran


def test_the_readme_lists_the_same_packages():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    debian = re.search(r"^sudo apt-get install (.+)$", readme, re.MULTILINE).group(1).split()
    fedora = re.search(r"^sudo dnf install (.+)$", readme, re.MULTILINE).group(1).split()
    assert debian == list(dict.fromkeys(deb for deb, _ in XCB_PLUGIN_LIBRARIES.values()))
    assert fedora == list(dict.fromkeys(rpm for _, rpm in XCB_PLUGIN_LIBRARIES.values()))


def needed_libraries(path: Path) -> set[str]:
    """The NEEDED entries of an ELF file's dynamic section (``readelf -d``)."""
    output = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", output))


@pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf (binutils) is not installed")
def test_the_table_covers_what_the_installed_xcb_plugin_needs():
    import PyQt6

    qt = Path(PyQt6.__file__).parent / "Qt6"
    plugin = qt / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.is_file():
        pytest.skip(f"no xcb plugin in {qt} (not a Linux PyQt6)")
    bundled = {path.name for path in (qt / "lib").iterdir()}
    c_runtime = {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libpthread.so.0", "libdl.so.2", "librt.so.1"}
    needed = set()
    for path in [plugin, *(qt / "lib" / name for name in ("libQt6XcbQpa.so.6", "libQt6Gui.so.6", "libQt6Core.so.6", "libQt6DBus.so.6"))]:
        needed |= needed_libraries(path)
    system = {name for name in needed if name not in bundled | c_runtime and not name.startswith("ld-linux")}
    assert system <= set(XCB_PLUGIN_LIBRARIES), sorted(system - set(XCB_PLUGIN_LIBRARIES))
    assert "libxcb-icccm.so.4" in system and "libxcb-keysyms.so.1" in system
