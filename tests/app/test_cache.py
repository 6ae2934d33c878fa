"""The shared caches are bounded by bytes: least recently used out first, values computed once."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ui import cache
from ui.cache import ByteLRU, array_bytes, batch_size
from viz.lab import analyse, rows_to_layers


def test_a_byte_budget_drops_the_least_recently_used_values_first() -> None:
    lru: ByteLRU[str] = ByteLRU(10, len)
    lru.put("a", "xxxx")
    lru.put("b", "yyy")
    lru.put("c", "zz")
    assert lru.nbytes == 9 and lru.keys() == ["a", "b", "c"]
    assert lru.get("a") == "xxxx"  # "a" is now the most recently used
    lru.put("d", "www")  # 12 bytes: "b" goes, the oldest
    assert lru.keys() == ["c", "a", "d"] and lru.nbytes == 9 and lru.evictions == 1
    lru.put("e", "v" * 8)  # 17 bytes: "c", "a" and "d" go
    assert lru.keys() == ["e"] and lru.nbytes == 8 and lru.evictions == 4
    lru.put("e", "v")  # replacing a value counts its new size only
    assert lru.nbytes == 1
    lru.put("huge", "h" * 11)  # larger than the whole budget: never kept, nothing dropped
    assert lru.keys() == ["e"] and "huge" not in lru and lru.get("huge", "none") == "none"
    lru.clear()
    assert len(lru) == 0 and lru.nbytes == 0


def test_get_or_compute_computes_once_and_keeps_nothing_on_error() -> None:
    lru: ByteLRU[np.ndarray] = ByteLRU(1000, array_bytes)
    calls = []
    first = lru.get_or_compute("k", lambda: calls.append(1) or np.zeros(100, np.float32))
    again = lru.get_or_compute("k", lambda: calls.append(1) or np.ones(100, np.float32))
    assert again is first and calls == [1] and lru.nbytes == 400
    assert (lru.hits, lru.misses) == (1, 1)
    lru.get_or_compute("j", lambda: np.zeros(100, np.float32))
    lru.get_or_compute("i", lambda: np.zeros(100, np.float32))  # 1200 bytes: "k" goes
    assert lru.keys() == ["j", "i"]

    def boom() -> np.ndarray:
        raise RuntimeError("no")
    with pytest.raises(RuntimeError):
        lru.get_or_compute("bad", boom)
    assert "bad" not in lru and lru.keys() == ["j", "i"]


def test_threads_asking_for_the_same_missing_value_share_one_computation() -> None:
    lru: ByteLRU[int] = ByteLRU(100, lambda v: 1)
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        started.set()
        release.wait(10)
        return 42

    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(lru.get_or_compute("k", slow)))
    first.start()
    started.wait(10)
    others = [threading.Thread(target=lambda: results.append(lru.get_or_compute("k", slow)))
              for _ in range(4)]
    for t in others:
        t.start()
    release.set()
    for t in (first, *others):
        t.join(10)
    assert results == [42] * 5 and calls == [1] and lru._computing == {}


def test_array_bytes_counts_nested_arrays() -> None:
    acts = {"a": np.zeros((4, 5, 5), np.float32), "b": np.zeros(10, np.float32)}
    assert array_bytes((acts, np.zeros(10, np.float32))) == 400 + 40 + 40
    assert array_bytes("text") == 0


def test_the_forward_budget_holds_the_classroom_case_and_bounds_the_worst() -> None:
    from model.architectures import ARCHITECTURES
    from viz.card import MAX_ACTIVATIONS
    from viz.layers import activation_elements
    seed_digit = 4 * (activation_elements(list(analyse(ARCHITECTURES["seed"].layers()).layers))
                      + 10)
    assert seed_digit == 1_016_184
    assert cache.FORWARD_BYTES // seed_digit >= 200 + 90  # the 200 samples, and room besides
    assert cache.FORWARD_BYTES // (4 * (MAX_ACTIVATIONS + 10)) == 18  # digits at the limit
    assert cache.TORCH_FORWARD_BYTES // (4 * (MAX_ACTIVATIONS + 10)) == 4  # an upload's


def test_batches_keep_a_layer_input_and_output_within_the_budget() -> None:
    from model.architectures import ARCHITECTURES
    seed = list(analyse(ARCHITECTURES["seed"].layers()).layers)
    original = list(analyse(ARCHITECTURES["seed-original"].layers()).layers)
    # viz.layers.FORWARD_FACTOR = 2: measured peak over a layer's input and output
    assert batch_size(seed) == 64_000_000 // (2 * 4 * 2 * 12544) == 318
    assert batch_size(original) == 64_000_000 // (2 * 4 * 2 * 401408) == 9
    tiny = list(analyse(rows_to_layers([{"type": "flatten"}, {"type": "linear"}])).layers)
    assert batch_size(tiny) == 1000  # small networks keep the default batch
    huge = list(analyse(rows_to_layers([{"type": "conv", "kernel": 1, "channels": 5000},
                                        {"type": "gap"}, {"type": "flatten"},
                                        {"type": "linear"}])).layers)
    assert batch_size(huge) == 64_000_000 // (2 * 4 * (784 + 5000 * 784)) == 2
    assert batch_size(huge, budget=1) == 1
