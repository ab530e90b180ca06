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


RUNTIMES = ("torch", "onnxruntime", "openvino")  # the model runtimes: engine/models/ only


def test_engine_outside_models_imports_no_torch():
    """Only engine/models/ may import torch (and onnxruntime, openvino); the rest of the
    engine, the encoder-service client (engine/remote.py) included, runs on numpy alone."""
    modules = [name for name in modules_of("engine") if not name.startswith("medsam_gui.engine.models")]
    code = BLOCKER.format(blocked=[*RUNTIMES, "transformers", "PyQt6", "fastapi", "uvicorn"], modules=modules)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def imported_modules(source: str, package: str) -> list[str]:
    """Every module an ``import`` / ``from ... import`` in ``source`` names, at module level
    or inside a function; relative imports resolved against ``package`` (the package the
    module sits in). ``from a import b`` names both ``a`` and ``a.b``."""
    import ast

    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            base = ".".join(parts + ([node.module] if node.module else []))
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return names


def torch_leaks(source: str, package: str) -> list[str]:
    """Imports of torch / onnxruntime / openvino, or of a backend's own modules (``engine.models.<x>``,
    a module file there; names the ``engine.models`` package itself exports are fine)."""
    models = PACKAGE_ROOT / "engine" / "models"

    def is_backend_module(name: str) -> bool:
        prefix = "medsam_gui.engine.models."
        return name.startswith(prefix) and (models / f"{name[len(prefix):].split('.')[0]}.py").is_file()

    return [name for name in imported_modules(source, package)
            if name.split(".")[0] in RUNTIMES or is_backend_module(name)]


def test_engine_outside_models_never_imports_torch_even_lazily():
    """No import of torch, onnxruntime or openvino anywhere in engine/ outside engine/models/, not
    even inside a function (which the import test above cannot see), and no import of a
    backend's own modules, where torch lives: outside models/ the engine calls backend
    methods (numpy in, numpy out) and the loaders of the ``engine.models`` package."""
    engine_root = PACKAGE_ROOT / "engine"
    offenders = []
    for path in sorted(engine_root.rglob("*.py")):
        relative = path.relative_to(engine_root)
        if relative.parts[0] == "models":
            continue
        package = ".".join(("medsam_gui", "engine") + relative.parent.parts)
        offenders += [f"engine/{relative}: {name}" for name in torch_leaks(path.read_text(encoding="utf-8"), package)]
    assert offenders == []


def test_the_torch_scan_sees_lazy_and_relative_imports():
    source = ("import numpy as np\n"
              "def later():\n"
              "    import torch.nn.functional as F\n"
              "    from .models.postprocess import mask_from_logits\n"
              "    from medsam_gui.engine.models import load_backend\n"
              "    from onnxruntime import InferenceSession\n"
              "    import openvino\n")
    assert torch_leaks(source, "medsam_gui.engine") == [
        "torch.nn.functional", "medsam_gui.engine.models.postprocess", "medsam_gui.engine.models.postprocess.mask_from_logits",
        "onnxruntime", "onnxruntime.InferenceSession", "openvino"]


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
