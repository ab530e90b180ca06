"""The next case's first slices are encoded while the encoder is idle, so opening it
answers the first box from the cache."""

from __future__ import annotations

import numpy as np
import pytest

from medsam_gui.core.volume import Volume
from medsam_gui.engine import EmbeddingNotReady, Engine
from medsam_gui.engine.cache import EmbeddingCache


def noise_volume(seed: int) -> Volume:
    return Volume(np.random.default_rng(seed).normal(0.0, 60.0, (4, 40, 40)).astype(np.int16), modality="CT")


def drain(engine) -> None:
    while engine.run_next_job(timeout_s=0.0) is not None:
        pass


def test_prefetched_slices_of_the_next_volume_are_cache_hits(tiny_backend):
    engine = Engine(tiny_backend, EmbeddingCache(64.0, None))
    current, upcoming = noise_volume(1), noise_volume(2)
    engine.set_volume(current)
    engine.request(0)
    engine.prefetch(upcoming, [2, 1])
    assert engine.run_next_job(timeout_s=0.0).slice_index == 0  # the current volume's job goes first
    assert engine.cache.memory_bytes > 0 and engine.prefetch_pending == 2
    engine.run_next_job(timeout_s=0.0)  # idle: one prefetch slice
    engine.run_next_job(timeout_s=0.0)
    assert engine.prefetch_pending == 0

    engine.set_volume(upcoming)
    for slice_index in (2, 1):
        assert engine.predict(slice_index, box_xyxy=(5, 5, 30, 30)).mask.shape == (40, 40)
    with pytest.raises(EmbeddingNotReady):
        engine.predict(3, box_xyxy=(5, 5, 30, 30))  # not prefetched


def test_no_prefetch_while_the_user_interacts(tiny_backend):
    engine = Engine(tiny_backend, EmbeddingCache(64.0, None))
    engine.set_volume(noise_volume(1))
    engine.prefetch(noise_volume(2), [0])
    engine.interaction.begin()
    assert engine.run_next_job(timeout_s=0.0) is None and engine.prefetch_pending == 1
    engine.interaction.cancel()
    engine.run_next_job(timeout_s=0.0)
    assert engine.prefetch_pending == 0
