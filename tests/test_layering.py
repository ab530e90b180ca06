"""The dependency rule ui -> engine -> core, ui -> io -> core, project -> io -> core holds.

Each package is imported in a fresh interpreter in which the packages it must not
use cannot be imported at all, so a stray import fails here rather than on a user's
machine without a GPU stack or a display.
"""

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import medsam_gui

PACKAGE_ROOT = Path(medsam_gui.__file__).parent

BLOCKER = """
import importlib, importlib.abc, sys
BLOCKED = {blocked!r}
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + '.') for b in BLOCKED):
            raise ImportError('layering: ' + name + ' must not be imported here')
sys.meta_path.insert(0, Blocker())
for module in {modules!r}:
    importlib.import_module(module)
"""


def modules_of(subpackage: str) -> list[str]:
    folder = PACKAGE_ROOT / subpackage
    names = [f"medsam_gui.{subpackage}"]
    for info in pkgutil.walk_packages([str(folder)], prefix=f"medsam_gui.{subpackage}."):
        names.append(info.name)
    return names


@pytest.mark.parametrize(
    "subpackage, blocked",
    [
        ("core", ["PyQt6", "torch", "transformers", "SimpleITK", "pydicom", "medsam_gui.io"]),
        ("io", ["PyQt6", "torch", "transformers", "medsam_gui.engine", "medsam_gui.ui"]),
        ("engine", ["PyQt6", "medsam_gui.ui"]),
        # annotation projects: Qt-free and torch-free, on core and io only
        ("project", ["PyQt6", "torch", "transformers", "medsam_gui.engine", "medsam_gui.ui", "medsam_gui.cluster"]),
    ],
)
def test_package_imports_without_forbidden_dependencies(subpackage, blocked):
    modules = modules_of(subpackage)
    assert len(modules) > 1, f"no modules found in {subpackage}"
    code = BLOCKER.format(blocked=blocked, modules=modules)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
