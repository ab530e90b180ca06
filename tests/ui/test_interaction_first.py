"""Interaction first: while the user drags a box, background encoding of the other
slices gives way, and resumes by itself afterwards.

The real window and engine (LiteMedSAM on ONNX Runtime, the app's default where
onnxruntime is installed) on the 20-slice TotalSegmentator CT: right after opening,
with the neighbours of the visible slice queued, a box is dragged on the visible slice
while a neighbour pass is in the middle of an encoder stage. Pressing stops that stage;
while the prompt is active the engine's interaction gate is open, no encoder stage
completes, the neighbour pass waits between stages and no other neighbour job starts;
the visible slice's own pass is never paused. After the drag the gate closes by itself,
the stopped stage runs again, and every slice that was queued is still encoded.
"""

from __future__ import annotations

import threading

import pytest
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtTest import QTest
from ui_helpers import make_window, open_and_wait

from medsam_gui.engine import Engine
from medsam_gui.engine.scheduler import FOREGROUND_PRIORITY

pytestmark = pytest.mark.slow
ALL_ENCODED_TIMEOUT_MS = 300_000
DRAG_STEPS = 20
DRAG_INTERVAL_MS = 33
HELD_STAGE = 5  # a mid-network stage graph of the LiteMedSAM encoder (12 in all)


@pytest.fixture
def totalseg_ct(data_root):
    """The shared TotalSegmentator CT: 20 DICOM slices of 512 x 512."""
    return data_root / "totalseg" / "example_ct_dicom"


class EngineSampler:
    """Samples, every 5 ms on the GUI thread: gate active?, the job in flight and its
    priority, the paused background job."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.samples: list[tuple[bool, object, int | None, object]] = []
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self.sample)
        self.timer.start()

    def sample(self) -> None:
        scheduler = self.engine.scheduler
        self.samples.append((self.engine.interaction.is_active, scheduler.in_flight(),
                             scheduler.in_flight_priority(), self.engine.paused_job()))

    def mark(self) -> int:
        return len(self.samples)


class StageRecorder:
    """Wraps an encoder stage session: records each run's outcome ('stopped' or
    'finished') and whether the interaction gate was active when it ended. While
    ``hold`` is set, the next run waits before it starts until ``held_run_may_start``:
    the test can then press while a stage is in flight, every time."""

    def __init__(self, session, gate, runs: list) -> None:
        self.session = session
        self.gate = gate
        self.runs = runs
        self.hold = False
        self.holding = threading.Event()
        self.held_run_may_start = threading.Event()

    def run(self, *args, **kwargs):
        if self.hold:
            self.hold = False
            self.holding.set()
            self.held_run_may_start.wait(60)
        try:
            outputs = self.session.run(*args, **kwargs)
        except Exception:
            self.runs.append(("stopped", self.gate.is_active))
            raise
        self.runs.append(("finished", self.gate.is_active))
        return outputs

    def __getattr__(self, name):
        return getattr(self.session, name)


def drag_box_slowly(qtbot, window, start_xy, steps, interval_ms, after_press=lambda: None):
    """Press at image pixel ``start_xy`` (then call ``after_press``) and move ``steps``
    times, ``interval_ms`` apart with the event loop running, then release: a box drag as
    a user makes it. Every box is over 160 px wide, so it is decoded on the whole-slice
    embedding (no ROI crop)."""
    view = window.view
    viewport = view.viewport()

    def position(step):
        grown = 160 + 4 * step if step else 0
        return view.widget_position(start_xy[0] + grown + 0.5, start_xy[1] + 0.8 * grown + 0.5)

    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, position(0))
    after_press()
    for step in range(1, steps + 1):
        QTest.mouseMove(viewport, position(step))
        qtbot.wait(interval_ms)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, position(steps))


def test_background_encoding_gives_way_to_a_dragged_box_and_resumes(qtbot, monkeypatch, totalseg_ct):
    pytest.importorskip("onnxruntime")
    engine = Engine.create(model_name="litemedsam", device="onnx-cpu", memory_cache_mb=256, disk_cache=False)
    stage_runs: list[tuple[str, bool]] = []
    stages = engine.backend.encoder_sessions
    stages[:] = [StageRecorder(session, engine.interaction, stage_runs) for session in stages]
    held = stages[HELD_STAGE]
    window = make_window(qtbot, engine, monkeypatch)
    encoded: list[int] = []
    window.encoder.embedding_ready.connect(lambda slice_index, _cached, _s: encoded.append(slice_index))
    sampler = EngineSampler(engine)
    document = open_and_wait(qtbot, window, totalseg_ct)
    visible = document.slice_index
    to_encode = set(engine.slice_states())  # the visible slice and its neighbours, all queued
    assert len(to_encode) > 10

    # right after opening: the visible slice is encoded and a neighbour pass has begun
    qtbot.waitUntil(lambda: visible in encoded, timeout=ALL_ENCODED_TIMEOUT_MS)
    qtbot.waitUntil(lambda: engine.scheduler.in_flight() not in (None, ("axial", visible, None)), timeout=30_000)
    neighbours_left = to_encode - set(encoded)
    assert neighbours_left

    # a neighbour pass is about to run a stage graph when the press comes
    held.hold = True
    qtbot.waitUntil(held.holding.is_set, timeout=ALL_ENCODED_TIMEOUT_MS)
    assert engine.scheduler.in_flight_priority() < FOREGROUND_PRIORITY
    runs_before_press = len(stage_runs)
    window.tools.use("box")
    drag_started = sampler.mark()
    drag_box_slowly(qtbot, window, (120, 150), DRAG_STEPS, DRAG_INTERVAL_MS, after_press=held.held_run_may_start.set)
    last_box = window.prompts.box_xyxy
    qtbot.waitUntil(lambda: window.prompts.preview is not None and window.prompts.preview.box_xyxy == last_box,
                    timeout=30_000)
    during_prompt = sampler.samples[drag_started:]
    assert during_prompt and all(active for active, *_ in during_prompt)  # the gate is open the whole time
    background_in_flight = {job for active, job, priority, _ in during_prompt
                            if job is not None and priority is not None and priority < FOREGROUND_PRIORITY}
    assert len(background_in_flight) <= 1  # the pass in flight at the press; no new neighbour job started
    paused = {paused_job for *_, paused_job in during_prompt if paused_job is not None}
    assert paused and paused <= background_in_flight  # that pass waited between blocks
    # the stage in flight at the press stopped; no stage completed while the prompt was active
    assert stage_runs[runs_before_press] == ("stopped", True)
    assert not any(outcome == "finished" and active for outcome, active in stage_runs[runs_before_press:])

    # the gate closes by itself a grace time after the preview; encoding resumes
    qtbot.waitUntil(lambda: not engine.interaction.is_active, timeout=5_000)
    resumed = sampler.mark()
    qtbot.waitUntil(lambda: to_encode <= set(encoded), timeout=ALL_ENCODED_TIMEOUT_MS)
    after_prompt = sampler.samples[resumed:]
    sampler.timer.stop()
    assert not any(active or paused_job is not None for active, *_, paused_job in after_prompt)
    assert all(engine.is_encoded(slice_index) for slice_index in to_encode)
    assert stage_runs[runs_before_press + 1] == ("finished", False)  # the stopped stage ran again
    # the visible slice's own pass never waited
    assert all(paused_job != ("axial", visible, None) for *_, paused_job in sampler.samples)
    window.close()
