"""A prompt never waits behind a whole encoder pass: the job it waits for (queued by
``predict``, e.g. the ROI crop of a small box) runs between the blocks of the
foreground pass in flight (the visible slice), which waits while the prompt is decoded
and then goes on where it stopped; a crop for a box the drag has left stops; the
prompt's decode comes before the next neighbour. Driven through the real Engine with a
tiny random-weight SAM backend."""

from __future__ import annotations

import pytest
from engine_testkit import synthetic_ct

from medsam_gui.engine import EmbeddingNotReady, Engine
from medsam_gui.engine.cache import EmbeddingCache

SIZE = 400  # large enough for ROI zoom
SMALL_BOX = (180, 190, 209, 221)


class BoxDrawnDuringFirstPass:
    """The tiny backend, passed through. In its first encoder pass, at the first block,
    ``draw_box()`` runs (the user draws while the slice encodes). Notes when each pass
    starts and ends ('whole' or 'crop'), the engine's slice states as the crop starts,
    every ``interrupt_encode`` (a stage stopped), and whether the user was still
    interacting at each block of the whole slice's pass after the crop."""

    def __init__(self, backend) -> None:
        self._backend = backend
        self.draw_box = None
        self.engine = None
        self.events: list[tuple[str, str]] = []
        self.states_as_crop_starts: dict | None = None
        self.interrupts = 0
        self.interacting_after_crop: list[bool] = []

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def interrupt_encode(self) -> None:
        self.interrupts += 1

    def encode(self, image, between_blocks=None):
        region = "whole" if image.shape[:2] == (SIZE, SIZE) else "crop"
        if region == "crop":
            self.states_as_crop_starts = self.engine.slice_states()
        self.events.append(("start", region))

        def at_block() -> None:
            if self.draw_box is not None:
                draw_box, self.draw_box = self.draw_box, None
                draw_box()
            if region == "whole" and ("end", "crop") in self.events:
                self.interacting_after_crop.append(self.engine.interaction.is_active)
            if between_blocks is not None:
                between_blocks()

        embedding = self._backend.encode(image, between_blocks=at_block)
        self.events.append(("end", region))
        return embedding


def test_a_small_box_drawn_while_the_visible_slice_encodes_gets_its_crop_first(tiny_backend):
    backend = BoxDrawnDuringFirstPass(tiny_backend)
    engine = Engine(backend, EmbeddingCache(64))
    backend.engine = engine
    engine.set_volume(synthetic_ct(slices=1, size=SIZE))
    engine.focus(0)
    crop = engine.roi_crop(SMALL_BOX)
    assert crop != (0, 0, SIZE, SIZE)

    def draw_box() -> None:  # what the window does for the box: the crop is queued
        engine.interaction.begin()
        with pytest.raises(EmbeddingNotReady):
            engine.predict(0, box_xyxy=SMALL_BOX)
        engine.interaction.end()  # "not ready": the prompt waits for the crop

    backend.draw_box = draw_box
    heard = []
    result = engine.run_next_job(timeout_s=0, on_result=lambda done: heard.append((done.crop, engine.is_encoded(0))))

    assert heard == [(crop, False)]  # the crop was announced while the visible slice was still encoding
    assert backend.events == [("start", "whole"), ("start", "crop"), ("end", "crop"), ("end", "whole")]
    assert backend.states_as_crop_starts == {0: "encoding"}  # the slice's pass waits; it is not dropped
    assert backend.interrupts == 1  # the block in flight was asked to stop, so the crop starts at once
    assert backend.interacting_after_crop and not any(backend.interacting_after_crop)  # it waited for the decode
    assert result.crop is None and engine.is_encoded(0)
    assert engine.run_next_job(timeout_s=0) is None  # nothing encoded twice, nothing left
    assert engine.predict(0, box_xyxy=SMALL_BOX).crop == crop


def test_a_box_dragged_past_roi_zoom_drops_the_crop_of_its_smaller_self(tiny_backend):
    """A drag starts small: its first boxes queue an ROI crop. Once the box needs the whole
    slice, that crop is stale: no encoder pass is spent on it (nor does it cut in front)."""
    engine = Engine(tiny_backend, EmbeddingCache(64))
    engine.set_volume(synthetic_ct(slices=1, size=SIZE))
    for box in (SMALL_BOX, (100, 100, 300, 300)):  # the same drag, grown
        with pytest.raises(EmbeddingNotReady):
            engine.predict(0, box_xyxy=box)
    assert engine.scheduler.order() == [("axial", 0, None)]


def test_the_embedding_a_prompt_waits_for_is_followed_by_its_decode_not_a_neighbour(tiny_backend):
    """When the embedding a user's prompt found missing is stored, the prompt's decode comes
    next: the interaction gate is touched, so no background pass (a neighbour) starts first."""
    engine = Engine(tiny_backend, EmbeddingCache(64))
    gate = engine.interaction
    gate.grace_s = 0.0
    engine.set_volume(synthetic_ct(slices=3))
    engine.focus(1, neighbours=1)
    gate.begin()  # what the window's prompt does around its decoder call
    with pytest.raises(EmbeddingNotReady):
        engine.predict(1, box_xyxy=(20, 20, 70, 70))
    gate.end()  # "not ready": the prompt waits, the gate is idle again
    assert not gate.is_active
    gate.grace_s = 60.0  # the grace time from here on lasts the whole test
    assert engine.run_next_job(timeout_s=0).slice_index == 1
    assert gate.is_active
    assert engine.run_next_job(timeout_s=0) is None  # the neighbours wait for the prompt's decode
    assert engine.slice_states() == {0: "queued", 1: "encoded", 2: "queued"}
    gate.cancel()  # the preview came and the user moved on
    assert engine.run_next_job(timeout_s=0).slice_index in (0, 2)


class CountingBlocks:
    """The tiny backend, passed through; ``on_block(pass_number, block)`` runs at each block."""

    def __init__(self, backend, on_block) -> None:
        self._backend = backend
        self._on_block = on_block
        self.blocks_per_pass: list[int] = []

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def encode(self, image, between_blocks=None):
        self.blocks_per_pass.append(0)
        number = len(self.blocks_per_pass)

        def at_block() -> None:
            self.blocks_per_pass[number - 1] += 1
            self._on_block(number, self.blocks_per_pass[number - 1])
            if between_blocks is not None:
                between_blocks()

        return self._backend.encode(image, between_blocks=at_block)


def test_the_crop_pass_of_a_box_that_moved_on_stops_at_its_next_block(tiny_backend):
    moved_box = (60, 60, 89, 91)

    def the_drag_moves_on(pass_number: int, block: int) -> None:
        if (pass_number, block) == (1, 1):
            with pytest.raises(EmbeddingNotReady):
                engine.predict(0, box_xyxy=moved_box)

    backend = CountingBlocks(tiny_backend, the_drag_moves_on)
    engine = Engine(backend, EmbeddingCache(64))
    engine.set_volume(synthetic_ct(slices=1, size=SIZE))
    with pytest.raises(EmbeddingNotReady):
        engine.predict(0, box_xyxy=SMALL_BOX)  # the first boxes of a drag
    assert engine.run_next_job(timeout_s=0) is None  # its crop pass stopped: nobody waits for it
    finished = engine.run_next_job(timeout_s=0)
    assert finished.crop == engine.roi_crop(moved_box) != engine.roi_crop(SMALL_BOX)
    assert backend.blocks_per_pass[0] == 1 and backend.blocks_per_pass[1] > 1  # the stale pass ran one block
    assert engine.run_next_job(timeout_s=0) is None and engine.slice_states() == {}
