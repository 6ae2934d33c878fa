"""Process-wide settings for many sessions in one process: the background import of the torch
side leaves nothing for a page to import later (the first optimizer, a feature visualization the
atlas starts, imports no module while sessions wait); numpy's BLAS computes on the calling
thread; pages compute a few at a time (page slots)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from model.cache.process import import_torch_side
import_torch_side()
import torch
before = set(sys.modules)
torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=0.1)
print(len(set(sys.modules) - before))
"""


@pytest.mark.slow
def test_the_first_optimizer_imports_nothing_after_the_preload() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "0"


BLAS = """
from threadpoolctl import threadpool_info
import numpy
before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
from model.cache.process import one_blas_thread
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
    from model.cache.process import slots_from_env
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
        assert waited >= 0.25  # it did wait (a slow machine only waits longer)
    finally:
        for _ in taken:
            slots.release()
    # nothing was released that was not held: all slots free, none over
    assert [slots.acquire(timeout=0) for _ in range(cache.PAGE_SLOTS)] == [True] * cache.PAGE_SLOTS
    assert not slots.acquire(timeout=0)
    for _ in range(cache.PAGE_SLOTS):
        slots.release()


def test_a_teachers_page_does_not_queue_behind_the_class(monkeypatch) -> None:
    from ui import cache

    asked: list[float] = []
    real = cache._page_slots(cache.PAGE_SLOTS)

    class Recorder:
        """The process's slots, noting each wait for one (its timeout)."""

        def acquire(self, timeout: float) -> bool:
            asked.append(timeout)
            return real.acquire(timeout=timeout)

        def release(self) -> None:
            real.release()

    monkeypatch.setattr(cache, "_page_slots", lambda n: Recorder())
    monkeypatch.setattr(cache, "UNQUEUED", [lambda: True])
    with cache.page_slot():  # the teacher's: never asks for a slot
        pass
    assert asked == []
    monkeypatch.setattr(cache, "UNQUEUED", [lambda: 1 / 0])  # a failing check queues
    with cache.page_slot():
        pass
    assert asked == [cache.SLOT_WAIT_S]
    assert [real.acquire(timeout=0) for _ in range(cache.PAGE_SLOTS)] == [True] * cache.PAGE_SLOTS
    for _ in range(cache.PAGE_SLOTS):
        real.release()


def test_the_teacher_is_the_session_that_skips_the_queue() -> None:
    from ui import cache
    from ui.classroom import session
    assert session.teaching in cache.UNQUEUED


# ---------------------------------------------------------------------------------------------
# The warm-up before the first visitor (ui/warm.py) and the launcher's health check (ui/launch.py)
# ---------------------------------------------------------------------------------------------

def test_the_warm_up_imports_every_ui_module_but_the_page_scripts() -> None:
    from ui import warm
    names = warm.modules("ui")
    assert "ui.cache" in names and "ui.views.atlas" in names and "ui.classroom.session" in names
    assert not [n for n in names if n.startswith(("ui.pages", "ui.launch", "ui.warm"))]
    files = {str(p.relative_to(ROOT).with_suffix("")).replace("/", ".").removesuffix(".__init__")
             for p in (ROOT / "ui").rglob("*.py")}
    assert set(names) == {n for n in files if n != "ui" and not n.startswith(warm.SKIP)}
    model = warm.modules("model")
    assert "model.atlas" in model and "model.cache.lru" in model
    assert "model.make_shipped" not in model  # a script, not for a page


def test_a_failing_warm_up_step_is_logged_and_the_rest_still_run(monkeypatch) -> None:
    from ui import warm
    ran: list[str] = []

    def broken() -> None:
        raise OSError("no such file")

    monkeypatch.setattr(warm, "STEPS", [("first", lambda: ran.append("first")),
                                        ("broken", broken), ("last", lambda: ran.append("last"))])
    lines: list[str] = []
    took = warm.warm(lines.append)
    assert ran == ["first", "last"] and sorted(took) == ["first", "last"]
    assert lines[0] == "warm-up: broken failed (OSError: no such file); continuing"
    assert lines[-1].startswith("warm-up done in ")


WARM = """
import sys
from model.store import ModelRef, shipped_checkpoints
from ui import cache, warm
took = warm.warm(lambda line: None)
refs = [ModelRef.checkpoint(p) for p in shipped_checkpoints().values()]
kept = {key[0] for key in cache._forward_results().keys()}
print(sorted(took), all(r in kept for r in refs), {"torch", "captum", "ui.views.atlas",
      "plotly.graph_objects", "model.atlas"} <= set(sys.modules), cache.preload().is_alive())
"""


@pytest.mark.slow
def test_the_warm_up_loads_the_torch_side_and_every_shipped_checkpoint() -> None:
    env = {"PYTHONPATH": str(ROOT), "PATH": "", "HOME": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", WARM], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[-2] == \
        "['charts', 'imports', 'methods', 'models', 'runtime'] True True False"


GATE = """
import asyncio, threading, time
from streamlit.runtime.runtime import Runtime, RuntimeState
from ui.launch import gate_health
ready = threading.Event()
print(gate_health(ready, limit_s=600))
class Server:
    _state = RuntimeState.NO_SESSIONS_CONNECTED
def check():
    return asyncio.run(Runtime.is_ready_for_browser_connection.fget(Server()))
print(check())
ready.set()
print(check())
Server._state = RuntimeState.STOPPING
print(check())
"""


def test_the_launchers_health_check_waits_for_the_warm_up() -> None:
    out = subprocess.run([sys.executable, "-c", GATE], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[-5:-1] == [
        "True", "(False, 'warming up')", "(True, 'ok')", "(False, 'unavailable')"]


@pytest.mark.slow
def test_a_launched_server_reports_ready_only_when_warm(tmp_path) -> None:
    import time
    import urllib.error
    import urllib.request

    from bench.server import free_port, start_server, stop
    port, log = free_port(), tmp_path / "server.log"
    proc = start_server(port, {"CNN_LENS_RUNS_DIR": str(tmp_path / "runs"), "CNN_LENS_WARM": "1"},
                        log=log, start="launcher")
    seen: list[int] = []
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and 200 not in seen:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                            timeout=2) as r:
                    seen.append(r.status)
                    warm_logged = "warm-up done" in log.read_text()
            except urllib.error.HTTPError as exc:
                seen.append(exc.code)
            except OSError:
                time.sleep(0.1)
    finally:
        stop(proc)
    assert seen and seen[-1] == 200 and set(seen) <= {200, 503}
    assert warm_logged, log.read_text()[-2000:]


def test_the_warm_up_can_be_turned_off() -> None:
    """CNN_LENS_WARM=0 (the suite's app processes): ready at once, nothing loaded."""
    code = ("import sys; from ui import warm; lines = []; t = warm.start(lines.append); "
            "t.join(30); print(warm.WARM.is_set(), 'torch' in sys.modules, lines)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "CNN_LENS_WARM": "0"}, timeout=120)
    assert out.stdout.strip() == ("True False ['warm-up off (CNN_LENS_WARM=0): the first "
                                  "visitors pay for it']"), out.stderr


# Three threads parse while a fourth makes garbage whose finalizers run Python: the collector
# then switches threads mid-tree. On Python 3.11.0-3.11.7 and 3.12.0-3.12.1 this fails about
# once per run without the lock ("AST constructor recursion depth mismatch").
TREES = """
import ast, gc, sys, threading
from model.cache.process import serialize_ast_parse
serialize_ast_parse()
source = open(ast.__file__).read()
gc.set_threshold(50, 2, 2)
sys.setswitchinterval(1e-5)

class Garbage:
    def __del__(self):
        sum(range(50))

def churn():
    for _ in range(50_000):
        a, b = Garbage(), Garbage()
        a.other, b.other = b, a

errors = []
def parse():
    for _ in range(15):
        try:
            ast.parse(source)
        except SystemError as exc:
            errors.append(str(exc))

threads = [threading.Thread(target=parse) for _ in range(3)] + [threading.Thread(target=churn)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(len(errors), errors[:1])
"""


@pytest.mark.slow
def test_threads_building_python_trees_at_once_all_succeed() -> None:
    out = subprocess.run([sys.executable, "-c", TREES], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[0] == "0", out.stdout


def test_the_serialized_parse_lets_one_thread_in_at_a_time() -> None:
    import threading
    import time
    import types

    from model.cache.process import serialize_ast_parse

    inside: list[int] = []  # the threads in parse now
    most = [0]
    count = threading.Lock()

    def parse(text: str) -> str:
        with count:
            inside.append(threading.get_ident())
            most[0] = max(most[0], len(set(inside)))
        time.sleep(0.02)
        if text == "outer":
            assert fake.parse("inner") == "tree of inner"  # a finalizer parsing: no deadlock
        with count:
            inside.remove(threading.get_ident())
        return f"tree of {text}"

    fake = types.SimpleNamespace(parse=parse)
    assert serialize_ast_parse(fake, needed=False) is False and fake.parse is parse
    assert serialize_ast_parse(fake, needed=True) is True
    wrapped = fake.parse
    assert serialize_ast_parse(fake, needed=True) is True and fake.parse is wrapped  # once
    got: list[str] = []
    threads = [threading.Thread(target=lambda i=i: got.append(fake.parse(f"t{i}")))
               for i in range(4)] + [threading.Thread(target=lambda: got.append(fake.parse("outer")))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1
    assert sorted(got) == sorted([f"tree of t{i}" for i in range(4)] + ["tree of outer"])
