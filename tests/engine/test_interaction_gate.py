"""InteractionGate: active while held (begin .. end) and until the grace time after the
last touch or end, or until cancel(); waiters block meanwhile and are released by
cancel() at once. Also the scheduler's foreground filter that the engine uses while
the gate is active."""

from __future__ import annotations

import threading
import time

from medsam_gui.engine.interaction import InteractionGate
from medsam_gui.engine.scheduler import FOCUS_PRIORITY, FOREGROUND_PRIORITY, PREDICT_PRIORITY, EncodeScheduler


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_touch_opens_an_interaction_that_ends_a_grace_time_after_the_last_touch():
    clock = FakeClock()
    gate = InteractionGate(grace_s=0.3, clock=clock)
    assert not gate.is_active
    gate.touch()
    assert gate.is_active
    clock.now += 0.2
    gate.touch()  # a new prompt change extends it
    clock.now += 0.2
    assert gate.is_active
    clock.now += 0.11
    assert not gate.is_active


def test_a_hold_lasts_until_end_then_the_grace_time():
    clock = FakeClock()
    gate = InteractionGate(grace_s=0.3, clock=clock)
    gate.begin()  # a prompt waits for its preview, however long the decoder takes
    clock.now += 10.0
    assert gate.is_active
    gate.end()
    clock.now += 0.29
    assert gate.is_active
    clock.now += 0.02
    assert not gate.is_active


def test_cancel_closes_the_interaction_at_once_and_a_disabled_gate_is_never_active():
    gate = InteractionGate(grace_s=60.0)
    gate.begin()
    gate.touch()
    gate.cancel()
    assert not gate.is_active
    gate.enabled = False
    gate.touch()
    assert not gate.is_active
    assert gate.wait_if_interacting(10.0)


def test_wait_returns_at_once_when_idle_and_times_out_while_interacting():
    gate = InteractionGate(grace_s=60.0)
    started = time.monotonic()
    assert gate.wait_if_interacting(5.0)
    gate.touch()
    assert not gate.wait_if_interacting(0.05)
    assert time.monotonic() - started < 2.0


def test_a_waiter_is_released_when_the_grace_time_runs_out():
    gate = InteractionGate(grace_s=0.15)
    gate.touch()
    started = time.monotonic()
    assert gate.wait_if_interacting(5.0)
    assert 0.1 <= time.monotonic() - started < 2.0


def test_cancel_releases_a_waiting_thread():
    gate = InteractionGate(grace_s=60.0)
    gate.begin()
    released = threading.Event()
    waiter = threading.Thread(target=lambda: gate.wait_if_interacting(30.0) and released.set())
    waiter.start()
    time.sleep(0.05)
    assert not released.is_set()
    gate.cancel()
    waiter.join(5.0)
    assert released.is_set()


def test_scheduler_pops_only_foreground_jobs_when_asked_and_keeps_the_rest():
    scheduler = EncodeScheduler()
    scheduler.request((4, None), FOCUS_PRIORITY - 1)  # a neighbour
    assert scheduler.pop(0.0, min_priority=FOREGROUND_PRIORITY) is None
    assert scheduler.queued() == {(4, None): FOCUS_PRIORITY - 1}
    assert not scheduler.has_queued_at_least(FOREGROUND_PRIORITY)
    scheduler.request((5, None), PREDICT_PRIORITY)  # a prompt waits for slice 5
    assert scheduler.has_queued_at_least(FOREGROUND_PRIORITY)
    assert scheduler.pop(0.0, min_priority=FOREGROUND_PRIORITY) == (5, None)
    assert scheduler.in_flight_priority() == PREDICT_PRIORITY
    scheduler.done((5, None))
    assert scheduler.in_flight_priority() is None
    assert scheduler.pop(0.0) == (4, None)
    assert scheduler.in_flight_priority() == FOCUS_PRIORITY - 1
