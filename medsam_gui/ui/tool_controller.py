"""ToolController: the canvas tool in use and the brush radius.

One job: which tool the plane views hand their mouse events to - box, points, brush,
eraser or crosshair, one tool for every view - and the radius the brush and eraser
paint with (columns of the plane slice, :data:`MIN_BRUSH_RADIUS`..:data:`MAX_BRUSH_RADIUS`,
a step of [ or ] scales it by :data:`BRUSH_STEP`). The status bar shows the tool (and the
radius of the brush and eraser); ``tool_changed`` announces a switch.

It is the tools' context: they reach ``document`` (the open Document or None),
``prompts`` (the PromptSession), ``view`` (the axial view), ``plane_views`` and
``brush_radius`` through it.

Dependencies (explicit): ``plane_views`` (PlaneViews: ``views``, ``axial``, ``document``),
``prompts`` (the PromptController's PromptSession) and ``show_tool(text)`` (the status
bar's tool label).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PyQt6.QtCore import QObject, pyqtSignal

from medsam_gui.ui.tools.box import BoxTool
from medsam_gui.ui.tools.brush import BrushTool
from medsam_gui.ui.tools.crosshair import CrosshairTool
from medsam_gui.ui.tools.points import PointTool

TOOL_TYPES = {  # name -> tool(context)
    "box": BoxTool,
    "points": PointTool,
    "brush": BrushTool,
    "eraser": partial(BrushTool, erase=True),
    "crosshair": CrosshairTool,
}
PAINTING_TOOLS = ("brush", "eraser")  # the tools the brush radius applies to
MIN_BRUSH_RADIUS, START_BRUSH_RADIUS, MAX_BRUSH_RADIUS = 1.0, 5.0, 100.0
BRUSH_STEP = 1.25


class ToolController(QObject):
    """Attributes: ``in_use`` (the name of the tool in use), ``brush_radius`` (columns).

    Signal ``tool_changed(str name)``: a tool was put in use.
    """

    tool_changed = pyqtSignal(str)

    def __init__(self, plane_views, prompts, show_tool: Callable[[str], None], parent=None) -> None:
        super().__init__(parent)
        self.plane_views = plane_views
        self.prompts = prompts
        self._show_tool = show_tool
        self.brush_radius = START_BRUSH_RADIUS
        self._tools = {name: make(self) for name, make in TOOL_TYPES.items()}
        self.in_use = ""

    # -- the tools' context ----------------------------------------------------------
    @property
    def document(self):
        return self.plane_views.document

    @property
    def view(self):
        return self.plane_views.axial

    # -- what the user does ----------------------------------------------------------
    def use(self, name: str) -> None:
        """Put the tool ``name`` (a key of :data:`TOOL_TYPES`) in use in every plane view."""
        for view in self.plane_views.views.values():
            view.set_tool(self._tools[name])
        self.in_use = name
        self._show()
        self.tool_changed.emit(name)

    def resize_brush(self, steps: int) -> None:
        """Scale the brush radius by ``BRUSH_STEP ** steps`` (kept within its bounds)."""
        radius = self.brush_radius * BRUSH_STEP ** steps
        self.brush_radius = min(max(radius, MIN_BRUSH_RADIUS), MAX_BRUSH_RADIUS)
        self._show()

    def _show(self) -> None:
        extra = f" (radius {self.brush_radius:.1f} px)" if self.in_use in PAINTING_TOOLS else ""
        self._show_tool(f"tool: {self.in_use}{extra}")
