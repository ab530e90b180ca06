"""SliceView: one slice with its label overlay, AI preview, prompts and tool graphics.

Scene layout: a QGraphicsPixmapItem holds the windowed slice; the overlay, the preview
and the prompt graphics are its children, so every child works in image pixel
coordinates (pixel (x, y) covers [x, x+1) x [y, y+1)); the image item's transform
stretches rows by the pixel aspect (row spacing / column spacing).

Each view shows one plane ('axial', 'coronal' or 'sagittal'; ``core.planes`` says how
its image is cut); a crosshair can mark the linked 3D cursor.

Mouse: the left button and right-button clicks go to the active tool (told which view
sent them); Ctrl+left click or drag moves the 3D cursor (``crosshair_requested``);
right-drag is window/level; middle-drag or Space+left-drag pans; the wheel steps through
slices and Ctrl+wheel zooms about the cursor. Smoothing is off, so high zoom shows exact pixels.
"""

from __future__ import annotations

import math

import numpy as np
from PyQt6.QtCore import QPoint, QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen, QPixmap, QTransform
from PyQt6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsLineItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QGridLayout,
    QLayout,
    QWidget,
)

CLICK_TOLERANCE_PX = 3
ZOOM_STEP = 1.25
MIN_SCALE, MAX_SCALE = 0.05, 64.0


def accept_file_drag(event) -> None:
    """Accept a drag that carries files (so the cursor shows a drop is possible)."""
    if event.mimeData().hasUrls():
        event.acceptProposedAction()


def dropped_local_paths(event) -> list[str]:
    """The local file paths of a drop event (accepted when there are any)."""
    paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
    if paths:
        event.acceptProposedAction()
    return paths


class SliceView(QGraphicsView):
    """The canvas.

    Signals:
        cursor_moved(float x, float y): image coordinates under the mouse (NaN outside).
        window_dragged(int dx, int dy): right-drag motion in screen pixels since the last event.
        slice_step(int delta): wheel without Ctrl (+1 = next slice).
        files_dropped(list paths)
        crosshair_requested(float x, float y): Ctrl+left press or drag at image coordinates.
        pressed(): a mouse button went down on the view (before the tool hears of it).
    """

    cursor_moved = pyqtSignal(float, float)
    window_dragged = pyqtSignal(int, int)
    slice_step = pyqtSignal(int)
    files_dropped = pyqtSignal(list)
    crosshair_requested = pyqtSignal(float, float)
    pressed = pyqtSignal()

    def __init__(self, parent=None, plane: str = "axial") -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QBrush(QColor(0, 0, 0)))
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        self.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)  # zoom_by anchors itself
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)  # letters stay put
        self.setMouseTracking(True)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.plane = plane
        self.setObjectName("slice_view" if plane == "axial" else f"slice_view.{plane}")

        self.image_item = QGraphicsPixmapItem()
        self.image_item.setTransformationMode(Qt.TransformationMode.FastTransformation)
        self.scene().addItem(self.image_item)
        self.overlay_item = self._child_pixmap(z=1)
        self.preview_item = self._child_pixmap(z=2)

        self.box_item = QGraphicsRectItem(self.image_item)
        pen = QPen(QColor(0, 255, 0), 0)  # cosmetic: one screen pixel at any zoom
        self.box_item.setPen(pen)
        self.box_item.setZValue(3)
        self.box_item.hide()
        self.point_items: list[QGraphicsEllipseItem] = []
        self.brush_item = QGraphicsEllipseItem(self.image_item)
        self.brush_item.setPen(QPen(QColor(255, 255, 255), 0, Qt.PenStyle.DashLine))
        self.brush_item.setZValue(4)
        self.brush_item.hide()

        crosshair_pen = QPen(QColor(0, 200, 255, 170), 0, Qt.PenStyle.DashLine)
        self.crosshair_items = [QGraphicsLineItem(self.image_item), QGraphicsLineItem(self.image_item)]
        for item in self.crosshair_items:
            item.setPen(crosshair_pen)
            item.setZValue(6)
            item.hide()

        self.tool = None
        self.edge_letters: dict[str, str] = {}
        self.caption = ""  # drawn at the top left ('coronal 40 of 0-100')
        self._crosshair_dragging = False
        self._image_size_xy = (0, 0)
        self._row_aspect = 1.0
        self._pan_anchor: QPoint | None = None
        self._right_press: QPoint | None = None
        self._right_last: QPoint | None = None
        self._window_dragging = False
        self._space_held = False
        self._fitted = True

    def _child_pixmap(self, z: float) -> QGraphicsPixmapItem:
        item = QGraphicsPixmapItem(self.image_item)
        item.setTransformationMode(Qt.TransformationMode.FastTransformation)
        item.setZValue(z)
        return item

    # -- content ---------------------------------------------------------------------
    def set_image(self, image: QImage, row_aspect: float = 1.0) -> None:
        """Show a slice image; ``row_aspect`` = row spacing / column spacing."""
        new_size = (image.width(), image.height())
        self.image_item.setPixmap(QPixmap.fromImage(image))
        if new_size != self._image_size_xy or row_aspect != self._row_aspect:
            self.image_item.setTransform(QTransform.fromScale(1.0, row_aspect))
            self._image_size_xy = new_size
            self._row_aspect = row_aspect
            self.scene().setSceneRect(self.image_item.sceneBoundingRect())
            self.fit()

    def set_overlay(self, image: QImage | None) -> None:
        self.overlay_item.setPixmap(QPixmap.fromImage(image) if image is not None else QPixmap())

    def set_preview(self, image: QImage | None) -> None:
        self.preview_item.setPixmap(QPixmap.fromImage(image) if image is not None else QPixmap())

    def set_prompt_graphics(self, box_xyxy, points_xy, point_labels) -> None:
        """Draw the box (inclusive pixel corners) and points (x, y) of the current prompt."""
        if box_xyxy is None:
            self.box_item.hide()
        else:
            x0, y0, x1, y1 = box_xyxy
            self.box_item.setRect(QRectF(x0, y0, x1 - x0 + 1, y1 - y0 + 1))
            self.box_item.show()
        for item in self.point_items:
            self.scene().removeItem(item)
        self.point_items = []
        if points_xy is None:
            return
        for (x, y), label in zip(np.asarray(points_xy), np.asarray(point_labels)):
            item = QGraphicsEllipseItem(QRectF(x + 0.5 - 3, y + 0.5 - 3, 6, 6), self.image_item)
            colour = QColor(0, 220, 0) if label == 1 else QColor(230, 30, 30)
            item.setBrush(QBrush(colour))
            item.setPen(QPen(QColor(255, 255, 255), 0))
            item.setFlag(item.GraphicsItemFlag.ItemIgnoresTransformations, True)
            item.setRect(QRectF(-4, -4, 8, 8))
            item.setPos(x + 0.5, y + 0.5)
            item.setZValue(5)
            self.point_items.append(item)

    def set_brush_outline(self, centre_xy: tuple[float, float] | None, radius: float, row_radius: float | None = None) -> None:
        """The brush circle at pixel ``centre_xy``: ``radius`` columns wide, ``row_radius``
        rows tall (default ``radius``; less on stretched rows, so it is round on screen)."""
        if centre_xy is None:
            self.brush_item.hide()
            return
        x, y = centre_xy
        row_radius = radius if row_radius is None else row_radius
        self.brush_item.setRect(QRectF(x + 0.5 - radius, y + 0.5 - row_radius, 2 * radius, 2 * row_radius))
        self.brush_item.show()

    def set_crosshair(self, row_column: tuple[int, int] | None) -> None:
        """Mark pixel (row, column) with a full-width and a full-height line (None hides them)."""
        horizontal, vertical = self.crosshair_items
        if row_column is None or self.image_item.pixmap().isNull():
            horizontal.hide()
            vertical.hide()
            return
        row, column = row_column
        width, height = self._image_size_xy
        horizontal.setLine(0, row + 0.5, width, row + 0.5)
        vertical.setLine(column + 0.5, 0, column + 0.5, height)
        horizontal.show()
        vertical.show()

    @property
    def displayed_pixel_size(self) -> tuple[float, float]:
        """(height, width) in screen pixels of one image pixel at the current zoom."""
        rect = self.mapFromScene(self.image_item.mapToScene(QRectF(0, 0, 1000, 1000))).boundingRect()
        return rect.height() / 1000.0, rect.width() / 1000.0

    def set_placeholder(self, widget: QWidget) -> None:
        """Centre ``widget`` on the viewport, over the scene (the start screen); hiding it
        uncovers the slice."""
        layout = QGridLayout(self.viewport())
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)  # never widens the viewport
        layout.addWidget(widget, 0, 0, Qt.AlignmentFlag.AlignCenter)

    def set_tool(self, tool) -> None:
        if self.tool is not None:
            self.tool.deactivate()
        self.tool = tool
        self.viewport().setCursor(tool.cursor if tool is not None else Qt.CursorShape.ArrowCursor)

    # -- coordinates -----------------------------------------------------------------
    def image_position(self, widget_pos) -> QPointF:
        """Continuous image coordinates (x, y) of a viewport position."""
        return self.image_item.mapFromScene(self.mapToScene(QPoint(int(widget_pos.x()), int(widget_pos.y()))))

    def widget_position(self, image_x: float, image_y: float) -> QPoint:
        """Viewport position showing image coordinates (x, y) (pixel centre: x + 0.5)."""
        return self.mapFromScene(self.image_item.mapToScene(QPointF(image_x, image_y)))

    # -- zoom ------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def fit(self) -> None:
        """Show the whole slice."""
        if self.image_item.pixmap().isNull():
            return
        self.fitInView(self.image_item.sceneBoundingRect(), Qt.AspectRatioMode.KeepAspectRatio)
        self._fitted = True

    def zoom_by(self, factor: float, anchor: QPoint | None = None) -> None:
        """Zoom by ``factor`` (within limits) keeping the scene point under viewport
        position ``anchor`` there; without an anchor, about the view centre."""
        new_scale = min(max(self.zoom * factor, MIN_SCALE), MAX_SCALE)
        if self.zoom <= 0:
            return
        anchor = self.viewport().rect().center() if anchor is None else anchor
        scene_point = self.mapToScene(anchor)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        factor = new_scale / self.zoom
        self.scale(factor, factor)
        drift = self.mapFromScene(scene_point) - anchor
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + drift.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + drift.y())
        self._fitted = False

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fitted:
            self.fit()

    # -- events ----------------------------------------------------------------------
    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps == 0:
            return
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_by(ZOOM_STEP ** steps, event.position().toPoint())
        else:
            self.slice_step.emit(1 if steps > 0 else -1)
        event.accept()

    def mousePressEvent(self, event) -> None:
        self.setFocus()
        self.pressed.emit()
        button = event.button()
        position = event.position().toPoint()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space_held):
            self._pan_anchor = position
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
        elif button == Qt.MouseButton.RightButton:
            self._right_press = self._right_last = position
            self._window_dragging = False
        elif button == Qt.MouseButton.LeftButton and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self._crosshair_dragging = True
            image_pos = self.image_position(position)
            self.crosshair_requested.emit(image_pos.x(), image_pos.y())
        elif button == Qt.MouseButton.LeftButton and self.tool is not None:
            self.tool.bind_view(self)
            self.tool.press(self.image_position(position), event.modifiers())
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        position = event.position().toPoint()
        image_pos = self.image_position(position)
        width, height = self._image_size_xy
        inside = 0 <= image_pos.x() < width and 0 <= image_pos.y() < height
        self.cursor_moved.emit(image_pos.x() if inside else math.nan, image_pos.y() if inside else math.nan)
        if self._pan_anchor is not None:
            delta = position - self._pan_anchor
            self._pan_anchor = position
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
        elif self._right_press is not None:
            if (position - self._right_press).manhattanLength() > CLICK_TOLERANCE_PX:
                self._window_dragging = True
            if self._window_dragging:
                delta = position - self._right_last
                self._right_last = position
                self.window_dragged.emit(delta.x(), delta.y())
        elif self._crosshair_dragging:
            self.crosshair_requested.emit(image_pos.x(), image_pos.y())
        elif self.tool is not None:
            self.tool.bind_view(self)
            self.tool.move(image_pos, event.buttons(), event.modifiers())
        event.accept()

    def mouseReleaseEvent(self, event) -> None:
        button = event.button()
        position = event.position().toPoint()
        if self._pan_anchor is not None and button in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_anchor = None
            self.viewport().setCursor(self.tool.cursor if self.tool else Qt.CursorShape.ArrowCursor)
        elif button == Qt.MouseButton.RightButton and self._right_press is not None:
            if not self._window_dragging and self.tool is not None:
                self.tool.bind_view(self)
                self.tool.right_click(self.image_position(position))
            self._right_press = None
            self._window_dragging = False
        elif button == Qt.MouseButton.LeftButton and self._crosshair_dragging:
            self._crosshair_dragging = False
        elif button == Qt.MouseButton.LeftButton and self.tool is not None:
            self.tool.bind_view(self)
            self.tool.release(self.image_position(position), event.modifiers())
        event.accept()

    def leaveEvent(self, event) -> None:
        self.cursor_moved.emit(math.nan, math.nan)
        self.set_brush_outline(None, 0)
        super().leaveEvent(event)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            self.viewport().setCursor(self.tool.cursor if self.tool else Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    # the view takes drops itself (a QGraphicsView does not pass them to its window)
    def dragEnterEvent(self, event) -> None:
        accept_file_drag(event)

    def dragMoveEvent(self, event) -> None:
        accept_file_drag(event)

    def dropEvent(self, event) -> None:
        paths = dropped_local_paths(event)
        if paths:
            self.files_dropped.emit(paths)

    # -- orientation letters ---------------------------------------------------------
    def drawForeground(self, painter: QPainter, rect) -> None:
        super().drawForeground(painter, rect)
        if (not self.edge_letters and not self.caption) or self.image_item.pixmap().isNull():
            return
        painter.save()
        painter.resetTransform()
        font = QFont(painter.font())
        font.setPointSize(13)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor(255, 210, 0))
        area = self.viewport().rect().adjusted(6, 4, -6, -4)
        flags = Qt.AlignmentFlag
        painter.drawText(area, flags.AlignLeft | flags.AlignVCenter, self.edge_letters.get("left", ""))
        painter.drawText(area, flags.AlignRight | flags.AlignVCenter, self.edge_letters.get("right", ""))
        painter.drawText(area, flags.AlignTop | flags.AlignHCenter, self.edge_letters.get("top", ""))
        painter.drawText(area, flags.AlignBottom | flags.AlignHCenter, self.edge_letters.get("bottom", ""))
        if self.caption:
            font.setPointSize(9)
            font.setBold(False)
            painter.setFont(font)
            painter.setPen(QColor(200, 200, 200))
            painter.drawText(area, flags.AlignLeft | flags.AlignTop, self.caption)
        painter.restore()
