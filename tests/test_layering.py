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
        ("core", ["PyQt6", "torch", "transformers", "SimpleITK", "pydicom", "medsam_gui.io", "ray"]),
        ("io", ["PyQt6", "torch", "transformers", "medsam_gui.engine", "medsam_gui.ui", "ray"]),
        ("engine", ["PyQt6", "medsam_gui.ui", "ray"]),
        # annotation projects: Qt-free and torch-free, on core and io only
        ("project", ["PyQt6", "torch", "transformers", "medsam_gui.engine", "medsam_gui.ui", "medsam_gui.cluster", "ray"]),
        # batch and Ray: on engine, io and core; the only package that may import ray (lazily)
        ("cluster", ["PyQt6", "medsam_gui.ui", "medsam_gui.project", "medsam_gui.commands", "ray"]),
    ],
)
def test_package_imports_without_forbidden_dependencies(subpackage, blocked):
    modules = modules_of(subpackage)
    assert len(modules) > 1, f"no modules found in {subpackage}"
    code = BLOCKER.format(blocked=blocked, modules=modules)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def test_engine_outside_models_imports_no_torch():
    """Only engine/models/ may import torch (and onnxruntime); the rest of the engine, the
    encoder-service client (engine/remote.py) included, runs on numpy alone."""
    modules = [name for name in modules_of("engine") if not name.startswith("medsam_gui.engine.models")]
    code = BLOCKER.format(blocked=["torch", "onnxruntime", "transformers", "PyQt6", "fastapi", "uvicorn"], modules=modules)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


SERVER_LIBRARIES = ("fastapi", "uvicorn", "starlette", "ray.serve")


def test_only_serve_imports_the_server_libraries():
    """fastapi, uvicorn, starlette and ray.serve appear in medsam_gui/serve/ alone (any
    import, at module level or inside a function)."""
    import re

    pattern = re.compile(r"^\s*(?:import|from)\s+(fastapi|uvicorn|starlette|ray\.serve)\b|^\s*from\s+ray\s+import\s+serve\b",
                         re.MULTILINE)
    offenders = [str(path.relative_to(PACKAGE_ROOT)) for path in PACKAGE_ROOT.rglob("*.py")
                 if path.relative_to(PACKAGE_ROOT).parts[0] != "serve" and pattern.search(path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_serve_token_commands_need_no_server_libraries():
    """`medsam-gui serve token add|revoke` works without the server extra installed."""
    code = BLOCKER.format(blocked=list(SERVER_LIBRARIES) + ["torch", "PyQt6"],
                          modules=["medsam_gui.commands.serve", "medsam_gui.serve", "medsam_gui.serve.tokens"])
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
