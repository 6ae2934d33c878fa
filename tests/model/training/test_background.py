"""Keyed background tasks: one computation per key, progress, errors reported, not raised."""

from __future__ import annotations

import threading
import time

from model.training.background import Tasks


def _wait(task, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while task.running and time.monotonic() < deadline:
        time.sleep(0.01)


def test_one_run_per_key_with_progress_and_result() -> None:
    tasks, calls, gate = Tasks(), [], threading.Event()

    def work(progress):
        calls.append(1)
        progress(1, 4, "a quarter")
        gate.wait(5)
        return 42

    first = tasks.start("k", work)
    second = tasks.start("k", work)  # while running: the same task, no second run
    assert second is first
    deadline = time.monotonic() + 5
    while first.done == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (first.fraction, first.message) == (0.25, "a quarter") and first.running
    assert tasks.any_running()
    gate.set()
    _wait(first)
    assert first.result == 42 and first.error is None and calls == [1]
    assert tasks.start("k", work) is first  # finished: kept as the cached result


def test_a_failure_is_reported_and_a_new_start_retries() -> None:
    tasks = Tasks()
    bad = tasks.start("x", lambda progress: 1 / 0)
    _wait(bad)
    assert bad.error.startswith("ZeroDivisionError") and not bad.running
    good = tasks.start("x", lambda progress: "ok")
    _wait(good)
    assert good is not bad and good.result == "ok"


def test_a_stopped_task_ends_at_its_next_step_and_starts_again_when_asked() -> None:
    tasks, steps = Tasks(), []

    def work(progress):
        for i in range(10_000):
            progress(i, 10_000)
            steps.append(i)
            time.sleep(0.001)
        return "all"

    first = tasks.start("k", work)
    while not steps:
        time.sleep(0.01)
    assert tasks.stop_running(10) and not first.running
    assert first.result is None and "stopped before it finished" in first.error
    assert len(steps) < 10_000
    again = tasks.start("k", lambda progress: "again")  # a stopped task is not the cache
    _wait(again)
    assert again is not first and again.result == "again"
    assert tasks.stop_running(1)  # nothing running: at once
