"""Save docs/screenshot.png: the real app on a real CT with an accepted liver mask and a
live spine preview from a box.

    xvfb-run -a python tools/make_screenshot.py [--data ../shared/data] [-o docs/screenshot.png]

Uses the bundled LiteMedSAM model and the dcmqi CT with its manual segmentations (the
boxes are the ground-truth bounding boxes, so the picture shows what a tight box gives).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

REPO_ROOT = Path(__file__).resolve().parents[1]


def label_box_on_volume(seg_path: Path, volume, slice_index: int) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) on ``slice_index`` of a label file resampled onto the volume."""
    reference = sitk.Image([int(v) for v in volume.size_xyz], sitk.sitkUInt8)
    reference.SetSpacing(volume.spacing_xyz)
    reference.SetOrigin(volume.origin_xyz)
    reference.SetDirection(tuple(volume.direction.reshape(-1)))
    resampled = sitk.Resample(sitk.ReadImage(str(seg_path)), reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    rows, cols = np.nonzero(sitk.GetArrayFromImage(resampled)[slice_index])
    return int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("-o", "--output", type=Path, default=REPO_ROOT / "docs" / "screenshot.png")
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    from medsam_gui.ui.main_window import MainWindow

    window = MainWindow()
    window.resize(1280, 860)
    window.show()
    dcmqi = args.data / "dcmqi"
    window.open_path(str(dcmqi / "ct-3slice"))
    steps = iter(["liver_box", "accept", "spine_box", "grab"])
    state = {"step": next(steps)}

    def tick() -> None:
        document = window.document
        if document is None or window.engine is None or not window.engine.is_encoded(document.slice_index):
            QTimer.singleShot(200, tick)
            return
        step = state["step"]
        if step == "liver_box":
            box = label_box_on_volume(dcmqi / "liver_seg.nrrd", document.volume, document.slice_index)
            window.prompts.set_box(document.slice_index, box)
        elif step == "accept":
            if window.prompts.preview is None:
                QTimer.singleShot(200, tick)
                return
            window.prompt_controller.accept()
            window.labels_panel.select_label(document.add_label("vertebra"))
        elif step == "spine_box":
            box = label_box_on_volume(dcmqi / "spine_seg.nrrd", document.volume, document.slice_index)
            window.prompts.set_box(document.slice_index, box)
        else:
            if window.prompts.preview is None:
                QTimer.singleShot(200, tick)
                return
            window.view.set_brush_outline(None, 0)
            args.output.parent.mkdir(parents=True, exist_ok=True)
            window.grab().save(str(args.output))
            print(f"saved {args.output}")
            document.mark_saved()
            window.close()
            app.quit()
            return
        state["step"] = next(steps)
        QTimer.singleShot(300, tick)

    QTimer.singleShot(200, tick)
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
