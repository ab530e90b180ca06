"""Priority queue of encode jobs: the visible slice first, then its neighbours
outward; a new focus drops the requests it supersedes. Thread-safe; one worker pops.

Jobs in flight form a stack: the worker may pop a more urgent job between the blocks
of the pass it runs and finish that first (see ``Engine.run_next_job``); ``in_flight``
is then the innermost, the one computing. A job in flight that ``discard`` matches is
no longer wanted: its pass stops at its next block (``is_unwanted``).

A job is ``(plane, slice_index, crop)``: ``plane`` is 'axial', 'coronal' or 'sagittal'
(see core/planes.py), ``slice_index`` the slice of that plane, and ``crop`` None for the
whole slice or an ROI crop (x_start, y_start, x_stop, y_stop) in the pixels of the image
the model is given (for coronal/sagittal: the slice resampled to square pixels).
"""

from __future__ import annotations

import heapq
import itertools
import threading

Job = tuple[str, int, tuple[int, int, int, int] | None]

PREDICT_PRIORITY = 2_000_000_000  # an embedding a predict() call is waiting for
FOCUS_PRIORITY = 1_000_000_000  # the visible slice; neighbours get FOCUS - distance
# jobs at or above this are foreground (the visible slice, a waited-for embedding,
# propagation); below it, background work that gives way to interaction
FOREGROUND_PRIORITY = FOCUS_PRIORITY


class EncodeScheduler:
    """Highest priority first; equal priorities in request order."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._priorities: dict[Job, int] = {}
        self._heap: list[tuple[int, int, Job]] = []
        self._counter = itertools.count()
        self._in_flight: list[tuple[Job, int]] = []  # (job, priority popped with), outermost first
        self._unwanted: set[Job] = set()  # jobs in flight that discard() matched

    def request(self, job: Job, priority: int = 0) -> None:
        """Queue ``job`` (or raise its priority). A job in flight is not queued again."""
        with self._condition:
            if self._is_in_flight(job) or self._priorities.get(job, priority - 1) >= priority:
                return
            self._push(job, priority)
            self._condition.notify()

    def replace(self, jobs: list[tuple[Job, int]], keep=lambda job: False) -> None:
        """Make ``jobs`` the queue; already-queued jobs for which ``keep(job)`` is true stay."""
        with self._condition:
            kept = {job: priority for job, priority in self._priorities.items() if keep(job)}
            self._priorities.clear()
            self._heap.clear()
            for job, priority in kept.items():
                self._push(job, priority)
            for job, priority in jobs:
                if not self._is_in_flight(job) and self._priorities.get(job, priority - 1) < priority:
                    self._push(job, priority)
            self._condition.notify()

    def discard(self, predicate) -> None:
        """Drop queued jobs for which ``predicate(job)`` is true; such a job in flight
        becomes unwanted (``is_unwanted``: its pass may stop)."""
        with self._condition:
            for job in [job for job in self._priorities if predicate(job)]:
                del self._priorities[job]
            self._unwanted.update(job for job, _ in self._in_flight if predicate(job))

    def is_unwanted(self, job: Job) -> bool:
        """True when ``job``, in flight, was discarded: nobody waits for its result."""
        with self._condition:
            return job in self._unwanted

    def clear(self) -> None:
        with self._condition:
            self._priorities.clear()
            self._heap.clear()

    def pop(self, timeout_s: float, min_priority: int | None = None) -> Job | None:
        """The next job (now 'in flight', on top of any job already in flight), waiting
        up to ``timeout_s``; None if idle.

        With ``min_priority`` only a job of at least that priority is taken; lower
        ones stay queued.
        """
        with self._condition:
            popped = self._pop_valid(min_priority)
            if popped is None and timeout_s > 0:
                self._condition.wait(timeout_s)
                popped = self._pop_valid(min_priority)
            if popped is None:
                return None
            self._in_flight.append(popped)
            return popped[0]

    def done(self, job: Job) -> None:
        """``job`` (in flight) finished or was dropped."""
        with self._condition:
            self._in_flight = [entry for entry in self._in_flight if entry[0] != job]
            self._unwanted.discard(job)

    def in_flight_priority(self) -> int | None:
        """The priority the innermost job in flight was popped with (None when idle)."""
        with self._condition:
            return self._in_flight[-1][1] if self._in_flight else None

    def has_queued_at_least(self, priority: int) -> bool:
        """True when a queued job has ``priority`` or more."""
        with self._condition:
            return any(queued >= priority for queued in self._priorities.values())

    def queued(self) -> dict[Job, int]:
        with self._condition:
            return dict(self._priorities)

    def in_flight(self) -> Job | None:
        """The innermost job in flight (the one computing now), or None."""
        with self._condition:
            return self._in_flight[-1][0] if self._in_flight else None

    def jobs_in_flight(self) -> list[Job]:
        """Every job in flight, outermost first (a pass waits while the ones after it run)."""
        with self._condition:
            return [job for job, _ in self._in_flight]

    def order(self) -> list[Job]:
        """Queued jobs in the order they would be popped."""
        with self._condition:
            live = [entry for entry in self._heap if self._priorities.get(entry[2]) == -entry[0]]
            return [job for _, _, job in sorted(live)]

    def _is_in_flight(self, job: Job) -> bool:
        return any(entry[0] == job for entry in self._in_flight)

    def _push(self, job: Job, priority: int) -> None:
        self._priorities[job] = priority
        heapq.heappush(self._heap, (-priority, next(self._counter), job))

    def _pop_valid(self, min_priority: int | None) -> tuple[Job, int] | None:
        while self._heap:
            negative_priority, _, job = self._heap[0]
            if self._priorities.get(job) != -negative_priority:
                heapq.heappop(self._heap)  # superseded or discarded
                continue
            if min_priority is not None and -negative_priority < min_priority:
                return None
            heapq.heappop(self._heap)
            del self._priorities[job]
            return job, -negative_priority
        return None
