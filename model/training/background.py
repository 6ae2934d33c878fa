"""Long computations off the page: one daemon thread per key, with progress, shared by sessions.

``tasks.start(key, fn)`` runs ``fn(progress)`` once per key per server process (a second
request for the same key returns the running or finished task); ``progress(done, total, what)``
updates what clients read. The page polls :class:`Task` (``fraction``, ``message``, ``result``,
``error``) and never waits on it.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Progress = Callable[[int, int, str], None]
# A background task's thread runs at this OS niceness (Linux: per thread): the pages the class is
# waiting for get the cores first, the long computations the rest.
NICENESS = 10


def lower_priority() -> None:
    """Lower the calling thread's CPU priority by :data:`NICENESS` (where the OS allows)."""
    import contextlib
    import os
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed: as it is
        me = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, me, min(19, os.getpriority(os.PRIO_PROCESS, me)
                                                + NICENESS))


class Cancelled(Exception):
    """Raised in a task's progress call once the task was asked to stop."""


@dataclass
class Task:
    """What a client can read about one background computation."""

    key: str
    started: float = field(default_factory=time.time)
    done: int = 0
    total: int = 0
    message: str = "starting"
    result: Any = None
    error: str | None = None
    finished: float | None = None
    stop: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def running(self) -> bool:
        return self.finished is None

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, self.done / self.total)


class Tasks:
    """Keyed background tasks; thread-safe. Finished tasks are kept (their result is the cache)."""

    def __init__(self, keep: int = 64):
        self._lock = threading.Lock()
        self._tasks: dict[str, Task] = {}
        self._keep = keep

    def get(self, key: str) -> Task | None:
        with self._lock:
            return self._tasks.get(key)

    def any_running(self) -> bool:
        with self._lock:
            return any(t.running for t in self._tasks.values())

    def start(self, key: str, fn: Callable[[Progress], Any]) -> Task:
        """Start ``fn`` under ``key`` unless a task with that key exists (not failed)."""
        with self._lock:
            task = self._tasks.get(key)
            if task is not None and task.error is None:
                return task
            task = Task(key)
            self._tasks[key] = task
            if len(self._tasks) > self._keep:  # forget the oldest finished task
                old = next((k for k, t in self._tasks.items() if not t.running), None)
                if old is not None:
                    del self._tasks[old]

        def progress(done: int, total: int, message: str = "") -> None:
            if task.stop.is_set():
                raise Cancelled(key)
            task.done, task.total = int(done), int(total)
            if message:
                task.message = message

        def run() -> None:
            lower_priority()
            try:
                task.result = fn(progress)
            except Cancelled:
                task.error = "stopped before it finished (it starts again when asked)"
            except Exception as exc:  # noqa: BLE001 - reported to the page, never raised there
                task.error = f"{type(exc).__name__}: {exc}"
                print(traceback.format_exc())
            finally:
                task.finished = time.time()

        threading.Thread(target=run, name=f"task-{key[:40]}", daemon=True).start()
        return task

    def stop_running(self, wait_s: float = 60.0) -> bool:
        """Ask every running task to stop at its next progress step (a stopped task starts
        again when asked), and wait for them.

        Args:
            wait_s: the longest wait for them to stop.
        Returns:
            Whether none is running any more.
        """
        with self._lock:
            running = [t for t in self._tasks.values() if t.running]
        for task in running:
            task.stop.set()
        deadline = time.monotonic() + wait_s
        while self.any_running() and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self.any_running()


TASKS = Tasks()
