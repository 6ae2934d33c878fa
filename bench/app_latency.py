"""Latency of the explorer in a real headless Chromium: median of N runs per interaction.

    python bench/app_latency.py --runs 10 [--json results.json]

What it measures, step by step: docs/benchmarks.md.

Targets: cold start <= 4 s, field hover <= 16 ms, unit pick <= 250 ms, layer switch
<= 400 ms, saliency <= 500 ms per method.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server import (  # noqa: E402
    browser,
    free_port,
    goto_when_up,
    server,
    start_server,
    stop,
    wait_idle,
)

# The server's own views: its plotly maps and layer picker (the lens has bench/lens_latency.py).
SERVER_MAPS = {"CNN_LENS_LENS": "0"}
TARGETS_MS = {"cold start": 4000, "field hover": 16, "unit pick": 250, "layer switch": 400, "saliency": 500}
METHODS = ["Saliency", "Integrated Gradients", "SmoothGrad", "Guided Backprop", "DeepLift",
           "Occlusion", "Grad-CAM"]


def _now() -> float:
    return time.perf_counter()


def wait_text(page, text: str, timeout: float = 30_000) -> None:
    """Wait until ``text`` is on the page, checked on every animation frame.

    (Playwright's own locator waits re-check at growing intervals, up to every 500 ms, which
    would round every measurement up; checking each frame measures to ~16 ms.)
    """
    page.wait_for_function("t => document.body.textContent.includes(t)", arg=text,
                           polling="raf", timeout=timeout)


def wait_css(page, selector: str, timeout: float = 30_000) -> None:
    """Wait until an element matches ``selector``, checked on every animation frame."""
    page.wait_for_function("s => document.querySelector(s) !== null", arg=selector,
                           polling="raf", timeout=timeout)


def settle(page) -> None:
    """Let the browser paint (two animation frames)."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def cold_start(page, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        port = free_port()
        t0 = _now()
        proc = start_server(port, SERVER_MAPS)
        try:
            goto_when_up(page, f"http://127.0.0.1:{port}/", t0)
            wait_css(page, ".st-key-fm-mosaic .main-svg", timeout=60_000)
            settle(page)
            times.append((_now() - t0) * 1000)
        finally:
            stop(proc)
    return times


def choose_view(page, name: str) -> None:
    page.locator(".st-key-view").get_by_text(name, exact=True).click()
    wait_idle(page)


def layer_option(page, layer: str):
    """Open the layer picker, filter it to ``layer`` and return that option (not clicked)."""
    box = page.locator(".st-key-layer-name input")
    box.click()
    box.fill(layer)
    return page.get_by_role("option").filter(has_text=f". {layer} ").first


def choose_layer(page, layer: str) -> None:
    layer_option(page, layer).click()
    wait_text(page, f"of {layer} (")
    wait_idle(page)


def next_sample(page, k: int) -> None:
    slider = page.get_by_role("slider").first
    slider.focus()
    slider.press("ArrowRight")
    wait_text(page, f"Input: sample {k + 1} of")
    wait_idle(page)


PANEL = "[data-testid=unit-field]"


def unit_point(page, y: int, x: int, size: int):
    """Centre (px, py) of unit (y, x) on the unit-field panel's map."""
    box = page.locator(f"{PANEL} canvas.picker").bounding_box()
    return box["x"] + (x + 0.5) * box["width"] / size, box["y"] + (y + 0.5) * box["height"] / size


def unit_picks(page, runs: int, size: int = 28) -> list[float]:
    """Click -> the server's effective field and attribution of that unit drawn."""
    times = []
    units = [(3 + 2 * i % (size - 6), 4 + 3 * i % (size - 8)) for i in range(runs + 1)]
    for i, (y, x) in enumerate(units):
        time.sleep(0.3)  # untimed: let the previous update finish everywhere
        px, py = unit_point(page, y, x, size)
        t0 = _now()
        page.mouse.click(px, py)
        page.locator(f"{PANEL} .unit[data-unit$=',{y},{x}']", has_text="Picked unit:").wait_for()
        wait_text(page, f"row {y}, col {x}) of")
        settle(page)
        if i:  # the first click warms the fragment
            times.append((_now() - t0) * 1000)
        wait_idle(page)
    return times


def field_hovers(page, runs: int, size: int = 28) -> list[float]:
    """Pointer move -> the hovered unit's field drawn (the panel's own clock, in the browser)."""
    times = []
    for i in range(runs):
        y, x = (5 + 7 * i) % size, (2 + 11 * i) % size
        px, py = unit_point(page, y, x, size)
        page.mouse.move(px, py)
        page.locator(f"{PANEL} .unit[data-unit$=',{y},{x}']").wait_for()
        times.append(page.evaluate("() => window.cnnUnitField.lastUpdateMs"))
    page.mouse.move(0, 0)
    return times


def layer_switches(page, runs: int) -> list[float]:
    layers = ["relu1", "relu2", "relu3", "relu4", "relu5", "relu6", "pool", "relu7", "relu8",
              "relu9", "relu10", "conv3"]
    times = []
    for i in range(runs):
        layer = layers[i % len(layers)]
        option = layer_option(page, layer)
        option.wait_for()
        t0 = _now()
        option.click()
        wait_text(page, f"of {layer} (")
        settle(page)
        times.append((_now() - t0) * 1000)
        wait_idle(page)
    return times


def saliency_methods(page, runs: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {m: [] for m in METHODS}
    for run in range(runs):
        next_sample(page, run + 1)  # a new input: nothing cached; the view shows Grad-CAM
        for m in METHODS:
            t0 = _now()
            page.locator(".st-key-sal-method").get_by_text(m, exact=True).click()
            wait_text(page, f"{m} for class")
            settle(page)
            out[m].append((_now() - t0) * 1000)
            wait_idle(page)
    return out


def summary(name: str, times: list[float]) -> dict:
    med = statistics.median(times)
    target = TARGETS_MS.get(name.split(":")[0])
    ok = "" if target is None else ("ok" if med <= target else "OVER")
    print(f"{name:32s} median {med:7.0f} ms  min {min(times):6.0f}  max {max(times):6.0f}  "
          f"n={len(times)}  target {target} ms {ok}", flush=True)
    return {"median_ms": med, "min_ms": min(times), "max_ms": max(times), "n": len(times),
            "target_ms": target, "runs_ms": times}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--skip", nargs="*", default=[],
                    choices=["cold", "pick", "layer", "saliency"])
    args = ap.parse_args(argv)
    results: dict[str, dict] = {}
    with browser(1280, 800) as page:
        try:
            run_all(page, args, results)
        except Exception:
            Path("test-artifacts").mkdir(exist_ok=True)
            page.screenshot(path="test-artifacts/bench_failure.png")
            raise
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def run_all(page, args, results: dict) -> None:
    if True:
        if "cold" not in args.skip:
            results["cold start"] = summary("cold start", cold_start(page, args.runs))
        with server(SERVER_MAPS) as url:
            page.goto(url)
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
            wait_idle(page)
            if "layer" not in args.skip:
                layer_switches(page, 2)  # warm-up
                results["layer switch"] = summary("layer switch", layer_switches(page, args.runs))
            if "pick" not in args.skip:
                choose_layer(page, "relu5")
                choose_view(page, "Receptive field")
                page.locator(f"{PANEL} canvas.picker").wait_for()
                wait_idle(page)
                results["field hover"] = summary("field hover", field_hovers(page,
                                                                             2 * args.runs))
                results["unit pick"] = summary("unit pick", unit_picks(page, args.runs))
            if "saliency" not in args.skip:
                choose_view(page, "Saliency")
                wait_text(page, "for class")
                page.locator(".st-key-sal-method").get_by_text("Grad-CAM", exact=True).click()
                wait_text(page, "Grad-CAM for class")
                wait_idle(page)
                for m, times in saliency_methods(page, args.runs).items():
                    results[f"saliency: {m}"] = summary(f"saliency: {m}", times)


if __name__ == "__main__":
    raise SystemExit(main())
