"""The part of the embedding grid a prompt's mask can reach: the decoders upscale only
that window of the grid (numpy only; used by the torch decoder and the ONNX backend).

SAM's mask head (``output_upscaling``: two transposed convolutions of kernel 2 and
stride 2, a per-pixel LayerNorm and GELUs, then the per-pixel dot product with the
hypernetwork's output) maps each embedding cell ``(i, j)`` alone to the 4 x 4 low-res
logit pixels ``(4i + a, 4j + b)``. So a box prompt's logits need only the cells around
the box: the window is the box's cells plus :data:`WINDOW_MARGIN_CELLS` on each side
(clipped to the grid), and every low-res pixel outside it gets :data:`OUTSIDE_LOGIT`.

The margin was chosen from data (issue 14, LiteMedSAM at its mask threshold -3): over
the 62 quality cases (``benchmarks/quality_cases.py``) with tight, loose (0-20 %) and
jittered boxes, each on the whole slice and on the engine's ROI crop, and 200 random
boxes of ``bench_latency.random_prompts`` on a CT (572 decodes), the whole grid's mask
never reached more than 2 cells beyond the box's cells; the margin is twice that. A
window's result is trusted only when its outermost ring (the sides inside the grid)
stays at or below the mask threshold (:meth:`GridWindow.reaches_edge`); otherwise the
decoder upscales the whole grid (it never had to on those decodes, and their masks
equal the whole grid's). Prompts with points or a mask input use the whole grid: their
masks reached up to 57 cells beyond the box on the same cases, and a point's mask often
has parts far from the point that no edge check sees (issue 14: a window of the points'
cells plus 16, grown on each side whose edge the mask reached, still lost mask pixels on
18 of the 100 point prompts of ``bench_latency.random_prompts`` and on 6 of 62
one-click quality cases).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# logit of every low-res pixel outside the window: far below any mask threshold, and
# below the "confident outside" of reframed mask inputs (postprocess.reframe_logits). The
# whole grid has about -24 there (median; 99 % below -13.6), so a later decode with these
# logits as its mask input (a corrective click) differs a little: on the 62 quality cases
# the click's Dice against the ground truth moved by +0.0005 on average (-0.014 .. +0.024
# per case; -24 instead: +0.001, -0.037 .. +0.016)
OUTSIDE_LOGIT = -40.0
WINDOW_MARGIN_CELLS = 4
UPSCALE = 4  # low-res logit pixels per embedding cell, per axis


@dataclass(frozen=True)
class GridWindow:
    """Cells ``[row_start, row_stop) x [col_start, col_stop)`` of a ``grid_size`` x
    ``grid_size`` embedding grid (row = y, col = x)."""

    row_start: int
    row_stop: int
    col_start: int
    col_stop: int
    grid_size: int

    @classmethod
    def whole(cls, grid_size: int) -> "GridWindow":
        return cls(0, grid_size, 0, grid_size, grid_size)

    @classmethod
    def for_prompts(cls, frame, prompts, grid_size: int) -> "GridWindow":
        """The window of ``prompts`` (a :class:`~medsam_gui.engine.types.Prompts` on an
        image of ``frame``, a :class:`~medsam_gui.engine.frame.ModelFrame`): for a box
        alone, the cells covering the box plus :data:`WINDOW_MARGIN_CELLS` on each side;
        else the whole grid (see the module docstring)."""
        if prompts.box_xyxy is None or prompts.mask_logits is not None or (
                prompts.points_xy is not None and len(prompts.points_xy)):
            return cls.whole(grid_size)
        margin = WINDOW_MARGIN_CELLS
        corners = frame.box_to_model(prompts.box_xyxy).reshape(2, 2)  # (x, y) rows
        cells = np.floor(corners * (grid_size / frame.input_size)).astype(np.int64)
        (col_first, row_first), (col_last, row_last) = cells.min(axis=0), cells.max(axis=0)

        def span(first: int, last: int) -> tuple[int, int]:
            return max(int(first) - margin, 0), min(int(last) + 1 + margin, grid_size)

        (row_start, row_stop), (col_start, col_stop) = span(row_first, row_last), span(col_first, col_last)
        if row_start >= row_stop or col_start >= col_stop:  # a box off the grid
            return cls.whole(grid_size)
        return cls(row_start, row_stop, col_start, col_stop, grid_size)

    @property
    def is_whole(self) -> bool:
        return (self.row_start, self.col_start, self.row_stop, self.col_stop) == (0, 0, self.grid_size, self.grid_size)

    def row_indices(self) -> np.ndarray:
        """int64 ``[r]``: the grid rows in the window."""
        return np.arange(self.row_start, self.row_stop, dtype=np.int64)

    def col_indices(self) -> np.ndarray:
        """int64 ``[c]``: the grid columns in the window."""
        return np.arange(self.col_start, self.col_stop, dtype=np.int64)

    def paste(self, window_logits: np.ndarray) -> np.ndarray:
        """float32 ``[4r, 4c]`` logits of the window -> ``[4E, 4E]`` with OUTSIDE_LOGIT
        around it (the window's own array when it is the whole grid)."""
        values = np.asarray(window_logits, dtype=np.float32)
        if self.is_whole:
            return values
        side = UPSCALE * self.grid_size
        logits = np.full((side, side), OUTSIDE_LOGIT, dtype=np.float32)
        logits[UPSCALE * self.row_start:UPSCALE * self.row_stop, UPSCALE * self.col_start:UPSCALE * self.col_stop] = values
        return logits

    def reaches_edge(self, window_logits: np.ndarray, threshold_logit: float) -> bool:
        """Whether any logit on the window's outermost pixel ring, on the sides that do
        not lie on the grid's border, is above ``threshold_logit``: the mask may go on
        outside the window."""
        values = np.asarray(window_logits)
        sides = ((self.row_start > 0, values[0, :]), (self.row_stop < self.grid_size, values[-1, :]),
                 (self.col_start > 0, values[:, 0]), (self.col_stop < self.grid_size, values[:, -1]))
        return any(inside and bool((ring > threshold_logit).any()) for inside, ring in sides)
