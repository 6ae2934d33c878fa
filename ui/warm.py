"""Warm an app process before its first visitor.

A fresh process pays, on its first page runs, every import (pandas, plotly, torch, Captum, the
pages' modules) and every shared cache (the shipped checkpoints in numpy and torch, the sample
digits, each saliency method's first call): a class opening links on a server started seconds
earlier waited 6 s (p95) instead of 1.3 s. :func:`start` does all of it once per process in a
background thread: the launcher (``ui/launch.py``) calls it at start and reports ready when
:data:`WARM` is set; a server started with plain ``streamlit run app.py`` starts it on its first
page run (app.py).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import pkgutil
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np

ENV = "CNN_LENS_WARM"  # "0": no warm-up (the test suite's app processes, which test pages)
WARM = threading.Event()  # set when the warm-up has finished (or failed: the app works cold)
NICE = 5  # the warm-up thread's niceness: a page a student opened meanwhile goes first
_lock = threading.Lock()
_thread: list[threading.Thread] = []
# Modules run as scripts or only at start: never imported by the warm-up.
SKIP = ("ui.pages", "ui.launch", "ui.warm", "model.make_samples", "model.make_shipped")
WARM_DIGIT = 199  # a sample digit the warm-up computes (any digit works; its results are small)


def modules(package: str = "ui") -> list[str]:
    """Every module of ``package`` a page run may import (not the page scripts), sorted.

    Returns:
        Dotted module names.
    """
    root = importlib.import_module(package)
    found = [m.name for m in pkgutil.walk_packages(root.__path__, f"{package}.")]
    return sorted(n for n in found if not n.startswith(SKIP) and not n.endswith(".__main__"))


def _imports() -> None:
    import pandas  # noqa: F401 - before plotly (see app.py)
    import plotly.graph_objects  # noqa: F401
    import pyarrow  # noqa: F401 - every table and chart's data
    for name in modules("ui"):
        importlib.import_module(name)
    from ui import cache
    cache.preload().join()  # torch, Captum and the model modules (model.cache.process)
    for name in modules("viz") + modules("model"):  # what the views import when first used
        importlib.import_module(name)


def _wait_for_runtime(limit_s: float = 15.0) -> None:
    """Streamlit's caches are those of the running server: wait until it exists (the
    launcher's warm-up starts before it)."""
    from streamlit import runtime
    deadline = time.monotonic() + limit_s
    while not runtime.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def _models() -> None:
    """The shipped checkpoints (numpy and torch), their tables and one digit's forward pass."""
    from model import store
    from model.store import ModelRef
    from ui import cache
    images, _ = cache.samples()
    image = images[WARM_DIGIT % len(images)]
    for path in store.shipped_checkpoints().values():
        ref = ModelRef.checkpoint(path)
        cache.get_model(ref)
        cache.field_table(ref)
        cache.forward(ref, image)


def _methods() -> None:
    """Every saliency method once on the default network (their first calls are slower)."""
    from model import saliency
    from model.architectures import DEFAULT
    from model.insight.activations import as_input
    from model.store import ModelRef, shipped_checkpoints
    from ui import cache
    path = shipped_checkpoints().get(DEFAULT) or next(iter(shipped_checkpoints().values()))
    ref = ModelRef.checkpoint(path)
    model, _ = cache.get_model(ref)
    convs = [r["name"] for r in cache.layer_records(ref) if r.get("type") == "conv"]
    layer = convs[-1] if convs else None
    x = as_input(np.zeros((28, 28), np.uint8))
    for method in saliency.METHODS:
        with contextlib.suppress(ValueError):  # a method that needs another layer kind
            saliency.attribute(method, model, x, 0, layer=layer, window=7, stride=7)


def _charts() -> None:
    """The chart library's first figures: plotly imports a class and its validators the first
    time a kind of trace or layout part is used."""
    import plotly.graph_objects as go
    import plotly.io as pio

    from viz.pictures import figures
    z = np.ones((28, 28))
    pio.to_json(figures.digit(np.zeros((28, 28), np.uint8), overlay=z))
    fig = go.Figure([go.Heatmap(z=z, colorbar=dict(title=dict(text="v"))),
                     go.Scatter(x=[0], y=[0], mode="markers+text", text=["a"]),
                     go.Bar(x=["a"], y=[1], marker=dict(color="#111111")),
                     go.Image(z=np.zeros((2, 2, 3), np.uint8))])
    fig.add_annotation(x=0, y=0, text="a", font=dict(size=12))
    fig.add_shape(type="rect", x0=0, x1=1, y0=0, y1=1, line=dict(width=1))
    fig.update_layout(title=dict(text="a"), legend=dict(orientation="h"),
                      hoverlabel=dict(font=dict(size=12)))
    pio.to_json(fig)


STEPS: list[tuple[str, Callable[[], None]]] = [
    ("imports", _imports), ("runtime", _wait_for_runtime), ("models", _models),
    ("methods", _methods), ("charts", _charts)]


@contextlib.contextmanager
def _nice(n: int) -> Iterator[None]:
    """This thread only, at niceness ``n`` (Linux: a thread id is a process id here)."""
    tid = threading.get_native_id()
    try:
        before = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, max(before, n))
    except (AttributeError, OSError):
        before = None
    try:
        yield
    finally:
        if before is not None:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, tid, before)


def warm(log: Callable[[str], None] = print) -> dict[str, float]:
    """Run every step of :data:`STEPS` on this thread; a step that fails is logged and skipped.

    Args:
        log: where a line per failed step and one summary line go.
    Returns:
        Seconds per step that finished, by name.
    """
    took: dict[str, float] = {}
    t0 = time.perf_counter()
    with _nice(NICE):
        for name, step in STEPS:
            t = time.perf_counter()
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - a cold cache is slower, never broken
                log(f"warm-up: {name} failed ({type(exc).__name__}: {exc}); continuing")
                continue
            took[name] = time.perf_counter() - t
        # What the warm-up made lives as long as the process: out of the collector's sight.
        gc.collect()
        gc.freeze()
    log(f"warm-up done in {time.perf_counter() - t0:.1f} s ("
        + ", ".join(f"{k} {v:.1f} s" for k, v in took.items()) + ")")
    return took


def start(log: Callable[[str], None] = print) -> threading.Thread:
    """Start :func:`warm` in a background thread, once per process; :data:`WARM` is set when
    it ends.

    Returns:
        The warm-up thread (the same one on every call).
    """
    with _lock:
        if not _thread:
            def run() -> None:
                try:
                    if os.environ.get(ENV, "1").strip() == "0":
                        log(f"warm-up off ({ENV}=0): the first visitors pay for it")
                    else:
                        warm(log)
                finally:
                    WARM.set()
            _thread.append(threading.Thread(target=run, name="warm-up", daemon=True))
            _thread[0].start()
        return _thread[0]
