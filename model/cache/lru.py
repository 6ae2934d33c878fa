"""A map bounded by the bytes of its values (least recently used out first), and how to count
those bytes: the caches that grow with networks or digits are bounded by bytes, not entries."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

import numpy as np

V = TypeVar("V")


class ByteLRU(Generic[V]):
    """A thread-safe map that keeps its values' total size within ``budget`` bytes, dropping
    the least recently used first.

    ``size(value)`` says what a value costs. A value larger than the whole budget is handed
    out but never kept. :meth:`get_or_compute` computes a missing value once, however many
    threads ask for it at the same time (as ``st.cache_resource`` does).
    """

    def __init__(self, budget: int, size: Callable[[V], int]) -> None:
        if not isinstance(budget, int) or budget < 1:
            raise ValueError(f"a cache budget is a number of bytes, 1 or more, not {budget!r}")
        self.budget = budget
        self._size = size
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._computing: dict[Hashable, list] = {}  # key -> [lock, threads using it]
        self.hits = self.misses = self.evictions = 0

    @property
    def nbytes(self) -> int:
        """Bytes held now (the sum of ``size`` over the values kept)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def keys(self) -> list[Hashable]:
        """The keys kept, least recently used first."""
        with self._lock:
            return list(self._items)

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            return self._hit(key, default)

    def _hit(self, key: Hashable, default: Any) -> Any:
        item = self._items.get(key)
        if item is None:
            return default
        self._items.move_to_end(key)
        self.hits += 1
        return item[0]

    def put(self, key: Hashable, value: V) -> None:
        """Keep ``value`` (the most recently used), dropping the oldest until within budget."""
        n = int(self._size(value))
        if n < 0:
            raise ValueError(f"a cached value cannot take {n} bytes")
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if n > self.budget:
                return
            self._items[key] = (value, n)
            self._bytes += n
            while self._bytes > self.budget:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped
                self.evictions += 1

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The value of ``key``, computed (once, whoever else asks meanwhile) when missing.
        An exception from ``compute`` is raised and nothing is kept."""
        missing = object()
        with self._lock:
            value = self._hit(key, missing)
            if value is not missing:
                return value
            slot = self._computing.setdefault(key, [threading.Lock(), 0])
            slot[1] += 1
        try:
            with slot[0]:
                with self._lock:
                    value = self._hit(key, missing)
                    if value is not missing:
                        return value
                    self.misses += 1
                value = compute()
                self.put(key, value)
                return value
        finally:
            with self._lock:
                slot[1] -= 1
                if not slot[1]:
                    self._computing.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


def array_bytes(value: Any) -> int:
    """Bytes of the numpy arrays in ``value`` (arrays, or dicts, lists and tuples of them)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, dict):
        return sum(array_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(array_bytes(v) for v in value)
    return 0


def image_key(image: np.ndarray) -> tuple[tuple[int, ...], str, str]:
    """A digit's cache key: its shape, dtype and a digest of its pixels."""
    a = np.ascontiguousarray(image)
    return a.shape, a.dtype.str, hashlib.blake2b(a.tobytes(), digest_size=16).hexdigest()
