"""Per-stroke time of the live attribution maps in headless Chromium, on the app's own pages.

    python bench/live_attribution.py [--model seed] [--strokes 20] [--out bench/results/live_attribution]

For each method of the Saliency view, and for the All methods grid (with its sanity row), opens
``?model=M&sample=4&layer=relu5&view=...``, draws ``--strokes`` pen moves on the view's pad and
reads the panel's hooks (``window.cnnSaliency``): ``lastLiveMs``, from the pen event to the
quick maps drawn on the page's thread (Saliency, Guided Backprop, DeepLift, Grad-CAM: the pen
waits on this), and for the Web Worker's maps (Integrated Gradients, SmoothGrad, Occlusion: the
pen never waits on them) ``lastWorkerMs`` (a map's round trip to the worker) and ``lastWorkerLagMs``
(from a stroke to its map drawn; the newest stroke wins). Medians and 95th percentiles go to
``OUT.json`` and ``OUT.txt``. Loopback only; at most 200 strokes per page.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server import browser, server, wait_idle  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("saliency", "guided", "deeplift", "gradcam", "ig", "smoothgrad", "occlusion")
PAD = "[data-testid=saliency-map] canvas.pad"


def _pct(values: list[float], q: float) -> float | None:
    v = sorted(x for x in values if x is not None)
    return None if not v else v[min(len(v) - 1, round(q * (len(v) - 1)))]


def _summary(values: list[float]) -> dict[str, float | None]:
    v = [x for x in values if x is not None]
    return {"n": len(v), "median": statistics.median(v) if v else None, "p95": _pct(v, 0.95)}


def measure(page, url: str, strokes: int, worker: bool) -> dict[str, dict]:
    """Draw ``strokes`` pen moves on the page's pad; the hooks' times per stroke."""
    page.goto(url)
    page.wait_for_function("() => window.cnnSaliency && window.cnnSaliency.live && "
                           "window.cnnSaliency.live.waiting.size === 0", timeout=180_000)
    wait_idle(page, 60_000)
    box = page.locator(PAD).bounding_box()
    live, lag, work = [], [], []
    page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.2 * box["height"])
    page.mouse.down()
    for k in range(strokes):
        before = page.evaluate("() => window.cnnSaliency.updates")
        t = (k + 1) / strokes
        page.mouse.move(box["x"] + (0.5 - 0.2 * t) * box["width"],
                        box["y"] + (0.2 + 0.6 * t) * box["height"])
        page.wait_for_function(f"() => window.cnnSaliency.updates > {before}", timeout=30_000)
        live.append(page.evaluate("() => window.cnnSaliency.lastLiveMs"))
        page.wait_for_timeout(50)  # a pen moves about every frame or three
    page.mouse.up()
    if worker:  # the last stroke's slow maps: until the worker is done
        page.wait_for_function("() => window.cnnSaliency.live.waiting.size === 0",
                               timeout=300_000)
        lag.append(page.evaluate("() => window.cnnSaliency.lastWorkerLagMs"))
        work.append(page.evaluate("() => window.cnnSaliency.lastWorkerMs"))
    return {"stroke_ms": _summary(live), "worker_map_ms": _summary(work),
            "last_stroke_to_worker_map_ms": _summary(lag)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="seed")
    ap.add_argument("--strokes", type=int, default=20)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "live_attribution")
    args = ap.parse_args(argv)
    strokes = max(1, min(args.strokes, 200))
    rows: dict[str, dict] = {}
    with server() as url, browser(1280, 1000) as page:
        base = f"{url}?model={args.model}&sample=4&layer=relu5"
        for m in METHODS:
            rows[m] = measure(page, f"{base}&view=saliency&method={m}", strokes,
                              m in ("ig", "smoothgrad", "occlusion"))
            print(m, json.dumps(rows[m]), flush=True)
        rows["all methods"] = measure(page, f"{base}&view=compare", strokes, True)
        print("all methods", json.dumps(rows["all methods"]), flush=True)
    result = {"model": args.model, "strokes": strokes, "layer": "relu5",
              "when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": platform.platform(),
              "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [f"live attribution on {args.model} (layer relu5), {strokes} pen moves per view, "
             f"headless Chromium; ms: median / p95"]
    def fmt(d: dict) -> str:
        return "-" if d["median"] is None else f"{d['median']:.1f} / {d['p95']:.1f}"

    for name, r in rows.items():
        s, w, g = r["stroke_ms"], r["worker_map_ms"], r["last_stroke_to_worker_map_ms"]
        lines.append(f"{name:12s} stroke (page thread) {fmt(s):>15s}   worker map {fmt(w):>15s}"
                     f"   stroke -> worker map {fmt(g):>15s}")
    args.out.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
