"""Build step of the desktop package: export the bundled LiteMedSAM to ONNX into the
folder the spec ships as the app's bundled exports (``onnx-exports/`` in the package),
so a first start of the package exports nothing.

    <build venv>/bin/python packaging/export_onnx.py OUT_DIR

Run it with the build venv's Python: the export's key covers the weights' SHA-256 and
the torch and onnxruntime versions, so it must be made by the very torch and
onnxruntime the package ships (a mismatching bundled export is never loaded; the app
would export into the user cache as without one). Then the export is loaded back from
``OUT_DIR`` the way the packaged app finds it, on the CPU provider, and the script
fails (exit status 1) if that would export again. ``build_linux.sh`` runs it and
passes ``OUT_DIR`` to the spec as ``MEDSAM_GUI_ONNX_EXPORTS``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = Path(argv[0]).resolve()
    # the build's own user cache (checksum records): the builder's stays untouched
    os.environ.setdefault("MEDSAM_GUI_CACHE_DIR", tempfile.mkdtemp(prefix="medsam-gui-export-cache-"))
    from medsam_gui.engine.models.onnx_backend import ensure_lite_medsam_export, load_lite_medsam_onnx
    from medsam_gui.engine.models.onnx_export import BUNDLED_EXPORTS_ENV

    export = ensure_lite_medsam_export(into=out_dir)
    os.environ[BUNDLED_EXPORTS_ENV] = str(out_dir)  # as the frozen app sees onnx-exports/
    exported_again = []
    backend = load_lite_medsam_onnx(["CPUExecutionProvider"], export_progress=lambda *step: exported_again.append(step))
    if exported_again or backend.export.folder != export.folder:
        print(f"export_onnx.py: the export in {export.folder} is not what the app loads", file=sys.stderr)
        return 1
    size_mb = sum(path.stat().st_size for path in export.folder.iterdir()) / 2**20
    print(f"bundled ONNX export: {export.folder} ({size_mb:.0f} MiB, {export.manifest['key_text']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
