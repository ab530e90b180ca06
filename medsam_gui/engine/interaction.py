"""Interaction first: background encoding gives way while the user is prompting.

The GUI holds interaction open while a prompt waits for its preview (``begin`` ...
``end``) and marks it on every other user action (``touch``); interaction lasts until
``grace_s`` after the last touch or end, or until ``cancel``. Meanwhile the encoder thread starts no background job and a background
encoder pass in flight waits between network blocks (``wait_if_interacting``), so
the decoder has the cores to itself. Every ``begin`` and ``touch`` also calls
``on_mark`` (the engine stops a background network block already running, so the
pass waits at once rather than after that block). Qt-free and torch-free; thread-safe.
"""

from __future__ import annotations

import threading
import time

DEFAULT_GRACE_S = 0.3


class InteractionGate:
    """Active while held (``begin`` .. ``end``) and until ``grace_s`` after the last
    ``touch`` or ``end``; ``cancel`` makes it idle at once. ``wait_if_interacting``
    blocks while it is active. ``enabled = False`` makes it never active (the
    throughput reference in benchmarks). ``on_mark``: None or a callable run (on the
    caller's thread, after the state change) by every ``begin`` and ``touch`` of an
    enabled gate; it must be quick."""

    def __init__(self, grace_s: float = DEFAULT_GRACE_S, clock=time.monotonic, on_mark=None) -> None:
        self.grace_s = float(grace_s)
        self.enabled = True
        self._clock = clock
        self.on_mark = on_mark
        self._lock = threading.Lock()
        self._held = False
        self._deadline = float("-inf")  # clock time at which the interaction ends by itself
        self._cancelled = threading.Event()  # set by cancel(): wakes waiters at once
        self._cancelled.set()

    def begin(self) -> None:
        """Hold interaction open (e.g. a prompt waits for its preview) until ``end``."""
        with self._lock:
            self._held = True
            self._cancelled.clear()
        self._marked()

    def touch(self) -> None:
        """The user did something: interaction lasts at least ``grace_s`` from now."""
        with self._lock:
            self._deadline = self._clock() + self.grace_s
            self._cancelled.clear()
        self._marked()

    def end(self) -> None:
        """Release the hold of ``begin``; interaction lingers ``grace_s`` from now."""
        with self._lock:
            self._held = False
            self._deadline = max(self._deadline, self._clock() + self.grace_s)

    def cancel(self) -> None:
        """Interaction is over now (the prompt was accepted or discarded, the app stops)."""
        with self._lock:
            self._held = False
            self._deadline = float("-inf")
            self._cancelled.set()

    @property
    def is_active(self) -> bool:
        return self.enabled and self._remaining_s() > 0.0

    def wait_if_interacting(self, timeout_s: float) -> bool:
        """Block while interaction is active, at most ``timeout_s`` seconds.

        Returns True when interaction is over (or never was), False on timeout.
        """
        give_up = self._clock() + max(float(timeout_s), 0.0)
        while self.is_active:
            left = give_up - self._clock()
            if left <= 0.0:
                return False
            self._cancelled.wait(min(self._remaining_s(), left))
        return True

    def _marked(self) -> None:
        if self.enabled and self.on_mark is not None:
            self.on_mark()

    def _remaining_s(self) -> float:
        """Seconds until the interaction ends by itself (infinite while held)."""
        with self._lock:
            return float("inf") if self._held else self._deadline - self._clock()
