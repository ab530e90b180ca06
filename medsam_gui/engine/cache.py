"""Embedding cache: a bounded in-memory LRU (by MB) in front of an fp16 disk cache.

Keys are hex digests from :func:`embedding_key`; they cover the slice content, the
model-input preset, the model weights, the backend's preprocessing and the crop, so
a cached embedding is valid wherever its key matches (reopening a case costs no
encoder time). Disk files are written atomically (temporary file + ``os.replace``)
and the disk cache is trimmed, least recently used first, to its own size limit.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import numpy as np

from medsam_gui.engine.frame import ModelFrame
from medsam_gui.engine.types import Embedding

FORMAT_VERSION = "1"


def embedding_key(
    slice_region: np.ndarray,
    preset_signature: str,
    model_id: str,
    preprocessing_signature: str,
    crop: tuple[int, int, int, int],
) -> str:
    """SHA-256 hex key of the raw voxels of the encoded region and everything that
    changes what the encoder sees. ``slice_region`` is ``[y, x]`` or ``[y, x, 3]``."""
    region = np.ascontiguousarray(slice_region)
    digest = hashlib.sha256()
    header = f"v{FORMAT_VERSION}|{region.dtype.str}|{region.shape}|{preset_signature}|{model_id}|{preprocessing_signature}|{crop}"
    digest.update(header.encode())
    digest.update(region.data)
    return digest.hexdigest()


class EmbeddingCache:
    """Thread-safe two-level cache of :class:`Embedding` objects.

    ``memory_limit_mb``: in-memory budget (least recently used evicted first).
    ``disk_dir``: folder for the fp16 disk cache, or None for memory only.
    ``disk_limit_mb``: disk budget.
    """

    def __init__(self, memory_limit_mb: float, disk_dir: Path | None = None, disk_limit_mb: float = 2048) -> None:
        self.memory_limit_bytes = int(memory_limit_mb * 1024 * 1024)
        self.disk_limit_bytes = int(disk_limit_mb * 1024 * 1024)
        self.disk_dir = Path(disk_dir) if disk_dir is not None else None
        self._memory: OrderedDict[str, Embedding] = OrderedDict()
        self._memory_bytes = 0
        self._lock = threading.Lock()
        self._disk_sizes: dict[str, int] = {}
        if self.disk_dir is not None:
            self.disk_dir.mkdir(parents=True, exist_ok=True)
            for path in self.disk_dir.glob("*.npz"):
                self._disk_sizes[path.stem] = path.stat().st_size

    @property
    def memory_bytes(self) -> int:
        return self._memory_bytes

    @property
    def disk_bytes(self) -> int:
        return sum(self._disk_sizes.values())

    def in_memory(self, key: str) -> bool:
        with self._lock:
            return key in self._memory

    def on_disk(self, key: str) -> bool:
        with self._lock:
            return key in self._disk_sizes

    def get_memory(self, key: str) -> Embedding | None:
        with self._lock:
            embedding = self._memory.get(key)
            if embedding is not None:
                self._memory.move_to_end(key)
            return embedding

    def get(self, key: str, to_features: Callable[[np.ndarray], object]) -> tuple[Embedding | None, str]:
        """(embedding, 'memory' | 'disk' | 'miss'). ``to_features`` turns the stored
        fp16 array into the backend's tensor; a disk hit is promoted to memory."""
        embedding = self.get_memory(key)
        if embedding is not None:
            return embedding, "memory"
        loaded = self._read_disk(key)
        if loaded is None:
            return None, "miss"
        features_fp16, frame = loaded
        embedding = Embedding(to_features(features_fp16), frame)
        self._put_memory(key, embedding)
        return embedding, "disk"

    def put(self, key: str, embedding: Embedding, features_array: np.ndarray) -> None:
        """Store in memory and (as fp16 ``features_array``) on disk."""
        self._put_memory(key, embedding)
        self._write_disk(key, features_array, embedding.frame)

    def clear_memory(self) -> None:
        with self._lock:
            self._memory.clear()
            self._memory_bytes = 0

    def _put_memory(self, key: str, embedding: Embedding) -> None:
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return
            self._memory[key] = embedding
            self._memory_bytes += embedding.nbytes
            while self._memory_bytes > self.memory_limit_bytes and len(self._memory) > 1:
                _, evicted = self._memory.popitem(last=False)
                self._memory_bytes -= evicted.nbytes
            if self._memory_bytes > self.memory_limit_bytes:  # a single entry above the budget
                self._memory.clear()
                self._memory_bytes = 0

    def _path(self, key: str) -> Path:
        return self.disk_dir / f"{key}.npz"

    def _read_disk(self, key: str) -> tuple[np.ndarray, ModelFrame] | None:
        if self.disk_dir is None or not self.on_disk(key):
            return None
        path = self._path(key)
        try:
            with np.load(path, allow_pickle=False) as stored:
                features = stored["features"]
                frame = ModelFrame(
                    image_size_hw=tuple(int(v) for v in stored["image_size_hw"]),
                    content_size_hw=tuple(int(v) for v in stored["content_size_hw"]),
                    scale_xy=tuple(float(v) for v in stored["scale_xy"]),
                    input_size=int(stored["input_size"]),
                    lowres_size=int(stored["lowres_size"]),
                )
            os.utime(path)  # recency for the disk LRU
        except (OSError, KeyError, ValueError):
            with self._lock:
                self._disk_sizes.pop(key, None)
            return None
        return features, frame

    def _write_disk(self, key: str, features_array: np.ndarray, frame: ModelFrame) -> None:
        if self.disk_dir is None or self.disk_limit_bytes <= 0:
            return
        path = self._path(key)
        temporary = path.with_name(f"{key}.{os.getpid()}.{threading.get_ident()}.tmp")
        with temporary.open("wb") as handle:
            np.savez(
                handle,
                features=np.asarray(features_array, dtype=np.float16),
                image_size_hw=np.asarray(frame.image_size_hw),
                content_size_hw=np.asarray(frame.content_size_hw),
                scale_xy=np.asarray(frame.scale_xy, dtype=np.float64),
                input_size=np.asarray(frame.input_size),
                lowres_size=np.asarray(frame.lowres_size),
            )
        os.replace(temporary, path)
        with self._lock:
            self._disk_sizes[key] = path.stat().st_size
        self._trim_disk()

    def _trim_disk(self) -> None:
        with self._lock:
            total = sum(self._disk_sizes.values())
            if total <= self.disk_limit_bytes:
                return
            by_age = sorted(self._disk_sizes, key=lambda name: self._mtime(name))
            for name in by_age:
                if total <= self.disk_limit_bytes:
                    break
                total -= self._disk_sizes.pop(name)
                self._path(name).unlink(missing_ok=True)

    def _mtime(self, key: str) -> float:
        try:
            return self._path(key).stat().st_mtime
        except OSError:
            return 0.0
