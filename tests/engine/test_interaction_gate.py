"""InteractionGate: active while held (begin .. end) and until the grace time after the
last touch or end, or until cancel(); waiters block meanwhile and are released by
cancel() at once; every begin and touch calls on_mark. Also the scheduler's foreground
filter that the engine uses while the gate is active, and, on ONNX Runtime, a
background encoder stage already running when the user prompts: it stops, waits, and
runs again afterwards (at most one stop per stage), with the same embedding."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

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
    scheduler.request(("axial", 4, None), FOCUS_PRIORITY - 1)  # a neighbour
    assert scheduler.pop(0.0, min_priority=FOREGROUND_PRIORITY) is None
    assert scheduler.queued() == {("axial", 4, None): FOCUS_PRIORITY - 1}
    assert not scheduler.has_queued_at_least(FOREGROUND_PRIORITY)
    scheduler.request(("axial", 5, None), PREDICT_PRIORITY)  # a prompt waits for slice 5
    assert scheduler.has_queued_at_least(FOREGROUND_PRIORITY)
    assert scheduler.pop(0.0, min_priority=FOREGROUND_PRIORITY) == ("axial", 5, None)
    assert scheduler.in_flight_priority() == PREDICT_PRIORITY
    scheduler.done(("axial", 5, None))
    assert scheduler.in_flight_priority() is None
    assert scheduler.pop(0.0) == ("axial", 4, None)
    assert scheduler.in_flight_priority() == FOCUS_PRIORITY - 1


def test_begin_and_touch_call_on_mark_unless_the_gate_is_disabled():
    marks = []
    gate = InteractionGate(grace_s=60.0, on_mark=lambda: marks.append(gate.is_active))
    gate.begin()
    gate.touch()
    gate.end()
    gate.cancel()
    assert marks == [True, True]  # called after the state change: the gate is active then
    gate.enabled = False
    gate.touch()
    assert marks == [True, True]


# -- a stage running when the user prompts (ONNX Runtime) --------------------------------


class HeldStage:
    """Wraps one real encoder stage session: each run waits (before the real run) until the
    test releases it, so the test can mark the gate while that stage is in flight; the
    outcome of every run ('stopped' or 'finished') is recorded."""

    def __init__(self, session) -> None:
        self.session = session
        self.outcomes: list[str] = []
        self.entered = threading.Semaphore(0)
        self.release = threading.Semaphore(0)

    def run(self, *args, **kwargs):
        self.entered.release()
        assert self.release.acquire(timeout=30)
        try:
            outputs = self.session.run(*args, **kwargs)
        except Exception:
            self.outcomes.append("stopped")
            raise
        self.outcomes.append("finished")
        return outputs

    def __getattr__(self, name):
        return getattr(self.session, name)


@pytest.fixture
def onnx_engine_and_stage(tiny_sam_folder, data_root):
    """An Engine on the tiny SAM exported to ONNX (two stage graphs, the second held) with
    a real CT (3 slices) set; and the HeldStage."""
    pytest.importorskip("onnxruntime")
    from medsam_gui.engine import Engine
    from medsam_gui.engine.cache import EmbeddingCache
    from medsam_gui.engine.models import load_backend
    from medsam_gui.io.load import open_volume

    backend = load_backend(str(tiny_sam_folder), device="onnx-cpu")
    held = HeldStage(backend.encoder_sessions[1])
    backend.encoder_sessions[1] = held
    engine = Engine(backend, EmbeddingCache(64))
    engine.set_volume(open_volume(data_root / "dcmqi" / "ct-3slice"))
    return engine, held


def encode_in_thread(engine) -> tuple[threading.Thread, list]:
    results = []
    worker = threading.Thread(target=lambda: results.append(engine.run_next_job(timeout_s=5.0)), daemon=True)
    worker.start()
    return worker, results


def test_a_background_stage_in_flight_stops_when_the_user_prompts_and_runs_again_after(onnx_engine_and_stage):
    engine, held = onnx_engine_and_stage
    job = ("axial", 1, None)
    engine.request(1, priority=FOCUS_PRIORITY - 1)  # a neighbour: background
    worker, results = encode_in_thread(engine)
    assert held.entered.acquire(timeout=30)  # the neighbour pass is in its second stage
    engine.interaction.begin()  # the user prompts: that stage is stopped ...
    held.release.release()
    deadline = time.monotonic() + 30
    while engine.paused_job() != job and time.monotonic() < deadline:
        time.sleep(0.01)
    assert engine.paused_job() == job  # ... and the pass waits
    assert held.outcomes == ["stopped"] and worker.is_alive()

    engine.interaction.cancel()  # the prompt is done: the stage runs again
    assert held.entered.acquire(timeout=30)
    engine.interaction.touch()  # a new prompt during the rerun does not stop it again
    held.release.release()
    engine.interaction.cancel()
    worker.join(30)
    assert held.outcomes == ["stopped", "finished"]
    assert results and results[0].slice_index == 1 and not results[0].from_cache
    assert engine.is_encoded(1)
    cached, _ = engine.cache.get(engine._key(job), engine.backend.features_from_array)
    held.release.release()  # the reference encode below runs the held stage once more, unmarked
    reference = engine.backend.encode(engine.model_input_image(1))
    np.testing.assert_allclose(engine.backend.features_to_array(cached.features),
                               engine.backend.features_to_array(reference.features), atol=1e-6)


def test_a_foreground_stage_in_flight_is_never_stopped(onnx_engine_and_stage):
    engine, held = onnx_engine_and_stage
    engine.request(1, priority=FOCUS_PRIORITY)  # the visible slice
    worker, results = encode_in_thread(engine)
    assert held.entered.acquire(timeout=30)
    engine.interaction.begin()
    held.release.release()
    worker.join(30)
    engine.interaction.cancel()
    assert held.outcomes == ["finished"]
    assert results and results[0].slice_index == 1 and engine.is_encoded(1)


def test_a_background_pass_is_dropped_for_an_embedding_a_prompt_waits_for_and_runs_again_after(onnx_engine_and_stage):
    engine, held = onnx_engine_and_stage
    engine.request(1, priority=FOCUS_PRIORITY - 1)  # a neighbour: background
    worker, results = encode_in_thread(engine)
    assert held.entered.acquire(timeout=30)  # the neighbour pass is in its second stage
    engine.interaction.begin()  # the user prompts ...
    engine.request(0, priority=PREDICT_PRIORITY)  # ... and the prompt needs slice 0 (e.g. an ROI crop)
    for _ in range(3):  # this run, the foreground pass's, the neighbour's again
        held.release.release()
    worker.join(30)
    assert results == [None] and held.outcomes == ["stopped"]  # the neighbour pass was dropped ...
    assert engine.scheduler.queued() == {("axial", 0, None): PREDICT_PRIORITY, ("axial", 1, None): FOCUS_PRIORITY - 1}
    first = engine.run_next_job(timeout_s=5.0)  # ... so the prompt's embedding comes first, while the user prompts
    assert first.slice_index == 0 and engine.is_encoded(0) and not engine.is_encoded(1)
    engine.interaction.cancel()
    again = engine.run_next_job(timeout_s=5.0)  # and the neighbour is encoded afterwards
    assert again.slice_index == 1 and engine.is_encoded(1)
    assert held.outcomes == ["stopped", "finished", "finished"]
