"""Time and peak memory to accept an uploaded checkpoint and show its first digit, and the torch
forward passes per digit, through ``ui/cache.py`` outside Streamlit (bare mode).

    .venv/bin/python bench/upload_path.py [--root DIR] [--network seed|widest|seed-original]
        [--no-torch-first] [--out bench/results/upload_path]

What it measures, step by step: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHILD = r"""
import hashlib, json, sys, time
from pathlib import Path
import numpy as np

def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0

args = json.loads(sys.argv[1])
data = Path(args["file"]).read_bytes()
name = args["network"] + ".safetensors"
if args["torch_first"]:
    import torch
    torch.set_num_threads(1)
    import model.insight.activations, model.files.checkpoint, model.insight.erf, model.saliency  # noqa
import streamlit as st
from model.store import ModelRef
from ui import cache
from viz.browser import lens

passes = {"calls": 0, "images": 0}
hooked = False
def hook_torch():
    global hooked
    if hooked or "torch" not in sys.modules:
        return
    import torch
    def pre(module, inputs):
        x = inputs[0] if inputs else None
        if (isinstance(x, torch.Tensor) and x.dim() == 4 and tuple(x.shape[1:]) == (1, 28, 28)
                and not isinstance(module, torch.nn.Sequential)):
            passes["calls"] += 1
            passes["images"] += int(x.shape[0])
    torch.nn.modules.module.register_module_forward_pre_hook(pre)
    hooked = True

hook_torch()
images, _ = cache.samples()
digest = hashlib.sha256(data).hexdigest()
st.session_state["model.upload"] = {"name": name, "data": data, "digest": digest}
ref = ModelRef.upload(digest)
rows = {}
Path("/proc/self/clear_refs").write_text("5")
base = status("VmRSS")
t0 = time.perf_counter()
def step(label, f):
    t = time.perf_counter()
    out = f()
    hook_torch()
    rows[label] = round(time.perf_counter() - t, 4)
    return out
step("accept (upload_model)", lambda: cache.upload_model(digest, data, name))
step("facts (model_facts)", lambda: cache.model_facts(ref))
acts, probs = step("digit 1 (forward)", lambda: cache.forward(ref, images[0]))
step("field table", lambda: cache.field_table(ref))
step("lens payload", lambda: lens.payload(cache.numpy_net(ref)))
first = time.perf_counter() - t0
peak_first = status("VmHWM") - base
torch_loaded_first = "torch" in sys.modules
passes_first = dict(passes)
step("digit 2 (forward)", lambda: cache.forward(ref, images[1]))
passes_second = {k: passes[k] - passes_first[k] for k in passes}
layer = next(n for n, a in acts.items() if a.ndim == 3)
a = acts[layer]
c, y, x = np.unravel_index(int(np.argmax(a)), a.shape)
before_grad = dict(passes)
step("gradient view (unit_maps)", lambda: cache.unit_maps(ref, images[0], layer, (int(c), int(y), int(x))))
print(json.dumps({
    "network": args["network"], "rows": rows, "first_digit_seconds": round(first, 4),
    "peak_rss_first_digit": peak_first, "peak_rss_with_gradient_view": status("VmHWM") - base,
    "torch_imported_before_gradient_view": torch_loaded_first,
    "torch_passes_first_digit": passes_first, "torch_passes_second_digit": passes_second,
    "torch_passes_gradient_view": {k: passes[k] - before_grad[k] for k in passes},
    "prediction": int(np.argmax(probs))}))
"""


def network(name: str) -> tuple[list[dict], str]:
    from bench.networks import widest
    from model.architectures import ARCHITECTURES
    if name == "widest":
        return widest(), "widest"
    return ARCHITECTURES[name].layers(), name


def checkpoint_bytes(name: str) -> bytes:
    from bench.server_memory import checkpoint
    layers, arch = network(name)
    return checkpoint(layers, arch)


def measure(root: Path, name: str, torch_first: bool) -> dict:
    data = checkpoint_bytes(name)
    with tempfile.NamedTemporaryFile(suffix=".safetensors", delete=False) as f:
        f.write(data)
    try:
        env = {**os.environ, "PYTHONPATH": str(root)}
        out = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps({"file": f.name, "network": name,
                                                      "torch_first": torch_first})],
            cwd=root, env=env, capture_output=True, text=True, check=False)
    finally:
        os.unlink(f.name)
    if out.returncode:
        raise SystemExit(f"{root} {name}: failed\n{out.stderr[-3000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res.update(root=str(root), file_bytes=len(data))
    return res


def table(res: dict) -> list[str]:
    mb = 1e6
    lines = [f"{res['root']}: {res['network']} (file {res['file_bytes'] / mb:.1f} MB)"]
    for step, sec in res["rows"].items():
        lines.append(f"  {step:<28} {sec * 1000:9.1f} ms")
    lines.append(f"  accept + first digit: {res['first_digit_seconds'] * 1000:.0f} ms, peak RSS "
                 f"+{res['peak_rss_first_digit'] / mb:.0f} MB (+"
                 f"{res['peak_rss_with_gradient_view'] / mb:.0f} MB with the gradient view)")
    grad = res["torch_passes_gradient_view"]
    counted = res["torch_imported_before_gradient_view"]  # the hook needs torch imported
    lines.append(f"  torch passes: first digit {res['torch_passes_first_digit']['calls']}, "
                 f"second digit {res['torch_passes_second_digit']['calls']}, gradient view "
                 + (f"{grad['calls']} ({grad['images']} images)" if counted else
                    "not counted (torch imported during it)"))
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=ROOT, help="checkout whose ui/cache.py runs")
    ap.add_argument("--network", action="append", choices=["seed", "widest", "seed-original"])
    ap.add_argument("--no-torch-first", action="store_true")
    ap.add_argument("--repeat", type=int, default=1, help="runs per network (fresh processes)")
    ap.add_argument("--label", default="")
    ap.add_argument("--out", type=Path, default=None, help="append to OUT.txt and OUT.json")
    args = ap.parse_args()
    runs = []
    lines = [f"## {args.label}"] if args.label else []
    for name in args.network or ["seed", "widest"]:
        for _ in range(args.repeat):
            res = measure(args.root.resolve(), name, not args.no_torch_first)
            res.update(label=args.label, when=time.strftime("%Y-%m-%d %H:%M"))
            runs.append(res)
            lines += table(res)
    print("\n".join(lines))
    if args.out is not None:
        from bench.networks import append_results
        append_results(args.out, lines, runs)


if __name__ == "__main__":
    main()
