"""Process-wide settings for many sessions in one process: the background import of the torch
side leaves nothing for a page to import later (the first optimizer, a feature visualization the
atlas starts, imports no module while sessions wait); numpy's BLAS computes on the calling
thread; pages compute a few at a time (page slots)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from ui.cache import _import_torch_side
_import_torch_side()
import torch
before = set(sys.modules)
torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=0.1)
print(len(set(sys.modules) - before))
"""


def test_the_first_optimizer_imports_nothing_after_the_preload() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "0"


BLAS = """
from threadpoolctl import threadpool_info
import numpy
before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
from ui.cache import one_blas_thread
one_blas_thread()
after = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
print(before, after)
"""


def test_numpy_computes_on_the_calling_thread_after_the_preload() -> None:
    env = {"PYTHONPATH": str(ROOT), "PATH": "", "OPENBLAS_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, "-c", BLAS], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[2] [1]"


def test_page_slots_come_from_the_environment_or_the_cores() -> None:
    from ui.cache import slots_from_env
    assert slots_from_env(None, 2) == 2 and slots_from_env("", 8) == 8
    assert slots_from_env("3", 2) == 3 and slots_from_env("64", 2) == 64
    for bad in ("0", "-1", "65", "two", "1.5"):
        assert slots_from_env(bad, 2) == 2
    assert slots_from_env(None, 0) == 1


def test_at_most_the_slots_compute_at_once() -> None:
    import threading
    import time

    from ui import cache
    n = cache.PAGE_SLOTS
    lock, running, most, order = threading.Lock(), [0], [0], []

    def page(i: int) -> None:
        # the inner one: a fragment drawn inside its page holds the page's slot
        with cache.page_slot(), cache.page_slot():
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
                order.append(i)
            time.sleep(0.02)
            with lock:
                running[0] -= 1

    threads = []
    for i in range(4 * n + 2):
        threads.append(threading.Thread(target=page, args=(i,)))
        threads[-1].start()
        time.sleep(0.002)
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert most[0] == n and sorted(order) == list(range(4 * n + 2))
    # all slots free again: n more can hold one at once without waiting
    held = [cache._page_slots(n).acquire(timeout=0) for _ in range(n)]
    assert all(held)
    for _ in held:
        cache._page_slots(n).release()


def test_a_page_that_fails_gives_its_slot_back() -> None:
    from ui import cache
    for _ in range(cache.PAGE_SLOTS + 1):
        with pytest.raises(RuntimeError), cache.page_slot():
            raise RuntimeError("a page's error")
    assert cache._page_slots(cache.PAGE_SLOTS).acquire(timeout=1)
    cache._page_slots(cache.PAGE_SLOTS).release()


def test_a_page_never_waits_forever_for_a_slot(monkeypatch) -> None:
    import time

    from ui import cache
    monkeypatch.setattr(cache, "SLOT_WAIT_S", 0.3)
    slots = cache._page_slots(cache.PAGE_SLOTS)
    taken = [slots.acquire(timeout=1) for _ in range(cache.PAGE_SLOTS)]  # every slot stuck
    assert all(taken)
    try:
        t0 = time.perf_counter()
        with cache.page_slot():  # waits its 0.3 s, then runs without one
            waited = time.perf_counter() - t0
        assert 0.25 <= waited < 5
    finally:
        for _ in taken:
            slots.release()
    # nothing was released that was not held: all slots free, none over
    assert [slots.acquire(timeout=0) for _ in range(cache.PAGE_SLOTS)] == [True] * cache.PAGE_SLOTS
    assert not slots.acquire(timeout=0)
    for _ in range(cache.PAGE_SLOTS):
        slots.release()


def test_a_teachers_page_does_not_queue_behind_the_class(monkeypatch) -> None:
    import time

    from ui import cache
    monkeypatch.setattr(cache, "UNQUEUED", [lambda: True])
    slots = cache._page_slots(cache.PAGE_SLOTS)
    taken = [slots.acquire(timeout=1) for _ in range(cache.PAGE_SLOTS)]  # the class's pages
    try:
        t0 = time.perf_counter()
        with cache.page_slot():  # the teacher's: at once, without a slot
            waited = time.perf_counter() - t0
        assert waited < 0.1
        monkeypatch.setattr(cache, "UNQUEUED", [lambda: 1 / 0])  # a failing check queues
        monkeypatch.setattr(cache, "SLOT_WAIT_S", 0.2)
        t0 = time.perf_counter()
        with cache.page_slot():
            assert time.perf_counter() - t0 >= 0.15
    finally:
        for _ in taken:
            slots.release()
    assert [slots.acquire(timeout=0) for _ in range(cache.PAGE_SLOTS)] == [True] * cache.PAGE_SLOTS
    for _ in range(cache.PAGE_SLOTS):
        slots.release()


def test_the_teacher_is_the_session_that_skips_the_queue() -> None:
    from ui import cache
    from ui.classroom import session
    assert session.teaching in cache.UNQUEUED
