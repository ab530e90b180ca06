"""Interaction first: while the user drags a box, background encoding of the other
slices gives way, and resumes by itself afterwards.

The real window and engine on the 20-slice TotalSegmentator CT: right after opening,
with the neighbours of the visible slice queued, a box is dragged on the visible slice.
While the prompt is active the engine's interaction gate is open, a neighbour pass in
flight waits between network blocks and no other neighbour job starts; the visible
slice's own pass is never paused. After the drag the gate closes by itself and every
slice that was queued is still encoded.
"""

from __future__ import annotations

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


def drag_box_slowly(qtbot, window, start_xy, steps, interval_ms):
    """Press at image pixel ``start_xy`` and move ``steps`` times, ``interval_ms`` apart
    with the event loop running, then release: a box drag as a user makes it. Every box
    is over 160 px wide, so it is decoded on the whole-slice embedding (no ROI crop)."""
    view = window.view
    viewport = view.viewport()

    def position(step):
        grown = 160 + 4 * step if step else 0
        return view.widget_position(start_xy[0] + grown + 0.5, start_xy[1] + 0.8 * grown + 0.5)

    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, position(0))
    for step in range(1, steps + 1):
        QTest.mouseMove(viewport, position(step))
        qtbot.wait(interval_ms)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, position(steps))


def test_background_encoding_gives_way_to_a_dragged_box_and_resumes(qtbot, monkeypatch, totalseg_ct):
    engine = Engine.create(model_name="litemedsam", device="cpu", memory_cache_mb=256, disk_cache=False)
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
    qtbot.waitUntil(lambda: engine.scheduler.in_flight() not in (None, (visible, None)), timeout=30_000)
    neighbours_left = to_encode - set(encoded)
    assert neighbours_left

    window.use_box_tool()
    drag_started = sampler.mark()
    drag_box_slowly(qtbot, window, (120, 150), DRAG_STEPS, DRAG_INTERVAL_MS)
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

    # the gate closes by itself a grace time after the preview; encoding resumes
    qtbot.waitUntil(lambda: not engine.interaction.is_active, timeout=5_000)
    resumed = sampler.mark()
    qtbot.waitUntil(lambda: to_encode <= set(encoded), timeout=ALL_ENCODED_TIMEOUT_MS)
    after_prompt = sampler.samples[resumed:]
    sampler.timer.stop()
    assert not any(active or paused_job is not None for active, *_, paused_job in after_prompt)
    assert all(engine.is_encoded(slice_index) for slice_index in to_encode)
    # the visible slice's own pass never waited
    assert all(paused_job != (visible, None) for *_, paused_job in sampler.samples)
    window.close()
