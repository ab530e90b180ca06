"""Progress reports and cancellation for long project operations (indexing, export).

A caller passes ``progress(done, total, message)`` (``total`` is 0 while unknown) and a
``threading.Event`` that, once set, makes the operation stop at the next file and raise
:class:`~medsam_gui.project.errors.OperationCancelled`. Reports are rate-limited here,
so a UI can forward each one as a Qt signal without flooding its event loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from medsam_gui.project.errors import OperationCancelled

ProgressCallback = Callable[[int, int, str], None]
"""``progress(done, total, message)``: ``done`` of ``total`` steps (``total`` 0 when unknown)."""


class ProgressReporter:
    """Forwards at most one report per ``min_interval_s`` (plus forced ones) and checks for cancel."""

    def __init__(
        self,
        callback: ProgressCallback | None,
        cancel: threading.Event | None,
        min_interval_s: float = 0.1,
    ) -> None:
        self.callback = callback
        self.cancel = cancel
        self.min_interval_s = min_interval_s
        self._last_report = -float("inf")

    def report(self, done: int, total: int, message: str, force: bool = False) -> None:
        """Forward ``(done, total, message)`` unless one was forwarded very recently."""
        if self.callback is None:
            return
        now = time.monotonic()
        if force or done == total or now - self._last_report >= self.min_interval_s:
            self._last_report = now
            self.callback(done, total, message)

    def check_cancel(self, what: str) -> None:
        """Raise OperationCancelled (its text: ``what``) when the cancel event is set."""
        if self.cancel is not None and self.cancel.is_set():
            raise OperationCancelled(what)
