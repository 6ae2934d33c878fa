"""What each explorer view costs on the shipped seed-original (by hand): time and peak memory of
every computation a view runs, and whether the page waits for it (before) or not (now).

    .venv/bin/python bench/seed_original_views.py [--tasks ...] [--cap-gb 4]
        [--json bench/results/seed_original_views.json]

What it measures, step by step: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CKPT = ROOT / "checkpoints" / "seed-original.safetensors"
GB, MB = 1_000_000_000, 1_000_000
LAYER, TARGET = "relu5", 3
METHODS = ("saliency", "ig", "smoothgrad", "guided", "deeplift", "occlusion", "gradcam")
TASKS = ("forward",) + METHODS + ("unit", "featvis1", "trust1", "atlas_shipped",
                                  "predictions_shipped", "lens_payload")


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _job(task: str):
    """(warm-up, measured) callables for one task."""
    import numpy as np

    from model.files.checkpoint import load_checkpoint
    from model.insight.activations import as_input
    from viz.network.layers import describe
    model, _ = load_checkpoint(CKPT)
    with np.load(ROOT / "checkpoints" / "samples.npz") as d:
        image = d["images"][0]
    x = as_input(image)
    row = {i.name: i for i in describe(model.layer_config)}[LAYER]
    from model import saliency
    from model.saliency.occlusion import defaults
    window, stride = defaults(row.r, row.stride)

    def cheap() -> None:
        saliency.attribute("saliency", model, x, TARGET)

    if task == "forward":
        from viz.network import npforward
        net = npforward.load(CKPT)
        return (lambda: npforward.forward(net, image)), (lambda: npforward.forward(net, image))
    if task in METHODS:
        return cheap, (lambda: saliency.attribute(task, model, x, TARGET, layer=LAYER,
                                                  window=window, stride=stride))
    if task == "unit":
        from model.insight.erf import effective_field
        from model.saliency import neuron_attribution

        def unit() -> None:
            effective_field(model, LAYER, (0, 14, 14), x)
            neuron_attribution(model, x, LAYER, (0, 14, 14))
        return cheap, unit
    if task == "featvis1":
        from model.insight import featvis
        return cheap, (lambda: featvis.synthesize(model, LAYER, [0]))
    if task == "trust1":
        from model import trust
        images, _ = trust.fixed_digits(1)
        return cheap, (lambda: (trust.trust_table(model, images),
                                trust.random_order_aucs(model, images)))
    if task == "atlas_shipped":
        from model import atlas
        return cheap, (lambda: atlas.stored_atlas(CKPT))
    if task == "predictions_shipped":
        from model.files.shipped import load_shipped
        return cheap, (lambda: load_shipped(CKPT))
    if task == "lens_payload":
        from viz.browser import lens
        from viz.network import npforward
        net = npforward.load(CKPT)
        return (lambda: None), (lambda: lens.payload(net))
    raise ValueError(f"unknown task {task!r}")


def child(task: str) -> dict:
    import torch
    torch.set_num_threads(1)
    warm, run = _job(task)
    warm()
    before = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    t = time.perf_counter()
    try:
        out = run()
    except (RuntimeError, MemoryError) as exc:
        return {"task": task, "error": str(exc).splitlines()[0][:160]}
    seconds = time.perf_counter() - t
    rec = {"task": task, "seconds": round(seconds, 3),
           "peak_extra_mb": round((_status("VmHWM") - before) / MB, 1),
           "peak_mb": round(_status("VmHWM") / MB, 1)}
    if task == "lens_payload":
        rec["payload_json_mb"] = round(len(json.dumps(out)) / MB, 3)
        rec["weight_text_mb"] = round(out["weight_text"] / MB, 2)
    return rec


def measure(task: str, cap_gb: float) -> dict:
    cap = int(cap_gb * GB)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    proc = subprocess.run([sys.executable, __file__, "child", task], capture_output=True,
                          text=True, preexec_fn=limit, cwd=ROOT, timeout=1800)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"task": task, "error": f"exit {proc.returncode}: {tail[:160]}"}
    return json.loads(lines[-1])


def where(task: str) -> tuple[str, str, int]:
    """(before, now, multiply-adds) of a task as the views count them."""
    from model.architectures import get
    from model.training.costs import (
        BACKGROUND_MACS,
        INLINE_MACS,
        featvis_macs,
        macs_to,
        map_macs,
        trust_macs,
    )
    from viz.network.layers import describe
    table = describe(get("seed-original").layers())
    macs = sum(int(i.macs) for i in table)
    row = {i.name: i for i in table}[LAYER]
    from model.saliency.occlusion import defaults
    window, stride = defaults(row.r, row.stride)
    if task in METHODS:
        m = map_macs(task, macs, window, stride)
        return "inline", "inline" if m <= INLINE_MACS else "background", m
    if task == "forward":
        return "inline", "inline", macs
    if task == "unit":
        return "inline", "inline", 6 * macs
    if task == "featvis1":
        whole = featvis_macs(512, macs_to(table, LAYER))
        return ("background (whole layer, 512x)",
                "on request" if whole > BACKGROUND_MACS else "background",
                featvis_macs(1, macs_to(table, LAYER)))
    if task == "trust1":
        return "background (100 digits, 100x)", "on request", trust_macs(1, macs)
    if task in ("atlas_shipped", "predictions_shipped"):
        return ("background (atlas over 10,000)" if task == "atlas_shipped"
                else "inline (10,000 digits)"), "shipped", 10_000 * macs
    return "inline (22 MB to the browser, 16 s a stroke)", "refused: server's maps", macs


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 2 and sys.argv[1] == "child":
        print(json.dumps(child(sys.argv[2])), flush=True)
        return 0
    ap = argparse.ArgumentParser(prog="bench/seed_original_views.py")
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    ap.add_argument("--cap-gb", type=float, default=4.0)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    rows = []
    for task in a.tasks:
        r = measure(task, a.cap_gb)
        r["before"], r["now"], r["macs"] = where(task)
        rows.append(r)
        print(json.dumps(r), flush=True)
    print(f"\n{'task':22} {'GMAC':>9} {'seconds':>9} {'peak MB':>8}  before -> now")
    for r in rows:
        print(f"{r['task']:22} {r['macs'] / 1e9:9.1f} {r.get('seconds', float('nan')):9.2f} "
              f"{r.get('peak_extra_mb', float('nan')):8.1f}  {r['before']} -> {r['now']}"
              + (f"  ERROR {r['error']}" if "error" in r else ""))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
