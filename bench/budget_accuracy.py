"""Benchmark: how close the training-time estimate is to real training steps on this machine.

    python bench/budget_accuracy.py [--batch 128] [--steps 2]

Calibrates the budget here (``budget.measure``), then times real training steps of tables the
calibration never saw, each heavy in a different kind of work, and prints estimate / measured per
table. The estimate is meant to be within 3x either way; a machine's speed decides this, so it
is checked here, never in the tests.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model.training import budget  # noqa: E402
from model.zoo import ARCHITECTURES  # noqa: E402
from viz.network.layers import describe  # noqa: E402
from viz.teaching.lab import rows_to_layers  # noqa: E402


def conv(ch: int, k: int = 3, s: int = 1, p: int = 0) -> dict:
    return {"type": "conv", "channels": ch, "kernel": k, "stride": s, "padding": p}


def pool(k: int, s: int | None = None, p: int = 0, kind: str = "maxpool") -> dict:
    return {"type": kind, "kernel": k, "stride": s or k, "padding": p}


RELU, BN, GAP, FLAT = {"type": "relu"}, {"type": "bn"}, {"type": "gap"}, {"type": "flatten"}
LINEAR_10 = {"type": "linear", "channels": 10}

# A spread of tables, each heavy in a different kind of work (scaled to a few ms per step).
SPREAD = {
    "pool stack": rows_to_layers([conv(4, 1), *[pool(15, 1, 7)] * 3, pool(28), conv(10, 1),
                                  FLAT]),
    "plain 64": rows_to_layers([conv(64, 3, 1, 1), RELU, conv(64, 3, 1, 1), RELU, pool(2),
                                conv(64, 3, 1, 1), RELU, pool(2), FLAT, LINEAR_10]),
    "wide 1x1": rows_to_layers([conv(200, 1), RELU, pool(28), conv(10, 1), FLAT]),
    "seed": ARCHITECTURES["seed"].layers(),
    "compact": ARCHITECTURES["compact"].layers(),
    "mlp": rows_to_layers([FLAT, {"type": "linear", "channels": 1000}, RELU,
                           {"type": "linear", "channels": 1000}, RELU, LINEAR_10]),
    "gap-ended": rows_to_layers([conv(16, 3, 1, 1), BN, RELU, conv(16, 3, 1, 1), RELU, pool(2),
                                 conv(10, 3), GAP]),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=2)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    tp = budget.measure()
    print(f"host {platform.node()}: overhead {tp.overhead_s * 1e6:.1f} us/image, "
          f"conv {tp.conv_s * 1e12:.1f} ps/MAC, linear {tp.linear_s * 1e12:.1f} ps/MAC, "
          f"element {tp.element_s * 1e9:.2f} ns, window {tp.window_s * 1e9:.2f} ns")
    worst = 1.0
    for name, layers in SPREAD.items():
        measured = budget._time_steps(layers, batch=args.batch, steps=args.steps)
        ratio = tp.seconds_per_image(budget.cost(describe(layers))) / measured
        worst = max(worst, ratio, 1 / ratio)
        print(f"{name:>10}: measured {measured * 1e6:8.1f} us/image, estimate/measured {ratio:.2f}")
    print(f"worst factor {worst:.2f} (target: within 3x)")
    return 0 if worst <= 3 else 1


if __name__ == "__main__":
    sys.exit(main())
