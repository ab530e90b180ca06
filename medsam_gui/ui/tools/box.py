"""Box tool: drag a box and the mask follows; drag inside it to move, near an edge to resize.

Works on every plane: the box is drawn on the slice the view shows, in that plane's
displayed pixels, and the model runs on that plane slice.

Each motion sends the new box to the PromptSession (latest request wins), so the
preview follows the box while it is dragged (``PromptSession.begin_drag`` on press,
``end_drag`` on release). Pressing marks interaction at once, so background encoding
has given way before the first box of the drag is sent.
"""

from __future__ import annotations

from PyQt6.QtCore import QPointF, Qt

from medsam_gui.ui.tools.base import CanvasTool, pixel_of

GRAB_MARGIN_SCREEN_PX = 6


class BoxTool(CanvasTool):
    name = "box"
    cursor = Qt.CursorShape.CrossCursor

    def __init__(self, context) -> None:
        super().__init__(context)
        self._mode: str | None = None  # 'new', 'move' or 'resize'
        self._anchor: tuple[int, int] | None = None
        self._start_box: tuple[int, int, int, int] | None = None
        self._edges: tuple[bool, bool, bool, bool] = (False, False, False, False)  # x0 y0 x1 y1 grabbed

    def _current_box(self):
        """The prompt's box when it lies on the slice this view shows, else None."""
        prompts = self.context.prompts
        if prompts.box_xyxy is None or not prompts.is_on(self.plane, self._slice_index()):
            return None
        return prompts.box_xyxy

    def _grabbed_edges(self, position: QPointF, box) -> tuple[bool, bool, bool, bool]:
        pixel_height, pixel_width = self.active_view.displayed_pixel_size  # screen px per image pixel
        margin_x = GRAB_MARGIN_SCREEN_PX / max(pixel_width, 1e-6)
        margin_y = GRAB_MARGIN_SCREEN_PX / max(pixel_height, 1e-6)
        x, y = position.x(), position.y()
        x0, y0, x1, y1 = box[0], box[1], box[2] + 1, box[3] + 1
        inside_x = x0 - margin_x <= x <= x1 + margin_x
        inside_y = y0 - margin_y <= y <= y1 + margin_y
        return (
            inside_y and abs(x - x0) <= margin_x,
            inside_x and abs(y - y0) <= margin_y,
            inside_y and abs(x - x1) <= margin_x,
            inside_x and abs(y - y1) <= margin_y,
        )

    def press(self, position: QPointF, modifiers) -> None:
        if self.context.document is None:
            return
        pixel = self._clamp(*pixel_of(position))
        box = self._current_box()
        self._mode = None
        if box is not None:
            edges = self._grabbed_edges(position, box)
            if any(edges):
                self._mode, self._edges, self._start_box = "resize", edges, box
            elif box[0] <= pixel[0] <= box[2] and box[1] <= pixel[1] <= box[3]:
                self._mode, self._anchor, self._start_box = "move", pixel, box
        if self._mode is None:
            self._mode, self._anchor = "new", pixel
            self.context.prompts.clear()
        self.context.prompts.begin_drag()

    def move(self, position: QPointF, buttons, modifiers) -> None:
        if self._mode is None or not buttons & Qt.MouseButton.LeftButton:
            return
        box = self._box_for(self._clamp(*pixel_of(position)))
        if box is not None:
            self.context.prompts.set_box(self._slice_index(), box, plane=self.plane)

    def release(self, position: QPointF, modifiers) -> None:
        if self._mode is None:
            return
        box = self._box_for(self._clamp(*pixel_of(position)))
        if box is not None and box != self.context.prompts.box_xyxy:
            self.context.prompts.set_box(self._slice_index(), box, plane=self.plane)
        self.context.prompts.end_drag()
        self._mode = None

    def _box_for(self, pixel: tuple[int, int]):
        x, y = pixel
        if self._mode == "new":
            ax, ay = self._anchor
            if abs(x - ax) < 2 and abs(y - ay) < 2:
                return None  # a click, not a box
            return min(ax, x), min(ay, y), max(ax, x), max(ay, y)
        if self._mode == "move":
            rows, cols = self._slice_shape_yx()
            x0, y0, x1, y1 = self._start_box
            dx = min(max(x - self._anchor[0], -x0), cols - 1 - x1)
            dy = min(max(y - self._anchor[1], -y0), rows - 1 - y1)
            return x0 + dx, y0 + dy, x1 + dx, y1 + dy
        x0, y0, x1, y1 = self._start_box
        left, top, right, bottom = self._edges
        x0, x1 = (x if left else x0), (x if right else x1)
        y0, y1 = (y if top else y0), (y if bottom else y1)
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)

    def deactivate(self) -> None:
        if self._mode is not None:
            self.context.prompts.end_drag()
        self._mode = None
