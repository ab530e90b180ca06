"""How fast "next case" is in an annotation project, with and without prefetch.

Builds a small project in a temporary folder from real scans under ``MEDSAM_GUI_DATA``
(default ``../shared/data``): links to a 3-slice DICOM CT, a 20-slice DICOM CT, a
NIfTI CT and an NRRD MR. Drives the real window offscreen with the real LiteMedSAM
model on the CPU: opens the first case, then goes to each next case (Ctrl+Right's
handler), after giving the case on screen time to finish its work (the read-ahead
of the next scan and the encoding of its opening slices, when on, and the embedding
of the slice on screen). Per step it
times, from the key press: the scan on screen (the case's Document shown), and the
first box mask (the embedding of the slice on screen ready and a box decoded).
Prints a table; not a test.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_next_case.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = Path(os.environ.get("MEDSAM_GUI_DATA", REPO_ROOT.parent / "shared" / "data"))
SOURCES = {  # link name -> path under the data folder (project order is by name)
    "a_ct3": "dcmqi/ct-3slice",
    "b_ct20": "totalseg/example_ct_dicom",
    "c_small_ct.nii.gz": "totalseg/example_ct_sm.nii.gz",
    "d_breast_mr.nrrd": "pyradiomics/breast1_image.nrrd",
}
TIMEOUT_S = 300.0


def wait_for(app, condition, what: str) -> None:
    deadline = time.perf_counter() + TIMEOUT_S
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.002)


def first_box_mask(app, window) -> None:
    """Wait for the slice on screen to be encoded, then decode a box in its middle."""
    engine, document = window.engine, window.document
    wait_for(app, lambda: engine.is_encoded(document.slice_index), "the embedding of the slice on screen")
    _z, rows, cols = document.labels.shape
    engine.predict(document.slice_index, box_xyxy=(cols // 3, rows // 3, (2 * cols) // 3, (2 * rows) // 3))


def run(app, engine, images: Path, project_folder: Path, prefetch: bool) -> list[tuple[str, float, float]]:
    from medsam_gui.ui.main_window import MainWindow

    engine.cache.clear_memory()  # each run starts cold: no case is in the cache from the other run
    window = MainWindow(engine=engine)
    window.ask_save_changes = lambda: "discard"
    window.show()
    controller = window.project_controller
    controller.prefetch_next_case = prefetch
    controller.create_project(project_folder, images, ["liver", "spleen"])
    wait_for(app, lambda: controller.project is not None, "the project")
    case_ids = controller.cases_panel.case_ids_in_view()
    controller.open_case(case_ids[0])
    wait_for(app, lambda: controller.case is not None and controller.case.case_id == case_ids[0], "the first case")
    rows = []
    for case_id in case_ids[1:]:
        first_box_mask(app, window)  # the annotator works on the case on screen...
        if prefetch:  # ... long enough for the next scan to be read ahead and its first slices encoded
            wait_for(app, lambda: controller._prefetched is not None and engine.prefetch_pending == 0,
                     "the read-ahead")
        started = time.perf_counter()
        controller.next_case()
        wait_for(app, lambda: controller.case is not None and controller.case.case_id == case_id, f"case {case_id}")
        on_screen = time.perf_counter() - started
        first_box_mask(app, window)
        rows.append((case_id, on_screen, time.perf_counter() - started))
    window.close()
    return rows


def main() -> int:
    if not DATA_ROOT.is_dir():
        print(f"no data at {DATA_ROOT} (set MEDSAM_GUI_DATA)", file=sys.stderr)
        return 2
    from PyQt6.QtWidgets import QApplication

    from medsam_gui.engine import Engine

    app = QApplication.instance() or QApplication(sys.argv)
    engine = Engine.create(model_name="litemedsam", device="cpu", memory_cache_mb=256, disk_cache=False)
    with tempfile.TemporaryDirectory(prefix="bench_next_case_") as temporary:
        root = Path(temporary)
        images = root / "images"
        images.mkdir()
        for name, source in SOURCES.items():
            os.symlink(DATA_ROOT / source, images / name, target_is_directory=(DATA_ROOT / source).is_dir())
        results = {prefetch: run(app, engine, images, root / f"project_{prefetch}", prefetch) for prefetch in (False, True)}
    print(f"next case (LiteMedSAM, CPU, {os.cpu_count()} cores): seconds from the key press")
    print(f"{'case':<20} {'prefetch':<9} {'scan on screen (s)':>19} {'first box mask (s)':>19}")
    for prefetch, rows in results.items():
        for case_id, on_screen, mask in rows:
            print(f"{case_id:<20} {'on' if prefetch else 'off':<9} {on_screen:>19.3f} {mask:>19.3f}")
    for prefetch, rows in results.items():
        print(f"{'median':<20} {'on' if prefetch else 'off':<9} {statistics.median(r[1] for r in rows):>19.3f} "
              f"{statistics.median(r[2] for r in rows):>19.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
