"""Peak memory and time of the views that run many images through a network at once (by hand).

    .venv/bin/python bench/batch_memory.py factor [--cap-gb 4]
    .venv/bin/python bench/batch_memory.py views [--root DIR] [--nets widest seed]
        [--tasks occlusion ig smoothgrad trust atlas featvis] [--repeat 3] [--cap-gb 4]
        [--json PATH]

What it measures, step by step: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # (run as a script: bench/ is on the path, not the checkout)
    sys.path.insert(0, str(ROOT))
from bench.networks import widest  # noqa: E402

GB = 1_000_000_000
MB = 1_000_000
TASKS = ("occlusion", "ig", "smoothgrad", "trust", "atlas", "featvis")


# ---------------------------------------------------------------------------------------------
# The child: one measurement
# ---------------------------------------------------------------------------------------------

def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _network(name: str):
    import torch

    from model.zoo import build, build_from_config
    torch.manual_seed(0)
    model = build_from_config("widest", widest()) if name == "widest" else build(name)
    return model.eval()


def _digits(n: int):
    import numpy as np
    with np.load(ROOT / "checkpoints" / "samples.npz") as d:
        images = d["images"]
    return images[np.arange(n) % len(images)]


def _task(spec: dict):
    """(warm-up, measured) callables for one measurement."""
    import torch

    from model.insight.activations import as_input, capture
    model = _network(spec["net"])
    task, batch = spec["task"], int(spec.get("batch", 1))

    if task in ("forward", "keep", "backward"):
        def run(n: int):
            x = torch.randn(n, 1, 28, 28)
            if task == "forward":
                with torch.no_grad():
                    model(x)
            elif task == "keep":
                names = [name for name, _ in model.named_children()]
                with capture(model, names) as store, torch.no_grad():
                    store["model"](x)
            else:
                x.requires_grad_(True)
                out = model(x)[:, 0].sum()
                torch.autograd.grad(out, x)
        return (lambda: run(1)), (lambda: run(batch))

    from model import saliency
    x = as_input(_digits(1)[0])
    if task in ("occlusion", "ig", "smoothgrad"):
        def one() -> None:
            saliency.attribute(task, model, x, 3, layer="relu1", window=3, stride=1)
        return (lambda: saliency.attribute("saliency", model, x, 3)), one
    if task == "trust":
        from model import trust
        images = _digits(10)
        return ((lambda: saliency.attribute("saliency", model, x, 3)),
                lambda: trust.trust_table(model, images, methods=("saliency", "ig", "occlusion")))
    if task == "atlas":
        from model import atlas
        images = _digits(500)
        return (lambda: atlas.compute_atlas(model, images[:20])), (
            lambda: atlas.compute_atlas(model, images))
    if task == "featvis":
        from model.insight import featvis
        from model.insight.activations import forward_to
        settings = featvis.Settings(steps=5, polish=2)
        with torch.no_grad():
            width = forward_to(model, torch.zeros(1, 1, 28, 28), "relu1").shape[1]
        return ((lambda: featvis.synthesize(model, "relu1", [0], settings)),
                lambda: featvis.synthesize(model, "relu1", list(range(min(32, width))),
                                           settings))
    raise ValueError(f"unknown task {task!r}")


def child(spec: dict) -> dict:
    sys.path.insert(0, spec["root"])
    import torch
    torch.set_num_threads(1)
    warm, run = _task(spec)
    warm()
    before = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    t = time.perf_counter()
    try:
        run()
    except (RuntimeError, MemoryError) as exc:
        return {**spec, "error": str(exc).splitlines()[0][:160],
                "peak_mb": round(_status("VmHWM") / MB, 1)}
    seconds = time.perf_counter() - t
    return {**spec, "seconds": round(seconds, 3),
            "peak_extra_mb": round((_status("VmHWM") - before) / MB, 1),
            "peak_mb": round(_status("VmHWM") / MB, 1)}


# ---------------------------------------------------------------------------------------------
# The parent: capped children
# ---------------------------------------------------------------------------------------------

def measure(spec: dict, cap_gb: float) -> dict:
    cap = int(cap_gb * GB)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    proc = subprocess.run([sys.executable, __file__, "child", json.dumps(spec)],
                          capture_output=True, text=True, preexec_fn=limit, cwd=spec["root"],
                          timeout=1800)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {**spec, "error": f"exit {proc.returncode}: {tail[:160]}"}
    return json.loads(lines[-1])


def estimate(net: str) -> dict:
    sys.path.insert(0, str(ROOT))
    from model.architectures import get
    from viz.network.layers import (
        BACKWARD_FACTOR,
        FLOAT_BYTES,
        INPUT_ELEMENTS,
        activation_elements,
        describe,
        images_per_batch,
    )
    infos = describe(widest() if net == "widest" else get(net).layers())
    kept = FLOAT_BYTES * (INPUT_ELEMENTS + activation_elements(infos))
    pairs, prev = 0, INPUT_ELEMENTS
    for info in infos:
        pairs, prev = max(pairs, prev + info.elements), info.elements
    return {"forward": FLOAT_BYTES * pairs, "keep": kept, "backward": kept,
            "factor": BACKWARD_FACTOR,
            "per_batch": {k: images_per_batch(infos, backward=k == "backward",
                                              keep=k == "keep")
                          for k in ("forward", "keep", "backward")}}


def factor(args: argparse.Namespace) -> list[dict]:
    rows = []
    for net, batch in (("widest", 24), ("seed", 256)):
        est = estimate(net)
        for task in ("forward", "keep", "backward"):
            r = measure({"root": str(ROOT), "net": net, "task": task, "batch": batch},
                        args.cap_gb)
            if "peak_extra_mb" in r:
                per_image = r["peak_extra_mb"] * MB / batch
                r["measured_bytes_per_image"] = int(per_image)
                r["arithmetic_bytes_per_image"] = est[task]
                r["ratio"] = round(per_image / est[task], 2)
            r["images_per_64mb_batch"] = est["per_batch"][task]
            rows.append(r)
            print(json.dumps(r), flush=True)
    return rows


def views(args: argparse.Namespace) -> list[dict]:
    rows = []
    for net in args.nets:
        for task in args.tasks:
            runs = [measure({"root": str(Path(args.root).resolve()), "net": net, "task": task},
                            args.cap_gb) for _ in range(args.repeat)]
            ok = [r for r in runs if "seconds" in r]
            row = dict(runs[-1])
            if ok:
                row["seconds"] = round(statistics.median(r["seconds"] for r in ok), 3)
                row["seconds_all"] = [r["seconds"] for r in ok]
                row["peak_extra_mb"] = max(r["peak_extra_mb"] for r in ok)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        print(json.dumps(child(json.loads(argv[1]))), flush=True)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("factor", "views"))
    parser.add_argument("--root", default=str(ROOT), help="the checkout to measure")
    parser.add_argument("--nets", nargs="+", default=["widest", "seed"])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--cap-gb", type=float, default=4.0)
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args(argv)
    rows = factor(args) if args.mode == "factor" else views(args)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
