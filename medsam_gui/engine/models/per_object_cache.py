"""A memo keyed by an object's identity that forgets the entry when the object is freed.

The decoders compute a prompt-independent first block once per embedding's features
(a torch tensor or a numpy array) and reuse it for every prompt on that embedding.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class PerObjectCache(Generic[Value]):
    """``get(owner, compute)``: ``compute()`` once per live ``owner``; thread-safe.

    The entry is dropped when ``owner`` is garbage-collected, before its ``id`` can be
    reused by another object. ``owner`` must support weak references.
    """

    def __init__(self) -> None:
        self._values: dict[int, Value] = {}
        self._lock = threading.Lock()

    def get(self, owner, compute: Callable[[], Value]) -> Value:
        key = id(owner)
        with self._lock:
            cached = self._values.get(key)
        if cached is None:
            cached = compute()
            with self._lock:
                self._values[key] = cached
            weakref.finalize(owner, self._forget, key)
        return cached

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

    def _forget(self, key: int) -> None:
        with self._lock:
            self._values.pop(key, None)
