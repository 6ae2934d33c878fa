"""How far to trust a saliency map, in numbers: deletion, insertion and the randomization check.

Deletion and insertion curves (Petsiuk et al. 2018) and the Spearman correlation between the
maps of the trained network and of a randomized copy (Adebayo et al. 2018), written here rather
than taken from Quantus (far heavier, and too slow for the budget). ``python -m model.trust CKPT
[--n 100]`` prints one JSON object per method.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from model.data import to_float
from model.insight.activations import batch_images, randomized_copy
from model.saliency import METHODS, attribute_batch
from model.training.background import Progress
from viz.network.layers import INPUT_SHAPE
from viz.teaching.findings import PASS_BELOW

STEPS = 10  # points per curve: 0, 1/10, ..., 10/10 of the pixels
CHUNK = 10  # digits per attribution call (each call cuts them further to fit the budget)
OCCLUSION = (4, 4)  # window, stride: 7x7 tiles covering the 28x28 input exactly
Score = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class MethodTrust:
    method: str
    deletion_auc: float
    insertion_auc: float
    randomization_spearman: float
    deletion_curve: np.ndarray  # (STEPS + 1,) mean probability after each step
    insertion_curve: np.ndarray

    def record(self) -> dict:
        return {"method": self.method, "deletion_auc": round(self.deletion_auc, 4),
                "insertion_auc": round(self.insertion_auc, 4),
                "randomization_spearman": round(self.randomization_spearman, 4)}


# ----------------------------------------------------------------------------- the protocols


def probability(model: nn.Module) -> Score:
    """Score = softmax probability of each row's target class."""
    def score(x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return torch.softmax(model(x), dim=1)[torch.arange(len(x)), targets]
    return score


def curves(score: Score, images: np.ndarray, maps: np.ndarray, targets: np.ndarray,
           steps: int = STEPS, batch: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Deletion and insertion curves, (N, steps + 1) each, for uint8 ``images`` (N, 28, 28).

    Pixels are ranked by ``maps`` (largest first; ties in reading order); point ``k`` has the
    first ``ceil(k * P / steps)`` of the P pixels removed (deletion) or added (insertion). The
    ``2 * (steps + 1) * N`` images are scored ``batch`` at a time.
    """
    if batch < 1:
        raise ValueError(f"batch must be 1 image or more, got {batch}")
    images = np.asarray(images, dtype=np.uint8)
    maps = np.asarray(maps, dtype=np.float64)
    if images.shape != maps.shape or images.ndim != 3:
        raise ValueError(f"images {images.shape} and maps {maps.shape} must both be (N, H, W)")
    n, h, w = images.shape
    p = h * w
    order = np.argsort(-maps.reshape(n, p), axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(p)[None].repeat(n, 0), axis=1)
    counts = np.ceil(np.arange(steps + 1) * p / steps).astype(int)
    flat = images.reshape(n, p)
    deleted = np.stack([np.where(rank < c, 0, flat) for c in counts], axis=1)  # (N, S+1, P)
    inserted = np.stack([np.where(rank < c, flat, 0) for c in counts], axis=1)
    stack = np.concatenate([deleted, inserted], axis=1).reshape(-1, h, w)
    t = torch.as_tensor(np.repeat(np.asarray(targets), 2 * (steps + 1)), dtype=torch.long)
    with torch.no_grad():
        out = torch.cat([score(to_float(torch.from_numpy(stack[i:i + batch])), t[i:i + batch])
                         for i in range(0, len(stack), batch)])
    out = out.numpy().reshape(n, 2, steps + 1)
    return out[:, 0], out[:, 1]


def auc(curve: np.ndarray) -> np.ndarray:
    """Area under curve(s) sampled at equal shares 0..1 of the pixels (trapezoid rule)."""
    c = np.asarray(curve, dtype=np.float64)
    return np.trapezoid(c, dx=1.0 / (c.shape[-1] - 1), axis=-1)


def _ranks(a: np.ndarray) -> np.ndarray:
    """Ranks along the last axis, ties sharing their average rank."""
    a = np.asarray(a, dtype=np.float64)
    out = np.empty_like(a)
    for idx in np.ndindex(a.shape[:-1]):
        row = a[idx]
        _, inverse, counts = np.unique(row, return_inverse=True, return_counts=True)
        ends = np.cumsum(counts)
        out[idx] = ((ends - counts + ends - 1) / 2.0)[inverse]
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation of each pair of maps (flattened), ties by average rank.

    A constant map has no ranking: its correlation is 0.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"maps of different shapes: {a.shape} and {b.shape}")
    ra = _ranks(a.reshape(a.shape[0], -1) if a.ndim > 1 else a[None])
    rb = _ranks(b.reshape(b.shape[0], -1) if b.ndim > 1 else b[None])
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    den = np.sqrt((ra ** 2).sum(axis=1) * (rb ** 2).sum(axis=1))
    r = np.divide((ra * rb).sum(axis=1), den, out=np.zeros(len(ra)), where=den > 0)
    return r if a.ndim > 1 else r[0]


# ----------------------------------------------------------------------------- the table


def gradcam_layer(model: nn.Module) -> str | None:
    """The last activation layer (ReLU, tanh, sigmoid, leaky ReLU) with a spatial map larger
    than 1x1 (where Grad-CAM is most specific); else the last conv or pooling layer with one;
    None for a network without feature maps (a dense-only one: Grad-CAM does not apply)."""
    from model.atlas import ATLAS_MODULES
    from model.saliency.guided_backprop import GUIDED_ACTIVATIONS
    from model.zoo import walk
    last, last_map = None, None
    with torch.no_grad():  # (a graph network walked by its records' inputs)
        for name, module, x in walk(model, torch.zeros(1, *INPUT_SHAPE)):
            if x.dim() == 4 and x.shape[-1] > 1 and isinstance(module, ATLAS_MODULES):
                last_map = name
                if isinstance(module, GUIDED_ACTIVATIONS):
                    last = name
    return last or last_map


def predicted(model: nn.Module, images: np.ndarray, batch_bytes: int | None = None
              ) -> np.ndarray:
    """The class ``model`` predicts for each uint8 digit, in batches within ``batch_bytes``."""
    size = batch_images(model, budget=batch_bytes)
    with torch.no_grad():
        return np.concatenate(
            [model(to_float(torch.from_numpy(images[i:i + size]))).argmax(1).numpy()
             for i in range(0, len(images), size)])


def _maps(method: str, model: nn.Module, images: np.ndarray, targets: np.ndarray,
          layer: str, batch_bytes: int | None = None) -> np.ndarray:
    x = to_float(torch.from_numpy(np.ascontiguousarray(images)))
    t = torch.as_tensor(targets, dtype=torch.long)
    window, stride = OCCLUSION
    return np.concatenate([attribute_batch(method, model, x[i:i + CHUNK], t[i:i + CHUNK],
                                           layer=layer, window=window, stride=stride,
                                           batch_bytes=batch_bytes)
                           for i in range(0, len(x), CHUNK)])


def trust_table(model: nn.Module, images: np.ndarray, methods: Sequence[str] = tuple(METHODS),
                progress: Progress | None = None, seed: int = 0,
                batch_bytes: int | None = None) -> list[MethodTrust]:
    """Deletion, insertion and randomization numbers of each method over ``images``; every
    pass over many images is cut into batches within ``batch_bytes`` of layer outputs
    (default ``viz.limits.BATCH_OUTPUT_BYTES``)."""
    images = np.asarray(images, dtype=np.uint8)
    if images.ndim != 3 or len(images) == 0:
        raise ValueError("need a non-empty stack of 28x28 digits")
    targets = predicted(model, images, batch_bytes)
    batch = batch_images(model, budget=batch_bytes)
    random_model = randomized_copy(model, seed=seed)
    layer = gradcam_layer(model)
    if layer is None:  # no feature maps (a dense-only network): Grad-CAM does not apply
        methods = [m for m in methods if not METHODS[m].feature_maps]
    score = probability(model)
    rows = []
    for i, method in enumerate(methods):
        if progress is not None:
            progress(i, len(methods), f"{METHODS[method].label} ({i + 1} of {len(methods)})")
        maps = _maps(method, model, images, targets, layer, batch_bytes)
        random_maps = _maps(method, random_model, images, targets, layer, batch_bytes)
        deletion, insertion = curves(score, images, maps, targets, batch=batch)
        rows.append(MethodTrust(
            method=method, deletion_auc=float(auc(deletion).mean()),
            insertion_auc=float(auc(insertion).mean()),
            randomization_spearman=float(spearman(np.abs(maps), np.abs(random_maps)).mean()),
            deletion_curve=deletion.mean(axis=0), insertion_curve=insertion.mean(axis=0)))
    if progress is not None:
        progress(len(methods), len(methods), "done")
    return rows


def random_order_aucs(model: nn.Module, images: np.ndarray, seed: int = 0,
                      batch_bytes: int | None = None) -> tuple[float, float]:
    """Deletion and insertion AUCs for pixels taken in a random order: the bar to beat."""
    images = np.asarray(images, dtype=np.uint8)
    targets = predicted(model, images, batch_bytes)
    noise = np.random.default_rng(seed).random(images.shape)
    deletion, insertion = curves(probability(model), images, noise, targets,
                                 batch=batch_images(model, budget=batch_bytes))
    return float(auc(deletion).mean()), float(auc(insertion).mean())


def verdict(rows: Sequence[MethodTrust], max_spearman: float = PASS_BELOW) -> str:
    """One sentence from the table: which method to trust, in numbers.

    A method passes the randomization check when its correlation with the random network's map
    is below ``max_spearman``; among those, the best is the one with the largest insertion AUC
    minus deletion AUC. The worst failure of the check is named too.
    """
    if not rows:
        return "No method was measured."
    label = {k: m.label for k, m in METHODS.items()}
    passing = [r for r in rows if r.randomization_spearman < max_spearman]
    failing = sorted((r for r in rows if r.randomization_spearman >= max_spearman),
                     key=lambda r: -r.randomization_spearman)
    parts = []
    if passing:
        best = max(passing, key=lambda r: r.insertion_auc - r.deletion_auc)
        others = "" if len(passing) == 1 else f", of the {len(passing)} methods that pass,"
        parts.append(
            f"Trust {label[best.method]} most here: its map changes when the weights are "
            f"randomized (Spearman {best.randomization_spearman:.2f} < {max_spearman}) and"
            f"{others} it orders pixels best (insertion AUC {best.insertion_auc:.2f}, deletion "
            f"AUC {best.deletion_auc:.2f})")
    else:
        parts.append("No method passes the randomization check here")
    if failing:
        worst = failing[0]
        names = ", ".join(label[r.method] for r in failing)
        parts.append(f"{len(failing)} of {len(rows)} fail the check ({names}); worst "
                     f"{label[worst.method]}, whose map on a random network still correlates "
                     f"{worst.randomization_spearman:.2f} with the trained one's")
    return "; ".join(parts) + "."


def fixed_digits(n: int, data_dir: str | None = None) -> tuple[np.ndarray, str]:
    """(digits, where from): the first ``n`` test digits, or ``n`` shipped samples offline."""
    from model.data import load_mnist, load_samples, mnist_available
    if n < 1:
        raise ValueError(f"--n must be at least 1, got {n}")
    if mnist_available(data_dir):
        images = load_mnist(data_dir, download=False).test_images.numpy()
        return images[:n], f"the first {min(n, len(images))} test digits"
    images, _ = load_samples()
    pick = (np.arange(min(n, len(images))) * len(images)) // min(n, len(images))
    return images[pick], f"{len(pick)} of the shipped samples (no MNIST here)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model.trust",
        description="Deletion and insertion AUCs and the randomization check of each saliency "
                    "method, over a fixed set of test digits. One JSON object per line.")
    parser.add_argument("checkpoint", help="a .safetensors checkpoint")
    parser.add_argument("--n", type=int, default=100, help="digits (default 100)")
    parser.add_argument("--data-dir", help="folder of the MNIST files (default: MNIST_DIR, "
                                           "else .cache/mnist; without them, shipped samples)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    from model.data import MNISTError
    from model.files.checkpoint import CheckpointError, load_checkpoint
    try:
        model, _ = load_checkpoint(args.checkpoint)
        images, _ = fixed_digits(args.n, args.data_dir)
        for row in trust_table(model, images):
            print(json.dumps(row.record()), flush=True)
    except (CheckpointError, MNISTError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
