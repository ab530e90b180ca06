"""PromptController: box and point prompts on any plane, their preview, accept and discard.

One job: the prompt the user is drawing. It owns the :class:`PromptSession` (the prompt
names its plane and slice; the decoder is asked with that plane), draws the preview
overlay and the prompt graphics in the view of that plane - and nowhere else, and only
while that view shows the prompt's slice -, writes an accepted preview into the
Document (one undo step in the one history: ``Document.paint_plane_prediction``),
forgets a prompt whose slice is no longer shown, and keeps the encoder on the plane in
use: the slice through the cursor of the view last clicked or scrolled is encoded first
(``engine.focus(index, plane=...)``; a call that only reorders the queue, so switching
planes never blocks the window).

Dependencies (explicit): ``plane_views`` (PlaneViews: ``views``, ``current_plane``),
``current_document()``, ``current_engine()`` (or None), ``status(message, ms)`` and
``show_error(message)``.
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import QObject

from medsam_gui.ui.canvas.rendering import preview_to_qimage
from medsam_gui.ui.prompting import PromptSession


class PromptController(QObject):
    """Attribute ``session``: the PromptSession (tools edit the prompt through it)."""

    def __init__(self, plane_views, current_document: Callable, current_engine: Callable,
                 status: Callable[[str, int], None], show_error: Callable[[str], None], parent=None) -> None:
        super().__init__(parent)
        self._plane_views = plane_views
        self._document = current_document
        self._engine = current_engine
        self._status = status
        self.session = PromptSession(self)
        self.session.prompt_changed.connect(self._draw_prompt)
        self.session.preview_changed.connect(self._on_preview_changed)
        self.session.waiting.connect(
            lambda index, plane: status(f"Waiting for the embedding of {self._slice_name(plane, index)}...", 0))
        self.session.failed.connect(show_error)
        plane_views.plane_in_use_changed.connect(lambda _plane: self.focus_encoding())

    def set_decoder(self, decoder) -> None:
        """The model is loaded: prompts go to ``decoder`` (one drawn before is sent now)."""
        self.session.set_decoder(decoder)

    # -- what the user does ----------------------------------------------------------
    def accept(self, replace_in_box: bool = False) -> None:
        """Write the preview into the active label on its plane slice (one undo step):
        added, or ``replace_in_box`` making the label inside the box exactly the mask."""
        document = self._document()
        if document is None:
            return
        if self.session.preview is None:
            self._status("No mask to accept yet", 2000)
            return
        name = document.label_table.get(document.active_label).name
        if self.session.accept_into(document, replace_in_box=replace_in_box):
            self._status(f"{name} replaced inside the box" if replace_in_box else f"Mask added to {name}", 3000)

    def discard(self) -> None:
        self.session.clear()

    def box_on_screen(self) -> tuple[str, int, tuple[int, int, int, int]] | None:
        """(plane, slice index, box x0 y0 x1 y1) of the box drawn on a slice its view shows, or None."""
        document, session = self._document(), self.session
        if document is None or session.box_xyxy is None or not self._prompt_is_shown(document):
            return None
        return session.plane, session.slice_index, session.box_xyxy

    # -- announcements ---------------------------------------------------------------
    def on_cursor_moved(self, previous_zyx, cursor_zyx) -> None:
        """The 3D cursor moved: a prompt whose slice left its view is forgotten, and a new
        slice of the plane in use is encoded first."""
        document = self._document()
        if document is None:
            return
        if self.session.slice_index is not None and not self._prompt_is_shown(document):
            self.session.clear()
        geometry = document.plane_geometry(self._plane_views.current_plane)
        if geometry.from_volume(*previous_zyx)[0] != geometry.from_volume(*cursor_zyx)[0]:
            self.focus_encoding()

    def on_embedding_ready(self, slice_index: int, _from_cache: bool, _seconds: float, plane: str) -> None:
        self.session.on_embedding_ready(slice_index, plane)

    def focus_encoding(self) -> None:
        """Encode the slice of the plane in use through the cursor first, then its neighbours."""
        document, engine = self._document(), self._engine()
        if document is not None and engine is not None:
            plane = self._plane_views.current_plane
            engine.focus(document.plane_index(plane), plane=plane)

    # -- drawing ---------------------------------------------------------------------
    def draw(self) -> None:
        """Redraw the preview and the prompt graphics (labels, colours or slices changed)."""
        self._draw_preview()
        self._draw_prompt()

    def _prompt_is_shown(self, document) -> bool:
        session = self.session
        return session.slice_index is not None and session.slice_index == document.plane_index(session.plane)

    def _view_of_prompt(self):
        """The view that shows the prompt's slice now, or None."""
        document = self._document()
        if document is None or not self._prompt_is_shown(document):
            return None
        return self._plane_views.views[self.session.plane]

    def _draw_preview(self) -> None:
        preview, home = self.session.preview, self._view_of_prompt()
        on_screen = preview is not None and home is not None and (preview.plane, preview.slice_index) == \
            (self.session.plane, self.session.slice_index)
        for view in self._plane_views.views.values():
            if view is home and on_screen:
                document = self._document()
                view.set_preview(preview_to_qimage(preview.mask, document.label_table.get(document.active_label).colour))
            else:
                view.set_preview(None)

    def _draw_prompt(self) -> None:
        session, home = self.session, self._view_of_prompt()
        for view in self._plane_views.views.values():
            if view is home:
                view.set_prompt_graphics(session.box_xyxy, session.points_xy or None, session.point_labels)
            else:
                view.set_prompt_graphics(None, None, [])

    def _on_preview_changed(self) -> None:
        self._draw_preview()
        preview = self.session.preview
        if preview is None:
            return
        if not preview.mask.any():
            self._status("The model found no object here; draw a box around it (B)", 6000)
        else:
            self._status(f"IoU {preview.score:.2f}: Enter adds, Shift+Enter replaces in box, Esc discards", 4000)

    @staticmethod
    def _slice_name(plane: str, index: int) -> str:
        return f"slice {index}" if plane == "axial" else f"{plane} slice {index}"
