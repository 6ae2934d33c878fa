"""How fast the channel atlas, feature visualization and trust table are (run by hand).

    MNIST_DIR=... python bench/atlas_speed.py [--models seed fast] [--rate] [--json PATH]

Per shipped model, one torch thread: the whole network's atlas over the 10,000 test digits
(computed, not read from a cache; target <= 10 s), one channel's feature visualization (the
deepest atlas layer's channels 0..4, the median and the slowest; target <= 2 s), the trust table
for 100 digits and all 7 methods (target <= 60 s). ``--rate`` also runs feature visualization
on every channel of every atlas layer and reports how often the synthesized input excites its
channel at least as much as the best test digit. The load average is recorded: the machine is
shared, so compare within one run.
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

import numpy as np  # noqa: E402
import torch  # noqa: E402

from model import atlas as atlas_mod  # noqa: E402
from model import trust  # noqa: E402
from model.data import load_mnist  # noqa: E402
from model.files.checkpoint import load_checkpoint, shipped_checkpoints  # noqa: E402
from model.insight import featvis  # noqa: E402


def bench_model(name: str, path: Path, images: torch.Tensor, rate: bool) -> dict:
    model, _ = load_checkpoint(path)
    out: dict = {"model": name}
    t = time.perf_counter()
    atlas = atlas_mod.compute_atlas(model, images, atlas_mod.file_sha256(path))
    out["atlas_s"] = round(time.perf_counter() - t, 2)
    out["atlas_layers"] = len(atlas.layers)
    out["atlas_channels"] = sum(la.channels for la in atlas.layers.values())
    deepest = list(atlas.layers)[-1]
    times = []
    for c in range(min(5, atlas.layer(deepest).channels)):
        t = time.perf_counter()
        featvis.synthesize(model, deepest, [c])
        times.append(time.perf_counter() - t)
    out["featvis_layer"] = deepest
    out["featvis_one_channel_median_s"] = round(statistics.median(times), 2)
    out["featvis_one_channel_max_s"] = round(max(times), 2)
    digits = images[:100].numpy()
    t = time.perf_counter()
    rows = trust.trust_table(model, digits)
    out["trust_100x7_s"] = round(time.perf_counter() - t, 2)
    out["trust"] = [r.record() for r in rows]
    out["verdict"] = trust.verdict(rows)
    out["random_order_aucs"] = [round(v, 4) for v in trust.random_order_aucs(model, digits)]
    if rate:
        passed = total = 0
        t = time.perf_counter()
        for layer, la in atlas.layers.items():
            synth = featvis.synthesize(model, layer, list(range(la.channels)))
            best = la.dataset_max
            ok = synth.values >= best - 1e-4 * np.abs(best) - 1e-5
            passed += int(ok.sum())
            total += la.channels
        out["featvis_beats_best_digit"] = f"{passed}/{total}"
        out["featvis_all_layers_s"] = round(time.perf_counter() - t, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python bench/atlas_speed.py")
    p.add_argument("--models", nargs="*", help="shipped names (default: all)")
    p.add_argument("--rate", action="store_true",
                   help="also feature-visualize every channel and count how many beat the best "
                        "test digit")
    p.add_argument("--json", default=str(ROOT / "bench" / "results" / "atlas_speed.json"))
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    images = load_mnist(download=False).test_images
    results = {"load_average_start": os.getloadavg(), "threads": 1, "models": []}
    for name, path in shipped_checkpoints().items():
        if a.models and name not in a.models:
            continue
        r = bench_model(name, path, images, a.rate)
        print(json.dumps({k: v for k, v in r.items() if k != "trust"}), flush=True)
        results["models"].append(r)
    results["load_average_end"] = os.getloadavg()
    Path(a.json).write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
