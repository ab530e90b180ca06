"""Blocking helpers for headless callers (the command line, batch workers): no worker
thread, the encodes a prediction needs run in the calling thread.

The GUI never uses these: there ``predict`` raises EmbeddingNotReady and a worker
thread encodes.
"""

from __future__ import annotations

from collections.abc import Callable

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.engine.types import EmbeddingNotReady, EncodeResult, Prediction


def predict_blocking(engine, slice_index: int, box_xyxy=None, points_xy=None, point_labels=None,
                     attempts: int = 4, on_encoded: Callable[[EncodeResult], None] | None = None,
                     plane: str = "axial", mask_input=None, box_refinement=None) -> Prediction:
    """``engine.predict``, encoding what it needs first: the one "predict, encoding if
    needed" helper (ARCHITECTURE.md, example 12).

    box_xyxy: (x0, y0, x1, y1) inclusive voxel corners on slice ``slice_index`` of
    ``plane`` (its displayed slice pixels, see core/planes.py); points_xy: (n, 2) (x, y);
    point_labels: (n,) 1/0; mask_input, box_refinement: as ``Engine.predict``. Runs the
    engine's queued encode jobs in this thread until ``predict`` succeeds (an ROI-zoom
    crop may need a second round). ``on_encoded`` is called with each job's
    EncodeResult. Raises MedsamGuiError for bad prompts, or when the embedding never
    arrives.
    """
    for _ in range(attempts):
        try:
            return engine.predict(slice_index, box_xyxy=box_xyxy, points_xy=points_xy, point_labels=point_labels,
                                  plane=plane, mask_input=mask_input, box_refinement=box_refinement)
        except EmbeddingNotReady:
            while (done := engine.run_next_job(timeout_s=0.0)) is not None:
                if on_encoded is not None:
                    on_encoded(done)
    where = "slice" if plane == "axial" else f"{plane} slice"
    raise MedsamGuiError(f"the embedding of {where} {slice_index} could not be computed")
