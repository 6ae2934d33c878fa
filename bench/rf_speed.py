"""How fast is the receptive-field table? Target: a 200-layer network in under 10 ms.

    python bench/rf_speed.py [--layers 200] [--repeats 200] [--input-size 224]

Builds a ResNet-like spec (stem, residual blocks with 1x1 stride-2 shortcuts every few blocks,
global pooling head) of exactly ``--layers`` layers and prints the median time of one full
``compute`` (parse, validate, order, all fields) over the repeats, plus one region query of the
last spatial layer.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from viz.receptive_field import compute  # noqa: E402


def resnet_like(n_layers: int) -> list[dict]:
    """A residual network spec with exactly ``n_layers`` layers (at least 8)."""
    layers: list[dict] = [
        {"name": "stem", "type": "conv", "kernel": 7, "stride": 2, "padding": 3},
        {"name": "stem_bn", "type": "bn"}, {"name": "stem_relu", "type": "relu"},
        {"name": "stem_pool", "type": "maxpool", "kernel": 3, "stride": 2, "padding": 1},
    ]
    head = [{"name": "gap", "type": "gap"}, {"name": "flatten", "type": "flatten"},
            {"name": "fc", "type": "linear"}]
    block, previous = 0, "stem_pool"
    while True:
        down = block % 6 == 5
        b = f"b{block}"
        body = [
            {"name": f"{b}_conv1", "type": "conv", "kernel": 3, "stride": 2 if down else 1,
             "padding": 1, "inputs": [previous]},
            {"name": f"{b}_bn1", "type": "bn"}, {"name": f"{b}_relu1", "type": "relu"},
            {"name": f"{b}_conv2", "type": "conv", "kernel": 3, "padding": 1},
            {"name": f"{b}_bn2", "type": "bn"},
        ]
        shortcut = previous
        if down:
            body.append({"name": f"{b}_short", "type": "conv", "kernel": 1, "stride": 2,
                         "inputs": [previous]})
            shortcut = f"{b}_short"
        body += [{"name": f"{b}_add", "type": "add", "inputs": [f"{b}_bn2", shortcut]},
                 {"name": f"{b}_relu", "type": "relu"}]
        if len(layers) + len(body) + len(head) > n_layers:
            break
        layers += body
        previous, block = f"{b}_relu", block + 1
    while len(layers) + len(head) < n_layers:  # pad with elementwise layers to the exact count
        layers.append({"name": f"extra{len(layers)}", "type": "dropout"})
    return layers + head


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--input-size", type=int, default=224)
    args = parser.parse_args()

    spec = resnet_like(args.layers)
    assert len(spec) == args.layers
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        fields = compute(spec, args.input_size)
        times.append(time.perf_counter() - start)
    last_spatial = [f for f in fields if not f.is_global][-1]
    h, w = last_spatial.output_size
    region_times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        last_spatial.region(h // 2, w // 2)
        region_times.append(time.perf_counter() - start)
    print(f"{len(spec)}-layer network, input {args.input_size}x{args.input_size}: "
          f"full table median {statistics.median(times) * 1e3:.2f} ms "
          f"(min {min(times) * 1e3:.2f}, max {max(times) * 1e3:.2f}, {args.repeats} repeats); "
          f"one region query ({last_spatial.name}, rf {last_spatial.rf[0]}) median "
          f"{statistics.median(region_times) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
