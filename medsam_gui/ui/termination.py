"""SIGTERM (a logout, a system shutdown, ``kill PID``) closes the app cleanly.

Qt's event loop runs in C++, where Python signal handlers never run; a short idle
timer lets Python look at pending signals. The handler asks the window to stop
without a question (unsaved labels keep their journal for recovery) and quits.
"""

from __future__ import annotations

import signal

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

SIGNAL_CHECK_MS = 250


def stop_on_sigterm(app: QApplication, window) -> QTimer:
    """Install the SIGTERM handler for ``window``; returns the timer that keeps it alive."""

    def on_sigterm(_signum, _frame) -> None:
        window.stop_without_asking()
        app.quit()

    signal.signal(signal.SIGTERM, on_sigterm)
    timer = QTimer(app)
    timer.setInterval(SIGNAL_CHECK_MS)
    timer.timeout.connect(lambda: None)  # returns to Python, which runs pending handlers
    timer.start()
    return timer
