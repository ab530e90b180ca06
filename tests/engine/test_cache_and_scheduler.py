"""Embedding cache (memory LRU by MB, disk reuse, keys) and the encode scheduler,
driven through the real Engine with a tiny random-weight SAM backend."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from engine_testkit import synthetic_ct

from medsam_gui.core.window import MODEL_INPUT_PRESETS
from medsam_gui.engine import EmbeddingNotReady, Engine
from medsam_gui.engine.cache import EmbeddingCache
from medsam_gui.engine.scheduler import EncodeScheduler


def make_engine(backend, tmp_path=None, memory_mb=64.0):
    return Engine(backend, EmbeddingCache(memory_mb, tmp_path / "embeddings" if tmp_path else None))


def drain(engine) -> list:
    results = []
    while (result := engine.run_next_job(timeout_s=0.0)) is not None:
        results.append(result)
    return results


def test_predict_raises_not_ready_without_blocking_and_queues_the_slice(tiny_backend):
    engine = make_engine(tiny_backend)
    engine.set_volume(synthetic_ct())
    with pytest.raises(EmbeddingNotReady) as raised:
        engine.predict(2, box_xyxy=(30, 30, 70, 70))
    assert raised.value.slice_index == 2
    assert engine.slice_states() == {2: "queued"}
    results = drain(engine)
    assert [(r.slice_index, r.from_cache) for r in results] == [(2, False)]
    prediction = engine.predict(2, box_xyxy=(30, 30, 70, 70))
    assert prediction.mask.shape == (96, 96) and prediction.mask.dtype == bool
    assert engine.is_encoded(2) and engine.slice_states() == {2: "encoded"}


def test_memory_hits_disk_reuse_across_engines_and_lru_eviction_by_size(tiny_backend, tmp_path):
    volume = synthetic_ct(slices=4)
    embedding_mb = 32 * 4 * 4 * 4 / 2**20  # [1, 32, 4, 4] float32
    engine = make_engine(tiny_backend, tmp_path, memory_mb=2.5 * embedding_mb)
    engine.set_volume(volume)
    for slice_index in range(4):
        engine.request(slice_index)
    assert all(not r.from_cache for r in drain(engine))
    assert engine.cache.memory_bytes <= 2.5 * embedding_mb * 2**20
    in_memory = [engine.cache.in_memory(engine._key(("axial", z, None))) for z in range(4)]
    assert in_memory == [False, False, True, True]  # least recently used went first
    # a second engine (a reopened case) finds every slice on disk: no encoder pass
    second = make_engine(tiny_backend, tmp_path)
    second.set_volume(volume)
    assert all(second.is_encoded(z) for z in range(4))
    second.request(0, priority=5)  # already encoded: nothing to do
    assert drain(second) == []
    assert second.predict(0, box_xyxy=(20, 20, 60, 60)).mask.shape == (96, 96)
    assert second.cache.in_memory(second._key(("axial", 0, None)))  # promoted from disk


def test_disk_cache_is_trimmed_to_its_limit(tiny_backend, tmp_path):
    cache = EmbeddingCache(1.0, tmp_path / "embeddings", disk_limit_mb=0.0045)  # room for two files
    engine = Engine(tiny_backend, cache)
    engine.set_volume(synthetic_ct(slices=4))
    for slice_index in range(4):
        engine.request(slice_index, priority=-slice_index)
        drain(engine)
        time.sleep(0.01)
    files = sorted((tmp_path / "embeddings").glob("*.npz"))
    assert 1 <= len(files) <= 2 and cache.disk_bytes <= 0.0045 * 2**20
    assert engine.cache.on_disk(engine._key(("axial", 3, None)))  # the newest survives


def test_key_changes_with_preset_model_and_crop(tiny_backend, tmp_path, tiny_sam_folder):
    volume = synthetic_ct()
    engine = make_engine(tiny_backend, tmp_path)
    engine.set_volume(volume)
    soft = engine._key(("axial", 1, None))
    assert engine._key(("axial", 1, (0, 0, 64, 64))) != soft
    engine.set_volume(volume, MODEL_INPUT_PRESETS["ct_bone"])
    assert engine._key(("axial", 1, None)) != soft
    engine.set_volume(volume)
    assert engine._key(("axial", 1, None)) == soft
    from medsam_gui.engine.models import load_backend
    import shutil

    as_sam = tmp_path / "tiny-sam"
    shutil.copytree(tiny_sam_folder, as_sam)
    other = make_engine(load_backend(str(as_sam), device="cpu"), tmp_path)
    other.set_volume(volume)
    assert other._key(("axial", 1, None)) != soft


def test_focus_orders_the_visible_slice_then_neighbours_outward_and_drops_stale(tiny_backend):
    engine = make_engine(tiny_backend)
    engine.set_volume(synthetic_ct(slices=12))
    engine.request(11, priority=3)
    engine.focus(5, neighbours=2)
    assert engine.scheduler.order() == [("axial", z, None) for z in (5, 4, 6, 3, 7)]
    engine.focus(9, neighbours=1)  # the user moved on: 3..7 are stale
    assert engine.scheduler.order() == [("axial", 9, None), ("axial", 8, None), ("axial", 10, None)]
    assert drain(engine)[0].slice_index == 9
    engine.focus(9, neighbours=2)  # encoded slices are not queued again
    assert engine.scheduler.order() == [("axial", 7, None), ("axial", 11, None)]
    engine.cancel_pending()
    assert engine.scheduler.order() == []


def test_scheduler_priorities_and_in_flight():
    scheduler = EncodeScheduler()
    scheduler.request(("axial", 1, None), 1)
    scheduler.request(("axial", 2, None), 5)
    scheduler.request(("axial", 1, None), 9)  # raised above 2
    scheduler.request(("axial", 2, None), 0)  # lowering is ignored
    assert scheduler.pop(0) == ("axial", 1, None)
    scheduler.request(("axial", 1, None), 100)  # in flight: not queued twice
    assert scheduler.order() == [("axial", 2, None)]
    started = time.perf_counter()
    assert scheduler.pop(0) == ("axial", 2, None) and scheduler.pop(0.05) is None
    assert time.perf_counter() - started >= 0.04


def test_new_volume_drops_queued_jobs(tiny_backend):
    engine = make_engine(tiny_backend)
    engine.set_volume(synthetic_ct(slices=6))
    engine.focus(3)
    engine.set_volume(synthetic_ct(slices=6, seed=1))
    assert engine.scheduler.order() == [] and engine.slice_states() == {}


def test_roi_zoom_embedding_is_cached_per_quantised_crop(tiny_backend):
    engine = make_engine(tiny_backend)
    engine.set_volume(synthetic_ct(slices=1, size=400))
    box = (180, 190, 209, 221)
    crop = engine.roi_crop(box)
    assert crop != (0, 0, 400, 400)
    with pytest.raises(EmbeddingNotReady) as raised:
        engine.predict(0, box_xyxy=box)
    assert raised.value.crop == crop
    assert engine.roi_crop((182, 191, 211, 222), slice_index=0) == crop  # dragged a few pixels: same crop
    drain(engine)
    prediction = engine.predict(0, box_xyxy=(182, 191, 211, 222))
    x0, y0, x1, y1 = crop
    assert prediction.used_roi_zoom and prediction.crop == crop
    outside = prediction.mask.copy()
    outside[y0:y1, x0:x1] = False
    assert not outside.any()
    # refinement from the previous logits on the same crop
    refined = engine.predict(0, box_xyxy=box, points_xy=[[195, 205]], point_labels=[1], mask_input=prediction)
    assert refined.mask.shape == (400, 400)


def test_a_moved_small_box_supersedes_its_older_queued_crop(tiny_backend):
    engine = make_engine(tiny_backend)
    engine.set_volume(synthetic_ct(slices=2, size=400))
    first_box, moved_box = (40, 40, 70, 70), (300, 300, 330, 330)
    for box in (first_box, moved_box):
        with pytest.raises(EmbeddingNotReady):
            engine.predict(0, box_xyxy=box)
    engine.request(1)
    queued_crops = [job[2] for job in engine.scheduler.order() if job[1] == 0]
    assert queued_crops == [engine.roi_crop(moved_box)]  # only the newest crop waits
    assert ("axial", 1, None) in engine.scheduler.order()  # other slices' jobs are untouched


def test_worker_thread_and_predicting_thread_together(tiny_backend):
    engine = make_engine(tiny_backend)
    engine.set_volume(synthetic_ct(slices=8))
    stop = threading.Event()
    errors, encoded = [], []

    def worker():
        try:
            while not stop.is_set():
                result = engine.run_next_job(timeout_s=0.02)
                if result is not None:
                    encoded.append(result.slice_index)
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)

    thread = threading.Thread(target=worker)
    thread.start()
    masks = 0
    deadline = time.perf_counter() + 20
    try:
        while masks < 16 and time.perf_counter() < deadline:
            slice_index = masks % 8
            engine.focus(slice_index, neighbours=3)
            try:
                engine.predict(slice_index, box_xyxy=(20, 20, 70, 70))
                masks += 1
            except EmbeddingNotReady:
                time.sleep(0.005)
    finally:
        stop.set()
        thread.join(5)
    assert not errors and masks == 16
    assert sorted(set(encoded)) == list(range(8)) and len(encoded) == len(set(encoded))
