"""A classroom on one server: N sessions open shared links at once, then interact.

    python bench/classroom_load.py [--sessions 1 10 30] [--think 1.0] [--profile]
                                   [--out bench/results/classroom_load]

What it measures, step by step: docs/benchmarks.md.

Targets (not asserted): 30 simultaneous link opens p95 <= 2 s; interactions with 30
active sessions p95 <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server import ROOT, free_port, start_server, stop, wait_http  # noqa: E402
from bench.st_client import Reply, Session, choose, component_state, segment  # noqa: E402

MAX_SESSIONS = 40
MAX_REQUESTS = 400
MODELS = ("seed", "compact", "seed-3x3", "fast")
# Saliency methods a session switches to (radio labels), one per session in turn; Saliency is the
# default, so it is never a change.
METHODS = {"Integrated Gradients": "ig", "DeepLift": "deeplift", "Grad-CAM": "gradcam",
           "SmoothGrad": "smoothgrad", "Guided Backprop": "guided", "Occlusion": "occlusion"}
KINDS = ("link open", "layer change", "unit pick", "view change", "method change")
INTERACTIONS = KINDS[1:]
TARGETS_S = {"link open": 2.0, "interaction": 1.0}
N_SAMPLES = 200
SHAPES: dict[str, dict[str, tuple[int, int, int]]] = {}  # filled by run(): see layer_shapes()
WARMUP_DIGITS = range(N_SAMPLES - len(MODELS), N_SAMPLES)  # the last few, never used later


# ---------------------------------------------------------------------------------------------
# What each session opens and does
# ---------------------------------------------------------------------------------------------

def layer_shapes() -> dict[str, dict[str, tuple[int, int, int]]]:
    """{model: {layer: (C, H, W)}} of the shipped checkpoints' spatial conv/ReLU/pool layers."""
    import numpy as np

    from viz.network import npforward
    shapes = {}
    for name in MODELS:
        net = npforward.load(str(ROOT / "checkpoints" / f"{name}.safetensors"))
        acts = npforward.forward(net, np.zeros((28, 28), np.uint8))
        shapes[name] = {k: tuple(a.shape) for k, a in acts.items()
                        if a.ndim == 3 and a.shape[1] > 1 and k.startswith(("conv", "relu",
                                                                              "pool"))}
    return shapes


@dataclass
class Plan:
    """One student's link and clicks."""

    model: str
    digit: int  # 0-based sample index (the link says sample:K with K 0-based as the app does)
    layer: str
    unit: tuple[int, int, int]
    layer2: str
    pick: tuple[int, int]
    method: str  # radio label

    def link(self) -> str:
        c, y, x = self.unit
        return (f"model={self.model}&input=sample:{self.digit}&layer={self.layer}&view=field"
                f"&unit={c},{y},{x}")


def plan(i: int, digit: int, shapes) -> Plan:
    model = MODELS[i % len(MODELS)]
    layers = list(shapes[model])
    layer = layers[(3 * i + 2) % len(layers)]
    layer2 = layers[(3 * i + 2 + len(layers) // 2) % len(layers)]
    c, h, w = shapes[model][layer]
    _, h2, w2 = shapes[model][layer2]
    methods = list(METHODS)
    return Plan(model, digit, layer, (i % c, (3 * i + 1) % h, (5 * i + 2) % w), layer2,
                ((7 * i + 3) % h2, (2 * i + 5) % w2), methods[i % len(methods)])


# ---------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------

@dataclass
class Request:
    kind: str
    session: int
    seconds: float
    finished: bool
    verified: bool  # the page shows what was asked (layer, unit, view, method)
    bytes: int
    messages: int
    references: int
    errors: list[str]
    warnings: list[str]


class Budget:
    """The hard cap on requests for the whole run."""

    def __init__(self, limit: int = MAX_REQUESTS) -> None:
        self.limit, self.used = limit, 0

    def take(self) -> None:
        self.used += 1
        if self.used > self.limit:
            raise RuntimeError(f"more than {self.limit} requests: the benchmark is bounded")


def _record(kind: str, i: int, reply: Reply, verified: bool) -> Request:
    return Request(kind, i, reply.seconds, reply.finished, verified and reply.finished,
                   reply.bytes, reply.messages, reply.references, reply.errors, reply.warnings)


def _failed(kind: str, i: int, exc: Exception) -> Request:
    return Request(kind, i, float("nan"), False, False, 0, 0, 0,
                   [f"{type(exc).__name__}: {exc}"], [])


async def open_link(session: Session, i: int, p: Plan, budget: Budget) -> Request:
    budget.take()
    try:
        reply = await session.open()
    except Exception as exc:  # noqa: BLE001 - a failed request is a result, not a crash
        return _failed("link open", i, exc)
    return _record("link open", i, reply, f"layer={p.layer}" in session.query)


async def interact(session: Session, i: int, p: Plan, budget: Budget, think: float,
                   rng: random.Random, kinds=INTERACTIONS) -> list[Request]:
    """The session's clicks, in order; a click that cannot be made ends the sequence."""
    out = []
    for kind in kinds:
        if think > 0:
            await asyncio.sleep(rng.uniform(0, think))
        budget.take()
        try:
            if kind == "layer change":
                w = session.widget("selectbox", "Layer")
                option = next(o for o in w.options
                              if o.split()[0] == p.layer2)
                reply = await session.set(w, choose(w, option))
                ok = f"layer={p.layer2}" in session.query
            elif kind == "unit pick":
                w = session.widget("bidi_component", "cnn_unitfield")
                y, x = p.pick
                channel = session.widget("selectbox", "Channel")
                c = int(channel.state.string_value) if channel.state is not None else 0
                reply = await session.set(w, component_state(
                    w, {"unit": {"layer": p.layer2, "c": c, "y": y, "x": x}}))
                ok = any(f"row {y}, col {x}) of {p.layer2}" in t for t in reply.texts)
            elif kind == "view change":
                w = session.widget("button_group", "View")
                reply = await session.set(w, segment(w, "Saliency"))
                ok = "view=saliency" in session.query
            else:
                w = session.widget("radio", "Method")
                reply = await session.set(w, choose(w, p.method))
                ok = f"method={METHODS[p.method]}" in session.query
        except Exception as exc:  # noqa: BLE001
            out.append(_failed(kind, i, exc))
            break
        out.append(_record(kind, i, reply, ok))
    return out



async def phase(port: int, plans: list[Plan], budget: Budget, think: float, seed: int,
                profiler: Profiler | None, request_timeout: float) -> list[Request]:
    """N sessions open their links at once; then, all open, each clicks through."""
    sessions = [Session(port, p.link(), request_timeout) for p in plans]
    try:
        if profiler:
            profiler.start("link open")
        opens = await asyncio.gather(*(open_link(s, i, p, budget)
                                       for i, (s, p) in enumerate(zip(sessions, plans))))
        if profiler:
            profiler.stop()
            profiler.start("interaction")
        rngs = [random.Random(seed * 1000 + i) for i in range(len(plans))]
        clicks = await asyncio.gather(*(interact(s, i, p, budget, think, rngs[i])
                                        for i, (s, p) in enumerate(zip(sessions, plans))
                                        if opens[i].finished))
        if profiler:
            profiler.stop()
    finally:
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
    return list(opens) + [r for rs in clicks for r in rs]


# ---------------------------------------------------------------------------------------------
# Server CPU time and profile
# ---------------------------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


class Profiler:
    """py-spy attached to the server, one recording per part (link opens, interactions).

    Two samplers run side by side. ``gil``: the thread holding the GIL. Every session's script
    runs in a thread of one process, so the GIL is what they queue for, and these samples add up
    to the serial time each request costs (torch kernels release the GIL, so their arithmetic
    shows less here). ``running``: every thread that is not idle, closer to CPU time, but under
    contention it also counts threads that are ready and waiting for the GIL or a core.
    """

    MODES = {"gil": ["--gil"], "running": []}

    def __init__(self, pid: int, folder: Path, rate: int = 100) -> None:
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(exe).exists():
            raise ValueError("--profile needs py-spy: pip install py-spy (into this venv)")
        self.exe, self.pid, self.folder, self.rate = exe, pid, folder, rate
        self.procs: list[subprocess.Popen] = []
        self.files: dict[tuple[str, str], Path] = {}  # (part, mode) -> raw stacks

    def start(self, name: str) -> None:
        for mode, flags in self.MODES.items():
            path = self.folder / f"{name.replace(' ', '_')}_{mode}.txt"
            self.files[(name, mode)] = path
            self.procs.append(subprocess.Popen(
                [self.exe, "record", "--pid", str(self.pid), "--rate", str(self.rate),
                 "--nonblocking", *flags, "--full-filenames", "--format", "raw", "--output",
                 str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(1.0)  # let them attach before the requests start

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.procs = []


# Leaf frames of threads that wait rather than work (py-spy's idle detection misses some of them
# when it does not pause the process): reported apart, not counted as work.
WAITS = ("EpollSelector.select (", "PollingPathWatcher._schedule.<locals>.task (",
         "_read_from_self (", "Condition.wait (", "_worker (")
# Where a sample's time goes: the first category whose pattern is in any frame of the stack, in
# this order (so a torch op under Captum counts as Captum). A pattern ending in "!" must be the
# stack's leaf.
CATEGORIES = [
    ("gc.collect(2) after every run (runner.postScriptGC)",
     ("ScriptRunner._on_script_finished (!",)),
    ("imports (first use of a module)", ("<frozen importlib",)),
    ("Captum attribution (autograd, hooks)", ("/captum/",)),
    ("torch (forward, effective field, model copies)", ("/torch/",)),
    ("plotly figure to JSON (st.plotly_chart)", ("streamlit/elements/plotly_chart.py",)),
    ("plotly figure building (viz/pictures/figures.py, plotly)", ("/plotly/", "/_plotly_utils/",
                                                         "viz/pictures/figures.py", "_vector_bars")),
    ("PNG encoding (st.image, viz/pictures/raster.py, PIL)", ("/PIL/", "viz/pictures/raster.py",
                                                     "streamlit/elements/lib/image_utils.py",
                                                     "streamlit/elements/image.py")),
    ("dataframe (pandas styling, Arrow)", ("/pandas/", "/pyarrow/",
                                           "streamlit/elements/arrow.py")),
    ("st.cache_* (hashing arguments, copying results)", ("streamlit/runtime/caching/",)),
    ("numpy forward pass (viz/network/npforward.py)", ("viz/network/npforward.py",)),
    ("protobuf and transport (serialise, websocket)", ("/google/protobuf/", "/starlette/",
                                                       "/uvicorn/", "/websockets/", "/anyio/",
                                                       "forward_msg", "runtime_util.py")),
    ("widgets and session state", ("streamlit/runtime/state/", "streamlit/elements/widgets/",
                                   "streamlit/elements/lib/policies.py")),
    ("Streamlit script runner and other elements", ("/streamlit/",)),
    ("app code (viz, model, ui)", (f"{ROOT}/",)),
]


def _category(frames: list[str]) -> str:
    joined = ";".join(frames)
    leaf = frames[-1] if frames else ""
    for name, patterns in CATEGORIES:
        for p in patterns:
            if (leaf.startswith(p[:-1]) if p.endswith("!") else p in joined):
                return name
    return "other (interpreter, threads)"


def _frames(stack: str) -> list[str]:
    return [f for f in stack.split(";") if f]


def _func(frame: str) -> str:
    """'name (path/to/file.py:123)' -> 'name (file path shortened)'; line dropped."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", f"{ROOT}/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def summarise(raw: Path, requests: int, rate: int, top: int = 20) -> str:
    """Categories, project functions (inclusive) and leaf functions (self) of one recording."""
    stacks: list[tuple[list[str], int]] = []
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((_frames(stack), int(count)))
    waits = sum(c for f, c in stacks if f and f[-1].startswith(WAITS))
    stacks = [(f, c) for f, c in stacks if f and not f[-1].startswith(WAITS)]
    by_cat: dict[str, dict[str, int]] = {}
    total = sum(c for _, c in stacks) or 1
    cats: dict[str, int] = {}
    incl: dict[str, int] = {}
    leaf: dict[str, int] = {}
    for frames, count in stacks:
        cat = _category(frames)
        cats[cat] = cats.get(cat, 0) + count
        for fn in {_func(f) for f in frames if f"{ROOT}/" in f}:
            incl[fn] = incl.get(fn, 0) + count
        fn = _func(frames[-1])
        leaf[fn] = leaf.get(fn, 0) + count
        by_cat.setdefault(cat, {})
        by_cat[cat][fn] = by_cat[cat].get(fn, 0) + count
    per = 1.0 / rate / max(1, requests)
    lines = [f"{total} samples at {rate} Hz = {total / rate:.1f} s "
             f"({total / rate / max(1, requests) * 1000:.0f} ms per request, {requests} requests); "
             f"{waits} more samples of threads waiting (event loop, file watcher) left out",
             "", "Where the time goes (first matching category per sample):",
             f"  {'share':>6}  {'ms/request':>10}  category"]
    for name, count in sorted(cats.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {count / total:6.1%}  {count * per * 1000:10.1f}  {name}")
        for fn, c in sorted(by_cat[name].items(), key=lambda kv: -kv[1])[:3]:
            if c / total >= 0.005:
                lines.append(f"  {'':6}  {c * per * 1000:10.1f}      {fn}")
    lines += ["", f"Project functions, inclusive (top {top}):",
              f"  {'share':>6}  {'ms/request':>10}  function"]
    for fn, count in sorted(incl.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {count / total:6.1%}  {count * per * 1000:10.1f}  {fn}")
    lines += ["", f"Leaf functions, self time (top {top}):",
              f"  {'share':>6}  {'ms/request':>10}  function"]
    for fn, count in sorted(leaf.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {count / total:6.1%}  {count * per * 1000:10.1f}  {fn}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Statistics and report
# ---------------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (q in 0..100); nan for no values."""
    v = sorted(x for x in values if x == x)
    if not v:
        return float("nan")
    k = (len(v) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def stats(requests: list[Request]) -> dict[str, dict]:
    out = {}
    groups = {k: [r for r in requests if r.kind == k] for k in KINDS}
    groups["interaction"] = [r for r in requests if r.kind in INTERACTIONS]
    for kind, rs in groups.items():
        if not rs:
            continue
        ok = [r.seconds for r in rs if r.finished]
        out[kind] = {"count": len(rs), "finished": len(ok),
                     "verified": sum(r.verified for r in rs),
                     "errors": sum(bool(r.errors) for r in rs),
                     "p50_s": percentile(ok, 50), "p95_s": percentile(ok, 95),
                     "max_s": max(ok) if ok else float("nan"),
                     "kb_median": percentile([r.bytes / 1024 for r in rs], 50)}
    return out


def table(result: dict) -> str:
    meta = result["meta"]
    lines = [
        "A classroom on one server: N sessions speak Streamlit's websocket protocol to one "
        "`streamlit run app.py` on 127.0.0.1 (no browser).",
        f"{meta['date']} · commit {meta['commit']} · {meta['cpus']} CPUs · streamlit "
        f"{meta['streamlit']} · think time up to {meta['think_s']} s before each click"
        + (f" · server env {meta['server_env']}" if meta.get("server_env") else ""),
        f"uptime before: {meta['uptime_before']}",
        f"uptime after:  {meta['uptime_after']}",
        "",
        f"{'N':>3}  {'request':<14} {'count':>5} {'ok':>4} {'p50 s':>7} {'p95 s':>7} "
        f"{'max s':>7} {'KB':>6}  load avg (1 min) before/after",
    ]
    for ph in result["phases"]:
        first = True
        for kind, s in ph["stats"].items():
            load = (f"{ph['load_before'][0]:.2f} / {ph['load_after'][0]:.2f}" if first else "")
            lines.append(f"{ph['n'] if first else '':>3}  {kind:<14} {s['count']:>5} "
                         f"{s['verified']:>4} {s['p50_s']:7.2f} {s['p95_s']:7.2f} "
                         f"{s['max_s']:7.2f} {s['kb_median']:6.0f}  {load}")
            first = False
        lines.append(f"{'':>3}  server CPU {ph['server_cpu_s']:.1f} s in {ph['wall_s']:.1f} s "
                     f"wall ({ph['server_cpu_s'] / max(1, len(ph['requests'])) * 1000:.0f} ms per "
                     f"request)")
    if result.get("warmup"):
        w = result["warmup"]
        lines += ["", "Warm-up (one session per model in turn, imports and model loading): "
                      + ", ".join(f"{k} p50 {s['p50_s']:.2f} s" for k, s in w["stats"].items()
                                  if k in KINDS)]
    lines += ["", "ok = finished and the page shows what was asked; KB = median bytes received.",
              "Targets (not asserted): 30 link opens p95 <= 2 s; interactions with 30 active "
              "sessions p95 <= 1 s."]
    for ph in result["phases"]:
        if ph["n"] == 30:
            lo, it = ph["stats"].get("link open", {}), ph["stats"].get("interaction", {})
            lines.append(f"N=30: link open p95 {lo.get('p95_s', float('nan')):.2f} s "
                         f"({'met' if lo.get('p95_s', 99) <= 2 else 'not met'}); interaction "
                         f"p95 {it.get('p95_s', float('nan')):.2f} s "
                         f"({'met' if it.get('p95_s', 99) <= 1 else 'not met'}).")
    errors = [e for ph in result["phases"] for r in ph["requests"] for e in r["errors"]]
    if errors:
        lines += ["", f"{len(errors)} errors, e.g.: " + "; ".join(sorted(set(errors))[:5])]
    return "\n".join(lines)


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"load average: {', '.join(map(str, load_average()))}"


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------

async def run_all(port: int, pid: int, sizes: list[int], think: float, warmup: bool,
                  profiler: Profiler | None, request_timeout: float, result: dict) -> None:
    budget = Budget()
    if warmup:  # one session per model, one after another: imports, model loads, first runs
        reqs: list[Request] = []
        for i, digit in enumerate(WARMUP_DIGITS):
            reqs += await phase(port, [plan(i, digit, SHAPES)], budget, 0.0, seed=99,
                                profiler=None, request_timeout=request_timeout)
        result["warmup"] = {"stats": stats(reqs), "requests": [asdict(r) for r in reqs]}
    next_digit = 0
    for n in sizes:
        plans = [plan(i, next_digit + i, SHAPES) for i in range(n)]
        next_digit += n
        load_before, cpu0, t0 = load_average(), cpu_seconds(pid), time.perf_counter()
        reqs = await phase(port, plans, budget, think, seed=n,
                           profiler=profiler if n == max(sizes) else None,
                           request_timeout=request_timeout)
        result["phases"].append({
            "n": n, "links": [p.link() for p in plans], "stats": stats(reqs),
            "load_before": load_before, "load_after": load_average(),
            "server_cpu_s": cpu_seconds(pid) - cpu0, "wall_s": time.perf_counter() - t0,
            "requests": [asdict(r) for r in reqs]})


def run(sizes: list[int], think: float = 1.0, warmup: bool = True, profile: Path | None = None,
        timeout: float = 900.0, request_timeout: float = 60.0,
        env: dict[str, str] | None = None) -> dict:
    """Start the app, run the phases and return the results (see the module docstring)."""
    if not sizes or any(not 1 <= n <= MAX_SESSIONS for n in sizes):
        raise ValueError(f"each session count must be between 1 and {MAX_SESSIONS}, got {sizes}")
    if sum(sizes) + (len(MODELS) if warmup else 0) > N_SAMPLES - len(MODELS):
        raise ValueError("too many sessions in all: each needs a digit of its own")
    if not 0 < timeout <= 3600 or not 0 < request_timeout <= 600:
        raise ValueError("timeouts must be positive (at most 3600 s in all, 600 s a request)")
    SHAPES.update(layer_shapes())
    from importlib.metadata import version
    result: dict = {"meta": {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "commit": _git_commit(),
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "streamlit": version("streamlit"), "think_s": think, "sizes": sizes,
        "server_env": env or {},
        "uptime_before": _uptime()}, "phases": []}
    port = free_port()
    server = start_server(port, env)
    tmp = Path(tempfile.mkdtemp(prefix="classroom-profile-"))
    profiler = Profiler(server.pid, tmp) if profile else None
    try:
        wait_http(port, timeout=120)
        result["meta"]["timed_out"] = False
        try:
            asyncio.run(asyncio.wait_for(
                run_all(port, server.pid, sizes, think, warmup, profiler, request_timeout,
                        result), timeout))
        except (asyncio.TimeoutError, TimeoutError):
            result["meta"]["timed_out"] = True
    finally:
        if profiler:
            profiler.stop()
        stop(server)
        result["meta"]["uptime_after"] = _uptime()
    if profiler and profile:
        big = next((ph for ph in result["phases"] if ph["n"] == max(sizes)), None)
        parts = [f"Server profile (py-spy, {profiler.rate} Hz) during N={max(sizes)}; commit "
                 f"{result['meta']['commit']}; {result['meta']['uptime_before']}",
                 f"Server CPU (/proc) in that phase: {big['server_cpu_s']:.1f} s for "
                 f"{len(big['requests'])} requests in {big['wall_s']:.1f} s wall." if big else "",
                 "'GIL held': samples of the thread holding the GIL (the serial time every "
                 "session queues for); 'running': every thread not idle (closer to CPU time, "
                 "but under contention it also counts threads waiting for the GIL or a core).",
                 ""]
        for (name, mode), path in profiler.files.items():
            n_req = sum(1 for r in (big or {}).get("requests", [])
                        if (r["kind"] == "link open") == (name == "link open"))
            title = "GIL held" if mode == "gil" else "running"
            parts += [f"== {name}, {title} ({n_req} requests) ==",
                      summarise(path, n_req, profiler.rate) if path.exists() else "(no data)",
                      ""]
        profile.write_text("\n".join(parts))
    shutil.rmtree(tmp, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 30],
                    help=f"session counts, one phase each (1-{MAX_SESSIONS})")
    ap.add_argument("--think", type=float, default=1.0,
                    help="each click waits a random 0..THINK seconds first (0: all at once)")
    ap.add_argument("--no-warmup", action="store_true", help="skip the warm-up sessions")
    ap.add_argument("--profile", action="store_true",
                    help="sample the server with py-spy during the largest N")
    ap.add_argument("--timeout", type=float, default=900.0, help="wall-clock cap of the run (s)")
    ap.add_argument("--request-timeout", type=float, default=60.0,
                    help="cap of one request (s)")
    ap.add_argument("--env", nargs="*", default=[], metavar="KEY=VALUE",
                    help="environment for the server, e.g. STREAMLIT_RUNNER_POST_SCRIPT_GC=false")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "classroom_load",
                    help="writes OUT.json and OUT.txt")
    args = ap.parse_args(argv)
    out = args.out.with_suffix("") if args.out.suffix in (".json", ".txt") else args.out
    profile = None
    if args.profile:
        name = out.name.replace("_load", "_profile") if "_load" in out.name else (
            out.name + "_profile")
        profile = out.parent / f"{name}.txt"
    env = dict(kv.split("=", 1) for kv in args.env if "=" in kv)
    if len(env) != len(args.env):
        ap.error("--env takes KEY=VALUE pairs")
    result = run(args.sessions, think=args.think, warmup=not args.no_warmup, profile=profile,
                 timeout=args.timeout, request_timeout=args.request_timeout, env=env)
    text = table(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    out.with_suffix(".txt").write_text(text + "\n")
    print(text)
    if profile:
        print(f"profile: {profile}")
    return 0 if not result["meta"].get("timed_out") else 1


if __name__ == "__main__":
    sys.exit(main())
