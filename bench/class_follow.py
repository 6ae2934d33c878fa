"""A class following its teacher on one server: followers' delay, idle cost and gallery sends.

    python bench/class_follow.py [--followers 30] [--rounds 2] [--idle 20] [--processes 1]
                                 [--out bench/results/class_follow]

What it measures, step by step: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import random
import re
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402

from bench.classroom_load import cpu_seconds, load_average, percentile  # noqa: E402
from bench.server import ROOT, free_port, start_server, stop, wait_http  # noqa: E402
from bench.st_client import Session, choose, component_state, segment  # noqa: E402

MAX_FOLLOWERS = 40
MAX_ROUNDS = 4
MAX_IDLE_S = 60.0
TARGET_S = 1.0
CODE = re.compile(r"data-testid='class-code'[^>]*>([A-Z0-9]{6})<")


def params(session: Session) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(session.query).items()}


class Follower:
    """One student's tab: polls on the fragment's timer; notes when each change arrived."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.arrived: list[tuple[float, dict[str, str]]] = []  # (perf_counter, params)
        self.started: list[float] = []  # when the tick that brought each arrival was sent
        self.ticks = 0
        self.errors: list[str] = []

    async def poll(self, stop_at: asyncio.Event, phase: float = 0.0) -> None:
        """The browser's timers: one ``setInterval`` per timed fragment, from when it first
        appeared (a fixed schedule that a full run does not restart: ``phase`` of 10 s in). A
        tick that falls due while another request runs is sent when that one ends (the
        server queues it), several missed ones of a timer as one (the server folds them)."""
        s = self.session
        t0 = time.perf_counter() - phase * 10.0
        next_due: dict[str, float] = {}
        while not stop_at.is_set():
            timers = dict(s.auto_reruns)
            if not timers:
                await asyncio.sleep(0.5)
                continue
            now = time.perf_counter()
            for fid, every in timers.items():  # a new timer starts on its schedule
                next_due.setdefault(fid, now + every - (now - t0) % every)
            fid = min(timers, key=lambda f: next_due[f])
            await asyncio.sleep(max(0.0, next_due[fid] - time.perf_counter()))
            if stop_at.is_set():
                break
            now = time.perf_counter()
            every = timers[fid]
            next_due[fid] = now + every - (now - t0) % every  # the next on the schedule
            before = dict(params(s))
            sent = time.perf_counter()
            reply = await s.tick(fid)
            self.ticks += 1
            self.errors += reply.errors
            now = params(s)
            if now != before:
                self.arrived.append((time.perf_counter(), now))
                self.started.append(sent)


def png_of_seven() -> str:
    """The drawing pad's picture of a 7 (240x240 RGBA, dark ink on white) as a data URL."""
    from PIL import Image, ImageDraw
    im = Image.new("RGBA", (240, 240), (255, 255, 255, 255))
    ImageDraw.Draw(im).line([(50, 40), (190, 40), (150, 110), (110, 200)], fill=(0, 0, 0, 255),
                            width=16)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


async def teacher_change(teacher: Session, kind: str, value: str) -> None:
    if kind == "view":
        w = teacher.widget("button_group")
        reply = await teacher.set(w, segment(w, value))
    elif kind == "layer":
        w = teacher.widget("selectbox", "Layer")
        option = next(o for o in w.options  # "conv2  ·  32x28x28  ·  layer 5 of 42"
                      if value in o.replace(".", " ").split()[:2])
        reply = await teacher.set(w, choose(w, option))
    elif kind == "channel":
        w = teacher.widget("selectbox", "Channel")
        reply = await teacher.set(w, choose(w, value))
    else:
        w = teacher.widget("radio", "Method")
        reply = await teacher.set(w, choose(w, value))
    if reply.errors:
        raise RuntimeError(f"the teacher's {kind} change failed: {reply.errors[:2]}")


async def follow_phase(teacher: Session, followers: list[Follower], rounds: int,
                       folder: Path, code: str) -> dict:
    changes = []
    for r in range(rounds):
        layers = ("conv2", "relu3") if r % 2 == 0 else ("relu2", "conv3")
        changes += [("view", "Receptive field", "view", "field"),
                    ("layer", layers[0], "layer", layers[0]),
                    ("channel", "next", "unit", None),
                    ("view", "Saliency", "view", "saliency"),
                    ("method", ["ig", "gradcam", "deeplift", "smoothgrad"][r], "method", None),
                    ("layer", layers[1], "layer", layers[1])]
    delays: dict[str, list[float]] = {}
    teacher_runs: list[float] = []
    publishes: list[float] = []
    waits: list[float] = []
    runs: list[float] = []
    missed = 0
    for kind, value, param, expect in changes:
        if kind == "method":
            w = teacher.widget("radio", "Method")
            value = next(o for o in w.options if o.lower().replace(" ", "").startswith(
                {"ig": "integrated", "gradcam": "grad-cam", "deeplift": "deeplift",
                 "smoothgrad": "smoothgrad"}[value]))
        if kind == "channel":  # the next channel: always a change
            w = teacher.widget("selectbox", "Channel")
            now = w.state.string_value if w.state is not None else w.options[0]
            value = w.options[(w.options.index(now) + 1) % len(w.options)]
        before = params(teacher).get(param)
        marks = [len(f.arrived) for f in followers]
        t0 = time.perf_counter()
        await teacher_change(teacher, kind, value)
        done = time.perf_counter()  # the teacher's run (which published) has finished
        teacher_runs.append(done - t0)
        with sqlite3.connect(folder / "classes.sqlite") as db:  # when it published (wall clock)
            touched = db.execute("SELECT touched FROM classes WHERE code = ?",
                                 (code,)).fetchone()[0]
        published = done - (time.time() - touched)
        publishes.append(published - t0)
        want = params(teacher).get(param)
        if (expect is not None and want != expect) or want == before:
            raise RuntimeError(f"the teacher's {param} is {want} (was {before}), not "
                               f"{expect or 'another'}")
        deadline = t0 + 15.0
        got: list[float | None] = [None] * len(followers)
        while time.perf_counter() < deadline and any(g is None for g in got):
            for i, f in enumerate(followers):
                if got[i] is None:
                    hit = next((j for j, (_, p) in enumerate(f.arrived[marks[i]:], marks[i])
                                if p.get(param) == want), None)
                    if hit is not None:
                        got[i] = f.arrived[hit][0] - t0
                        # the follower's tick that brought it: sent how long after the teacher's
                        # run finished (the poll's wait), and how long it took (its run)
                        waits.append(f.started[hit] - published)
                        runs.append(f.arrived[hit][0] - f.started[hit])
            await asyncio.sleep(0.02)
        missed += sum(g is None for g in got)
        delays.setdefault(kind, []).extend(g for g in got if g is not None)
        await asyncio.sleep(1.0)
    every = [d for v in delays.values() for d in v]
    return {"changes": len(changes), "missed": missed,
            "all": summary(every),
            "by kind": {k: summary(v) for k, v in delays.items()},
            "parts": {"teacher's run": summary(teacher_runs),
                      "teacher's publish": summary(publishes),
                      "poll wait (after the publish)": summary(waits),
                      "follower's run": summary(runs)}}


def summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50_s": round(percentile(values, 50), 3),
            "p95_s": round(percentile(values, 95), 3), "max_s": round(max(values), 3)}


async def send_phase(port: int, followers: list[Follower], runs: Path, code: str) -> dict:
    png = png_of_seven()

    async def ready(f: Follower) -> None:
        s = f.session
        w = s.widget("radio", "Digit from")
        await s.set(w, choose(w, "Draw"))
        view = s.widget("button_group", "View")
        await s.set(view, segment(view, "Feature maps"))  # the pad is in the lens
        lens = s.widget("bidi_component")
        await s.set(lens, component_state(lens, {"drawing": {"png": png}}))
        meant = s.widget("selectbox", "It is a")
        await s.set(meant, choose(meant, "7"))

    # Get every follower ready a few at a time (this is not what is measured).
    for i in range(0, len(followers), 5):
        await asyncio.gather(*(ready(f) for f in followers[i:i + 5]))

    async def press(f: Follower) -> tuple[float, bool, list[str]]:
        s = f.session
        button = s.widget("button", "Send to the class")
        reply = await s.set(button, WidgetState(id=button.id, trigger_value=True))
        return reply.seconds, reply.finished and not reply.errors, reply.errors

    results = await asyncio.gather(*(press(f) for f in followers))
    with sqlite3.connect(runs / "classes.sqlite") as db:
        stored = db.execute("SELECT COUNT(*) FROM digits WHERE code = ?", (code,)).fetchone()[0]
    return {"sends": summary([r[0] for r in results]),
            "confirmed": sum(r[1] for r in results), "stored": stored,
            "errors": [e for r in results for e in r[2]][:5]}


def cpu_of(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


async def idle_cpu(pids: list[int], seconds: float) -> float:
    c0, t0 = cpu_of(pids), time.perf_counter()
    await asyncio.sleep(seconds)
    return (cpu_of(pids) - c0) / (time.perf_counter() - t0)


async def start_teaching(port: int, view: str, request_timeout: float = 60.0
                         ) -> tuple[Session, str]:
    """A teacher: starts a class (``?class=new``), goes to Explore and its ``view``; returns the
    session and the class code."""
    teacher = Session(port, "class=new", request_timeout)
    reply = await teacher.open()
    match = CODE.search(" ".join(reply.texts))
    if not match:
        raise RuntimeError(f"no class code on the teacher's page: {reply.errors[:2]}")
    cs = teacher._client_state()
    cs.page_script_hash = teacher.pages[""]  # the teacher goes to Explore
    cs.query_string = ""
    await teacher._rerun(cs, time.perf_counter())
    await teacher.set(w := teacher.widget("button_group"), segment(w, view))
    return teacher, match.group(1)


async def run_all(ports: list[int], pids: list[int], n: int, rounds: int, idle: float,
                  runs: Path) -> dict:
    port = ports[0]  # the teacher's app process; followers take the processes in turn
    teacher, code = await start_teaching(port, "Feature maps")
    result: dict = {"code": code}
    teacher_stop, stop_at = asyncio.Event(), asyncio.Event()
    # The teacher's status line's timer (stopped before the teacher acts: one socket, one
    # request at a time).
    teacher_poll = asyncio.create_task(Follower(teacher).poll(teacher_stop))
    await asyncio.sleep(10.0)  # the server's start-up work (imports in the background) ends
    result["idle teacher alone (CPU s/s)"] = round(await idle_cpu(pids, idle), 4)

    followers = []
    for i in range(0, n, 5):  # join a few at a time (joining is not what is measured)
        sessions = [Session(ports[(i + j) % len(ports)], f"class={code}")
                    for j in range(min(5, n - i))]
        await asyncio.gather(*(s.open() for s in sessions))
        followers += [Follower(s) for s in sessions]
    phases = random.Random(20).random  # the students' tabs opened at different moments
    pollers = [asyncio.create_task(f.poll(stop_at, phases())) for f in followers]
    await asyncio.sleep(3.0)
    per_s = await idle_cpu(pids, idle)
    result["idle with followers (CPU s/s)"] = round(per_s, 4)
    result["idle per follower (CPU s/s)"] = round(
        (per_s - result["idle teacher alone (CPU s/s)"]) / n, 5)
    teacher_stop.set()
    await teacher_poll
    ticks0 = sum(f.ticks for f in followers)
    c0, own0, t0 = cpu_of(pids), time.process_time(), time.perf_counter()
    result["follow"] = await follow_phase(teacher, followers, rounds, runs, code)
    wall = time.perf_counter() - t0
    result["follow CPU (s/s)"] = {"server": round((cpu_of(pids) - c0) / wall, 3),
                                  "this client": round((time.process_time() - own0) / wall, 3)}
    result["polls during follow"] = sum(f.ticks for f in followers) - ticks0
    stop_at.set()
    await asyncio.gather(*pollers)
    with sqlite3.connect(runs / "classes.sqlite") as db:  # the teacher's publishes so far
        result["versions published"] = db.execute("SELECT version FROM classes WHERE code = ?",
                                                  (code,)).fetchone()[0]
    result["send"] = await send_phase(port, followers, runs, code)
    result["poll errors"] = [e for f in followers for e in f.errors][:5]
    for s in [teacher] + [f.session for f in followers]:
        await s.close()
    return result


def table(result: dict) -> str:
    f, s = result["follow"], result["send"]
    lines = [f"followers: {result['followers']}, app processes: {result.get('processes', 1)}, "
             f"load average before/after: "
             f"{result['load before']} / {result['load after']}",
             f"{'what':<34}{'n':>5}{'p50 s':>8}{'p95 s':>8}{'max s':>8}"]
    rows = [("follow: all changes", f["all"])] + [(f"follow: {k}", v)
                                                 for k, v in f["by kind"].items()]
    rows += [(f"  part: {k}", v) for k, v in f.get("parts", {}).items()]
    rows.append(("send: 30 at once" if result["followers"] == 30 else "send: all at once",
                 s["sends"]))
    for name, v in rows:
        lines.append(f"{name:<34}{v.get('n', 0):>5}{v.get('p50_s', '-'):>8}"
                     f"{v.get('p95_s', '-'):>8}{v.get('max_s', '-'):>8}")
    lines.append(f"changes: {f['changes']}; versions the teacher published (from the start): "
                 f"{result.get('versions published')}")
    lines.append(f"missed follows: {f['missed']}; sends finished without error "
                 f"{s['confirmed']}, digits stored "
                 f"{s['stored']}")
    if "follow CPU (s/s)" in result:
        lines.append(f"CPU while following (s/s): {result['follow CPU (s/s)']}")
    lines.append(f"server CPU idle: teacher alone {result['idle teacher alone (CPU s/s)']} s/s; "
                 f"with followers {result['idle with followers (CPU s/s)']} s/s; per follower "
                 f"{result['idle per follower (CPU s/s)']} s/s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--followers", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--idle", type=float, default=20.0)
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--processes", type=int, default=1, choices=(1, 2),
                    help="app processes sharing the class (its SQLite file), as behind deploy/")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "class_follow"))
    a = ap.parse_args(argv)
    if not 1 <= a.followers <= MAX_FOLLOWERS or not 1 <= a.rounds <= MAX_ROUNDS \
            or not 1 <= a.idle <= MAX_IDLE_S:
        raise SystemExit(f"--followers 1..{MAX_FOLLOWERS}, --rounds 1..{MAX_ROUNDS}, --idle "
                         f"1..{MAX_IDLE_S:.0f}")
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        ports = [free_port() for _ in range(a.processes)]
        procs = [start_server(port, {"CNN_LENS_RUNS_DIR": str(runs)},  # one class database
                              log=runs / f"server{i}.log") for i, port in enumerate(ports)]
        try:
            for port in ports:
                wait_http(port)
            before = load_average()
            result = asyncio.run(asyncio.wait_for(
                run_all(ports, [p.pid for p in procs], a.followers, a.rounds, a.idle, runs),
                a.timeout))
        finally:
            for proc in procs:
                stop(proc)
        result.update(followers=a.followers, processes=a.processes, rounds=a.rounds,
                      idle_s=a.idle,
                      cpus=os.cpu_count(), **{"load before": before, "load after":
                                               load_average()})
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    text = table(result)
    out.with_suffix(".txt").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
