"""Occlusion: the app's map against Captum's ``Occlusion``, the same map (run by hand).

    .venv/bin/python bench/occlusion_speed.py [--models seed fast] [--digits 6]
                                              [--out bench/results/occlusion_speed.txt]

Per shipped model and window (3, 5, 7 and 14 at stride 1, the windows of the layers a class
opens), one torch thread and one BLAS thread: the time of one digit's map by
``model.saliency.occlusion`` and by Captum's ``Occlusion`` with the same passes
(``MOST_PATCHES`` positions each), interleaved digit by digit so that the machine's load weighs
on both alike (median over ``--digits`` shipped samples); and the largest difference between the
two maps, against the largest score. The app's map skips the windows that hide no ink (their
drop is 0) and builds its passes as whole-array operations.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from model.files.checkpoint import load_checkpoint  # noqa: E402
from model.insight.activations import as_input  # noqa: E402
from model.saliency.base import BLACK, Options  # noqa: E402
from model.saliency.occlusion import MOST_PATCHES, occlusion, starts  # noqa: E402
from model.store import load_samples  # noqa: E402

WINDOWS = (3, 5, 7, 14)


def captum(model, x: torch.Tensor, target: int, window: int) -> np.ndarray:
    from captum.attr import Occlusion
    return Occlusion(model).attribute(
        x, sliding_window_shapes=(1, window, window), strides=(1, 1, 1), baselines=BLACK,
        target=target, perturbations_per_eval=MOST_PATCHES)[0, 0].detach().numpy()


def run(models: list[str], digits: int) -> list[str]:
    from threadpoolctl import threadpool_limits
    torch.set_num_threads(1)
    threadpool_limits(1, "blas")
    images, labels = load_samples()
    lines = [f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')} · load average "
             f"{' '.join(f'{v:.2f}' for v in __import__('os').getloadavg())} · "
             f"{digits} digits each, median",
             f"{'model':<10} {'window':>6} {'windows':>8} {'captum ms':>10} {'app ms':>8} "
             f"{'speed-up':>9} {'max diff / score':>17}"]
    for name in models:
        model, _ = load_checkpoint(ROOT / "checkpoints" / f"{name}.safetensors")
        model.eval()
        for window in WINDOWS:
            theirs, ours, diff = [], [], 0.0
            for k in range(digits):
                x, target = as_input(images[10 + k]), int(labels[10 + k])
                t = time.perf_counter()
                want = captum(model, x.clone(), target, window)
                theirs.append(time.perf_counter() - t)
                t = time.perf_counter()
                got = occlusion(model, x, target, Options(window=window, stride=1))
                ours.append(time.perf_counter() - t)
                with torch.no_grad():
                    score = float(model(x)[0, target].abs())
                diff = max(diff, float(np.abs(got - want).max()) / max(score, 1.0))
            a, b = statistics.median(theirs) * 1000, statistics.median(ours) * 1000
            lines.append(f"{name:<10} {window:>6} {len(starts(28, window, 1)) ** 2:>8} "
                         f"{a:>10.0f} {b:>8.0f} {a / b:>8.2f}x {diff:>17.1e}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["seed", "fast"])
    ap.add_argument("--digits", type=int, default=6)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if not 1 <= args.digits <= 200:
        ap.error("--digits must be 1..200")
    text = "\n".join(run(args.models, args.digits))
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
