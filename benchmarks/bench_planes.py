"""Scrolling through the three planes of a large CT (offscreen Qt, no model).

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_planes.py [--steps 150] [--layout side_by_side]

A synthetic 512 x 512 x 300 int16 CT (noise) with a label volume (two labelled
ellipsoids) in a real PlaneViews controller, three views side by side in a 1800 x 700
window. Each step moves the 3D cursor one slice along one plane (what the wheel does)
and times, on the UI thread, one view update: reslice + display window + label overlay
(``PlaneViews`` redraws from the Document's cursor announcement, the crosshairs of the
other views included) + a synchronous paint of that view's viewport. Prints p50/p95/max
per plane (target: p95 <= 16 ms, one frame at 60 Hz). Timings on a shared machine are
noisy: run it alone.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PyQt6.QtWidgets import QApplication  # noqa: E402

from medsam_gui.core.document import Document  # noqa: E402
from medsam_gui.core.volume import Volume  # noqa: E402

SHAPE_ZYX = (300, 512, 512)


class _OverlaySettings:
    overlays_visible = True
    opacity = 0.5
    outline_only = False


def synthetic_document() -> Document:
    rng = np.random.default_rng(0)
    voxels = rng.integers(-1000, 1500, size=SHAPE_ZYX, dtype=np.int16)
    volume = Volume(voxels, spacing_xyz=(0.7, 0.7, 1.25), modality="CT")
    document = Document(volume)
    z, y, x = np.ogrid[: SHAPE_ZYX[0], : SHAPE_ZYX[1], : SHAPE_ZYX[2]]
    liver = ((z - 150) / 90.0) ** 2 + ((y - 250) / 120.0) ** 2 + ((x - 200) / 140.0) ** 2 <= 1.0
    kidney = ((z - 120) / 40.0) ** 2 + ((y - 330) / 40.0) ** 2 + ((x - 380) / 30.0) ** 2 <= 1.0
    document.paint_volume(liver, value=document.active_label)
    document.paint_volume(kidney, value=document.add_label())
    return document


def time_plane(views, document, plane: str, steps: int) -> np.ndarray:
    """Milliseconds per one-slice step along ``plane`` (update + paint of its view)."""
    geometry = document.plane_geometry(plane)
    view = views.views[plane]
    timings = []
    start_index = geometry.from_volume(*document.cursor_zyx)[0]
    for step in range(steps):
        index = (start_index + step + 1) % geometry.slice_count
        begin = time.perf_counter()
        views.step(plane, index - geometry.from_volume(*document.cursor_zyx)[0])
        view.viewport().repaint()
        timings.append((time.perf_counter() - begin) * 1000.0)
    return np.asarray(timings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150, help="slice steps timed per plane")
    parser.add_argument("--layout", default="side_by_side", choices=("side_by_side", "axial", "coronal", "sagittal"))
    args = parser.parse_args()

    app = QApplication.instance() or QApplication([])
    from medsam_gui.ui.plane_views import PlaneViews

    document = synthetic_document()
    views = PlaneViews(_OverlaySettings(), lambda *_args: None)
    views.layout = args.layout  # not remembered: a benchmark leaves the user's settings alone
    views.widget.resize(1800, 700)
    views.widget.show()
    views.set_document(document)
    app.processEvents()

    planes = views.shown_planes() if args.layout == "side_by_side" else [args.layout]
    print(f"volume {SHAPE_ZYX[2]} x {SHAPE_ZYX[1]} x {SHAPE_ZYX[0]} int16 with labels, layout {args.layout}, "
          f"{args.steps} steps per plane, Qt platform {app.platformName()}")
    print(f"{'plane':<10} {'image (rows x cols)':>20} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for plane in planes:
        time_plane(views, document, plane, 5)  # warm up
        timings = time_plane(views, document, plane, args.steps)
        rows, columns = document.plane_geometry(plane).image_shape
        print(f"{plane:<10} {f'{rows} x {columns}':>20} {np.percentile(timings, 50):8.1f} "
              f"{np.percentile(timings, 95):8.1f} {timings.max():8.1f}")
    views.widget.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
