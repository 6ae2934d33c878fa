"""Per-stroke time of each attribution method in the browser (attribute.js), in headless Chromium.

    python bench/browser_attribution.py [--network seed] [--strokes 5] [--runs 3]
                                        [--json bench/results/browser_attribution.json]

A blank page loads the modules attributeNet needs (``viz.browser.lens.ATTRIBUTE_JS``) and the
lens payload of a shipped checkpoint (``viz.browser.lens.payload``). A stroke is a new digit (one of
the shipped samples, so no forward pass is reused from the stroke before): for each method, the
time of ``attributeNet(net, method, pixels, {})`` (the predicted digit, the explorer's first
layer, seed 0) from the new pixels to the map, median over ``--strokes`` digits x ``--runs``.
``all four`` is Saliency, Grad-CAM, Guided Backprop and DeepLift on one stroke, sharing its one
forward pass. Integrated Gradients, SmoothGrad and Occlusion also run as the live views run them:
in a pool of Web Workers (``attributionPool``: one worker, then one per core the browser reports,
each computing a share of the map), while the page's main thread counts its longest stall (a 4 ms
timer's largest lateness): the pen's budget; the same watch with nothing running gives the
stalls the machine makes by itself.

Targets (per stroke): saliency, gradcam, guided, deeplift <= 50 ms; ig, smoothgrad <= 300 ms;
occlusion <= 1.5 s (the last three in the workers, as the live views run them). The machine's load average is recorded: on a shared 2-core machine the
times move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.server import browser  # noqa: E402

TARGETS_MS = {"saliency": 50, "gradcam": 50, "guided": 50, "deeplift": 50, "ig": 300,
              "smoothgrad": 300, "occlusion": 1500}
FAST = ("saliency", "gradcam", "guided", "deeplift")
SLOW = ("ig", "smoothgrad", "occlusion")  # the live views run these in a pool of workers

PAGE_JS = """
Object.assign(window, { decodeNet, attributeNet, attributionPool, poolSize });
window.timeMethod = (method, images) => images.map((px) => {
  const t = performance.now();
  attributeNet(window.benchNet, method, px, {});
  return performance.now() - t;
});
window.timeFour = (methods, images) => images.map((px) => {
  const t = performance.now();
  for (const m of methods) attributeNet(window.benchNet, m, px, {});
  return performance.now() - t;
});
window.ready = true;
"""

WORKER_JS = """async ([src, payload, images, methods, sizes]) => {
  const watch = async (work) => { // work's time and the main thread's longest stall meanwhile
    let worst = 0, last = performance.now(), on = true;
    const tick = () => { const now = performance.now(); worst = Math.max(worst, now - last - 4);
                         last = now; if (on) setTimeout(tick, 4); };
    setTimeout(tick, 4);
    const t = performance.now();
    await work();
    on = false;
    return [performance.now() - t, worst];
  };
  const out = {};
  for (const n of sizes) {
    const pool = attributionPool(src, n);
    await pool.run(payload, "ig", images[0], {}); // every worker decodes the net once, warm
    out[n] = {};
    for (const m of methods) {
      out[n][m] = [];
      for (const px of images) out[n][m].push(await watch(() => pool.run(payload, m, px, {})));
    }
    pool.close();
  }
  // the same watch with nothing to do, as long as a median run: the stalls the machine makes
  const idle = await watch(() => new Promise((done) => setTimeout(done, 500)));
  return { sizes: out, idle: idle[1], cores: navigator.hardwareConcurrency };
}"""


def measure(network: str, strokes: int, runs: int) -> dict:
    import numpy as np

    from model.store import load_samples, shipped_checkpoints
    from viz.browser import lens
    from viz.network import npforward
    payload = lens.payload(npforward.load(shipped_checkpoints()[network]))
    if not payload["supported"]:
        raise SystemExit(f"{network}: the lens does not run it ({payload['reason']})")
    images, labels = load_samples()
    picks = [int(np.flatnonzero(labels == d)[0]) for d in range(10)][:strokes]
    digits = [images[i].reshape(-1).tolist() for i in picks]
    source = "\n".join((ROOT / "ui" / "components" / "js" / f"{m}.js").read_text(encoding="utf-8")
                        for m in lens.ATTRIBUTE_JS)
    rows: dict[str, dict] = {}
    with browser(400, 300) as page:
        page.set_content(f'<script type="module">{source}\n{PAGE_JS}</script>')
        page.wait_for_function("() => window.ready === true", timeout=30_000)
        page.evaluate("(p) => { window.benchNet = decodeNet(p); }", payload)
        page.evaluate("([m, ims]) => window.timeMethod(m, ims)", ["saliency", digits[:1]])  # warm
        for method in TARGETS_MS:
            times: list[float] = []
            for _ in range(runs):
                times += page.evaluate("([m, ims]) => window.timeMethod(m, ims)", [method, digits])
            rows[method] = {"median_ms": round(statistics.median(times), 1),
                            "max_ms": round(max(times), 1), "target_ms": TARGETS_MS[method],
                            "met": statistics.median(times) <= TARGETS_MS[method]}
        four: list[float] = []
        for _ in range(runs):
            four += page.evaluate("([m, ims]) => window.timeFour(m, ims)", [list(FAST), digits])
        sizes = sorted({1, page.evaluate("() => poolSize()")})
        worker = page.evaluate(WORKER_JS, [source, payload, digits, list(SLOW), sizes])
    in_workers = {
        f"{n} worker{'s' if int(n) > 1 else ''}": {
            m: {"median_ms": round(statistics.median(r[0] for r in runs_), 1),
                "longest main-thread stall_ms": round(max(r[1] for r in runs_), 1),
                "met": statistics.median(r[0] for r in runs_) <= TARGETS_MS[m]}
            for m, runs_ in by_method.items()}
        for n, by_method in worker["sizes"].items()}
    return {
        "network": network, "strokes": len(digits), "runs": runs, "methods": rows,
        "all four on one stroke_ms": round(statistics.median(four), 1),
        "in workers (what the live views use)": in_workers,
        "browser's cores": worker["cores"],
        "longest stall with nothing running_ms": round(worker["idle"], 1),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--network", default="seed")
    p.add_argument("--strokes", type=int, default=5)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    result = measure(a.network, max(1, min(a.strokes, 10)), max(1, a.runs))
    text = json.dumps(result, indent=1)
    print(text)
    if a.json:
        a.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
