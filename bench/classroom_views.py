"""A class told "now explore on your own": N sessions open links to the costly views at once.

    python bench/classroom_views.py [--sessions 30] [--root DIR] [--profile] [--follow 0]
                                    [--teacher] [--start launcher|streamlit] [--after S]
                                    [--processes N] [--out bench/results/classroom_views]

Starts the app of the checkout ``--root`` (default: this one) on 127.0.0.1 (``--start``:
``launcher``, ``python -m ui.launch``, which warms the app before its health check answers, the
default where the checkout has one; ``streamlit``, plain ``streamlit run app.py``) and
drives it with N clients that speak Streamlit's own websocket protocol (``bench/st_client.py``;
no browser). The N sessions open, at the same moment, N different links to the views that
compute on the server: Saliency with each method (Saliency, Integrated Gradients, SmoothGrad,
Guided Backprop, DeepLift, Occlusion, Grad-CAM), All methods (with its sanity row), Atlas and
Trust, in turn (``?model=M&input=sample:K&layer=L&view=V&method=X``; models ``seed``,
``compact``, ``seed-3x3``, ``fast`` in turn, every digit used once, so no cache helps). Each is
timed from connecting to its run's ``script_finished`` and the files its components fetch over
HTTP (their scripts and network payloads, fetched as by a browser with an empty cache; and to
the first element it receives,
when the page starts drawing): the page with its picture (a view that computes in the
background, Trust the first time a network is asked, shows its progress instead; ``--follow S``
then opens such a link again every second, at most S seconds, and times the final picture too).

With ``--teacher`` a teacher starts a class before the phase and, 0.15 s after the N opens
start, picks another layer in its Saliency view: its time to the page updated is reported too
(the projector's screen and every follower wait on it).

A warm-up first opens each kind of link once, one after another (imports, model loading, the
test set), then Trust of each model the phase opens it on, at once, followed to its table
(the network-wide results a running class server holds); its digits are never used later
(``--warmup views`` leaves Trust out, ``none`` measures a fresh process). ``--after S`` is the
first minute of a class: no warm-up visit; once the health check answers, the N open at once,
S seconds after the server was started (or at once, when health answered later).
``--profile`` samples
the server with py-spy during the N opens (``bench/classroom_load.py``'s profiler and
summary). Results go to ``OUT.json`` and ``OUT.txt``.

Bounded: at most 40 sessions, each request times out after ``--request-timeout`` seconds, the
run after ``--timeout``; loopback only. Target (not asserted): p95 <= 0.5 s for 30 sessions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.class_follow import start_teaching  # noqa: E402
from bench.classroom_load import (  # noqa: E402
    MODELS,
    Profiler,
    _uptime,
    cpu_seconds,
    layer_shapes,
    load_average,
    percentile,
    summarise,
)
from bench.server import ROOT, START_MODES, free_port, start_server, stop, wait_http  # noqa: E402
from bench.st_client import Session, choose  # noqa: E402

MAX_SESSIONS = 40
MAX_PROCESSES = 4  # --processes: app processes, as deploy/ runs behind nginx
# (view, method) of each session in turn: every saliency method, then the three other views.
SALIENCY = ("saliency", "ig", "smoothgrad", "guided", "deeplift", "occlusion", "gradcam")
KINDS = [("saliency", m) for m in SALIENCY] + [("compare", None), ("atlas", None),
                                               ("trust", None)]
WARMUP_DIGITS = range(190, 200)  # never used by the phase
TARGET_S = 0.5
TEACHER_DELAY_S = 0.15  # with --teacher: the teacher's click, this long after the opens start


class ViewSession(Session):
    """A session that also notes the kinds of elements it received (to check the picture)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.elements: list[str] = []
        self.first_element: float | None = None  # perf_counter of the page's first element
        self.assets: set[str] = set()  # URL paths its components fetch (scripts, networks)
        self.fetches: list[asyncio.Future] = []  # those GETs, started as the elements came

    def _delta(self, delta, reply, seen, fragments) -> None:
        if delta.WhichOneof("type") == "new_element":
            if self.first_element is None:
                self.first_element = time.perf_counter()
            kind = delta.new_element.WhichOneof("type")
            name = (delta.new_element.bidi_component.component_name
                    if kind == "bidi_component" else "")
            self.elements.append(f"{kind}:{name}" if name else str(kind))
            if kind == "bidi_component":  # a browser starts fetching as the element comes
                for url in assets_of(delta.new_element.bidi_component) - self.assets:
                    self.assets.add(url)
                    self.fetches.append(asyncio.ensure_future(asyncio.to_thread(self._get, url)))
        super()._delta(delta, reply, seen, fragments)

    def _get(self, path: str) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}",
                                    timeout=self.request_timeout) as r:
            return len(r.read())

    async def fetch_assets(self) -> int:
        """Wait for what the page's components fetch over HTTP (their scripts), started as each
        component arrived, as by a browser that has none of them cached; the bytes received."""
        return sum(await asyncio.gather(*self.fetches))


_SRC = re.compile(r'const SRC = ("[^"]+")')


def assets_of(component) -> set[str]:
    """The URL paths a component's browser code fetches: a loader's script (``const SRC``) and
    the ``fetch`` lists of its data (``ui/components/assets.py``)."""
    out = {json.loads(m.group(1)) for m in _SRC.finditer(component.js_content or "")}
    try:
        data = json.loads(component.json) if component.json else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        for holder in [data, *data.values()]:
            if isinstance(holder, dict):
                out |= {url for _, url in holder.get("fetch") or []}
    return out


@dataclass
class Plan:
    model: str
    digit: int
    layer: str
    view: str
    method: str | None

    @property
    def kind(self) -> str:
        return self.method if self.view == "saliency" else self.view

    def link(self) -> str:
        return (f"model={self.model}&input=sample:{self.digit}&layer={self.layer}"
                f"&view={self.view}" + (f"&method={self.method}" if self.method else ""))


def plan(i: int, digit: int, shapes) -> Plan:
    model = MODELS[i % len(MODELS)]
    layers = [k for k in shapes[model] if k.startswith(("conv", "relu"))]
    view, method = KINDS[i % len(KINDS)]
    return Plan(model, digit, layers[(i // len(MODELS)) % len(layers)], view, method)


@dataclass
class Result:
    session: int
    kind: str
    link: str
    seconds: float
    finished: bool
    picture: bool  # the view's picture was delivered (not a progress bar)
    background: bool  # the page waits for a background task (progress shown)
    complete_s: float | None  # with --follow: time to the picture after background work
    bytes: int
    errors: list[str] = field(default_factory=list)
    first_s: float | None = None  # time to the page's first element (it starts drawing)
    fetched: int = 0  # bytes of the files its components fetched over HTTP (in ``seconds``)


PICTURES = {"saliency": ("bidi_component:",), "compare": ("bidi_component:",),
            "atlas": ("plotly_chart",), "trust": ("dataframe", "plotly_chart")}


def _has_picture(view: str, elements: list[str]) -> bool:
    """The view's picture is among the elements (the saliency component, a chart, a table)."""
    return any(e.startswith(w) and (w != "bidi_component:" or "saliency" in e)
               for e in elements for w in PICTURES[view])


async def open_one(i: int, p: Plan, port: int, request_timeout: float, follow: float) -> Result:
    s = ViewSession(port, p.link(), request_timeout)
    t0 = time.perf_counter()
    try:
        reply = await s.open()
        fetched = await s.fetch_assets() if reply.finished else 0
        seconds = time.perf_counter() - t0 if s.assets else reply.seconds
        picture = _has_picture(p.view, s.elements)
        background = bool(s.auto_reruns) and not picture
        complete = seconds if picture else None
        deadline = t0 + follow
        while background and follow > 0 and time.perf_counter() < deadline:
            await asyncio.sleep(1.0)  # the poller's period; then the page as it is now
            again = ViewSession(port, p.link(), request_timeout)
            try:
                await again.open()
            finally:
                await again.close()
            if _has_picture(p.view, again.elements):
                complete = time.perf_counter() - t0
                break
        first = None if s.first_element is None else s.first_element - t0
        return Result(i, p.kind, p.link(), seconds, reply.finished, picture, background,
                      complete, reply.bytes, reply.errors, first, fetched)
    except Exception as exc:  # noqa: BLE001 - a failed request is a result
        return Result(i, p.kind, p.link(), float("nan"), False, False, False, None, 0,
                      [f"{type(exc).__name__}: {exc}"])
    finally:
        await s.close()


def summary(results: list[Result]) -> dict:
    ok = [r.seconds for r in results if r.finished]
    out = {"all": {"count": len(results), "finished": len(ok),
                   "pictures": sum(r.picture for r in results),
                   "background": sum(r.background for r in results),
                   "errors": sum(bool(r.errors) for r in results),
                   "p50_s": percentile(ok, 50), "p95_s": percentile(ok, 95),
                   "max_s": max(ok) if ok else float("nan")}}
    out["all"]["ws_kb_mean"] = sum(r.bytes for r in results) / max(1, len(results)) / 1e3
    out["all"]["http_kb_mean"] = sum(r.fetched for r in results) / max(1, len(results)) / 1e3
    first = [r.first_s for r in results if r.first_s is not None]
    out["all"]["first_p50_s"] = percentile(first, 50) if first else float("nan")
    out["all"]["first_p95_s"] = percentile(first, 95) if first else float("nan")
    done = [r.complete_s for r in results if r.complete_s is not None]
    if any(r.background for r in results):
        out["all"]["complete_p95_s"] = percentile(done, 95) if done else float("nan")
    for kind in dict.fromkeys(r.kind for r in results):
        rs = [r.seconds for r in results if r.kind == kind and r.finished]
        out[kind] = {"count": sum(r.kind == kind for r in results),
                     "p50_s": percentile(rs, 50), "max_s": max(rs) if rs else float("nan")}
    return out


async def teacher_change(teacher: Session, delay: float) -> dict:
    """After ``delay`` s, the teacher picks the next layer: the time to its page updated."""
    await asyncio.sleep(delay)
    layer = teacher.widget("selectbox", "Layer")
    now = layer.state.string_value if layer.state is not None else ""
    options = layer.options
    nxt = options[(options.index(now) + 1) % len(options)] if now in options else options[0]
    reply = await teacher.set(layer, choose(layer, nxt))
    return {"seconds": reply.seconds, "finished": reply.finished, "errors": reply.errors}


async def run_all(ports: list[int], plans: list[Plan], warm: list[Plan], request_timeout: float,
                  follow: float, profiler: Profiler | None, pids: list[int], result: dict,
                  warm_follow: float, teacher: bool = False) -> None:
    # One view after another (imports, model loading, the test set), then the network-wide
    # results a running class server already holds (Trust's table per network) at once,
    # followed to the end, so that the phase measures the sessions, not a cold process.
    t0 = time.perf_counter()
    alone = [p for p in warm if p.view != "trust"]
    together = [p for p in warm if p.view == "trust"]
    for port in ports:  # each process warms as a running class server would be
        for i, p in enumerate(alone):
            result["warmup"].append(asdict(await open_one(i, p, port, request_timeout, 0)))
        rs = await asyncio.gather(*(open_one(i, p, port, request_timeout, warm_follow)
                                    for i, p in enumerate(together)))
        result["warmup"] += [asdict(r) for r in rs]
    result["warmup_s"] = time.perf_counter() - t0
    teaching = ((await start_teaching(ports[0], "Saliency", request_timeout))[0] if teacher
                else None)
    load0, cpu0, t0 = load_average(), sum(map(cpu_seconds, pids)), time.perf_counter()
    if profiler:
        profiler.start("link open")
    change = (asyncio.ensure_future(teacher_change(teaching, TEACHER_DELAY_S))
              if teaching is not None else None)
    # session i on process i mod N (a proxy's sticky routing spreads browsers so)
    rs = await asyncio.gather(*(open_one(i, p, ports[i % len(ports)], request_timeout, follow)
                                for i, p in enumerate(plans)))
    if change is not None:
        result["teacher"] = await change
        await teaching.close()
    if profiler:
        profiler.stop()
    result["phase"] = {"n": len(plans), "load_before": load0, "load_after": load_average(),
                       "server_cpu_s": sum(map(cpu_seconds, pids)) - cpu0,
                       "wall_s": time.perf_counter() - t0, "stats": summary(rs),
                       "requests": [asdict(r) for r in rs]}


def _commit(root: Path) -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def run(n: int, root: Path, profile: Path | None, follow: float, timeout: float,
        request_timeout: float, env: dict[str, str], warmup: str = "all",
        warm_follow: float = 600.0, teacher: bool = False, start: str = "launcher",
        after: float | None = None, processes: int = 1) -> dict:
    if not 1 <= processes <= MAX_PROCESSES:
        raise ValueError(f"processes must be 1..{MAX_PROCESSES}, got {processes}")
    if not 1 <= n <= MAX_SESSIONS:
        raise ValueError(f"sessions must be 1..{MAX_SESSIONS}, got {n}")
    if not 0 < timeout <= 3600 or not 0 < request_timeout <= 600 or not 0 <= follow <= 600 \
            or warmup not in ("all", "views", "none"):
        raise ValueError("timeouts: run at most 3600 s, a request 600 s, --follow 0..600 s")
    if after is not None and not 0 <= after <= 600:
        raise ValueError(f"--after is 0..600 seconds, not {after}")
    if after is not None:
        warmup = "none"
    shapes = layer_shapes()
    plans = [plan(i, i, shapes) for i in range(n)]
    warm = []
    if warmup != "none":  # every kind once, then Trust (digits never used later)
        warm = [plan(i, WARMUP_DIGITS[i % len(WARMUP_DIGITS)], shapes)
                for i in range(len(KINDS)) if KINDS[i][0] != "trust"]
        if warmup == "all":
            warm += [Plan(m, WARMUP_DIGITS[0], next(iter(shapes[m])), "trust", None)
                     for m in dict.fromkeys(p.model for p in plans if p.view == "trust")]
    result: dict = {"meta": {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                             "root": str(root), "commit": _commit(root),
                             "cpus": os.cpu_count(), "python": platform.python_version(),
                             "server_env": env, "warmup": warmup, "start": start,
                             "after_s": after, "processes": processes,
                             "uptime_before": _uptime()},
                    "warmup": [], "phase": None}
    ports = [free_port() for _ in range(processes)]
    started = time.perf_counter()
    servers = [start_server(port, env, root=root, start=start) for port in ports]
    tmp = Path(tempfile.mkdtemp(prefix="classroom-views-"))
    profiler = Profiler(servers[0].pid, tmp) if profile else None
    try:
        for port in ports:
            wait_http(port, timeout=300)
        result["meta"]["health_s"] = time.perf_counter() - started  # start to health 200
        if after is not None:
            time.sleep(max(0.0, after - (time.perf_counter() - started)))
            result["meta"]["opened_s"] = time.perf_counter() - started
        try:
            asyncio.run(asyncio.wait_for(run_all(ports, plans, warm, request_timeout, follow,
                                                 profiler, [s.pid for s in servers], result,
                                                 warm_follow,
                                                 teacher), timeout))
            result["meta"]["timed_out"] = False
        except (asyncio.TimeoutError, TimeoutError):
            result["meta"]["timed_out"] = True
    finally:
        if profiler:
            profiler.stop()
        for server in servers:
            stop(server)
        result["meta"]["uptime_after"] = _uptime()
    if profiler and profile and result["phase"]:
        ph = result["phase"]
        parts = [f"Server profile (py-spy, {profiler.rate} Hz) during {n} view opens; commit "
                 f"{result['meta']['commit']} ({root}); {result['meta']['uptime_before']}",
                 f"Server CPU in that phase: {ph['server_cpu_s']:.1f} s in {ph['wall_s']:.1f} s"
                 " wall.", ""]
        for (_, mode), path in profiler.files.items():
            parts += [f"== {'GIL held' if mode == 'gil' else 'running'} ==",
                      summarise(path, n, profiler.rate) if path.exists() else "(no data)", ""]
        profile.write_text("\n".join(parts))
    shutil.rmtree(tmp, ignore_errors=True)
    return result


def table(result: dict) -> str:
    m, ph = result["meta"], result["phase"]
    lines = [f"{m['date']} · {m['root']} at {m['commit']} · {m['cpus']} CPUs"
             + (f" · server env {m['server_env']}" if m["server_env"] else ""),
             f"uptime before: {m['uptime_before']}", f"uptime after:  {m['uptime_after']}",
             f"server: {m.get('start', 'streamlit')} x {m.get('processes', 1)}, health answered {m.get('health_s', 0):.1f} s"
             " after the start"
             + (f"; the sessions opened {m['opened_s']:.1f} s after the start"
                if m.get("opened_s") is not None else ""),
             f"warm-up: {m['warmup']}, {len(result['warmup'])} opens in "
             f"{result.get('warmup_s', 0):.0f} s"]
    if not ph:
        return "\n".join(lines + ["(no phase: timed out)"])
    s = ph["stats"]["all"]
    lines += ["", f"N={ph['n']} sessions open view links at once: p50 {s['p50_s']:.2f} s, "
                  f"p95 {s['p95_s']:.2f} s, max {s['max_s']:.2f} s; {s['finished']} finished, "
                  f"{s['pictures']} with their picture, {s['background']} showing background "
                  f"progress, {s['errors']} with errors"
                  + (f"; final picture p95 {s['complete_p95_s']:.2f} s" if "complete_p95_s" in s
                     else ""),
              f"first element on the page (it starts drawing): p50 "
              f"{s.get('first_p50_s', float('nan')):.2f} s, p95 "
              f"{s.get('first_p95_s', float('nan')):.2f} s",
              *([f"the teacher's layer change, {TEACHER_DELAY_S} s after the opens started: "
                 f"{result['teacher']['seconds']:.2f} s"
                 + ("" if result["teacher"]["finished"] else " (not finished)")]
                if result.get("teacher") else []),
              f"per open: {s.get('ws_kb_mean', 0):.0f} kB over the websocket, "
              f"{s.get('http_kb_mean', 0):.0f} kB of files over HTTP",
              f"load average (1 min) {ph['load_before'][0]:.2f} -> {ph['load_after'][0]:.2f}; "
              f"server CPU {ph['server_cpu_s']:.1f} s in {ph['wall_s']:.1f} s wall",
              "", f"{'kind':<12} {'count':>5} {'p50 s':>7} {'max s':>7}"]
    for kind, k in ph["stats"].items():
        if kind != "all":
            lines.append(f"{kind:<12} {k['count']:>5} {k['p50_s']:7.2f} {k['max_s']:7.2f}")
    errors = sorted({e for r in ph["requests"] for e in r["errors"]})
    if errors:
        lines += ["", f"errors: {'; '.join(errors[:5])}"]
    lines.append(f"Target (not asserted): p95 <= {TARGET_S:g} s "
                 f"({'met' if s['p95_s'] <= TARGET_S else 'not met'}).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--root", type=Path, default=ROOT, help="the app checkout to serve")
    ap.add_argument("--profile", action="store_true", help="sample the server with py-spy")
    ap.add_argument("--follow", type=float, default=0.0,
                    help="seconds a session showing background progress keeps polling")
    ap.add_argument("--warmup", choices=("all", "views", "none"), default="all",
                    help="all: every view once, then Trust of every model to the end (what a "
                         "running class server holds); views: without Trust; none: cold")
    ap.add_argument("--teacher", action="store_true",
                    help="a teacher (who started a class) changes the layer while they open")
    ap.add_argument("--start", choices=("auto", *START_MODES), default="auto",
                    help="launcher: python -m ui.launch (warm before ready); streamlit: plain "
                         "streamlit run app.py; auto: the launcher where the checkout has one")
    ap.add_argument("--after", type=float, default=None, metavar="S",
                    help="a fresh server, no warm-up visit: the sessions open S s after its "
                         "start, once its health check answers (the first minute of a class)")
    ap.add_argument("--processes", type=int, default=1,
                    help="app processes, session i on process i mod N (as deploy/'s sticky "
                         "proxy spreads browsers; the proxy itself is left out)")
    ap.add_argument("--timeout", type=float, default=1200.0)
    ap.add_argument("--request-timeout", type=float, default=120.0)
    ap.add_argument("--env", nargs="*", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "classroom_views")
    args = ap.parse_args(argv)
    env = dict(kv.split("=", 1) for kv in args.env if "=" in kv)
    if len(env) != len(args.env):
        ap.error("--env takes KEY=VALUE pairs")
    out = args.out.with_suffix("") if args.out.suffix in (".json", ".txt") else args.out
    profile = out.parent / f"{out.name}_profile.txt" if args.profile else None
    out.parent.mkdir(parents=True, exist_ok=True)
    root = args.root.resolve()
    start = args.start if args.start != "auto" else (
        "launcher" if (root / "ui" / "launch.py").exists() else "streamlit")
    result = run(args.sessions, root, profile, args.follow, args.timeout,
                 args.request_timeout, env, args.warmup, teacher=args.teacher, start=start,
                 after=args.after, processes=args.processes)
    text = table(result)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    out.with_suffix(".txt").write_text(text + "\n")
    print(text)
    return 0 if not result["meta"].get("timed_out") else 1


if __name__ == "__main__":
    sys.exit(main())
