"""Occlusion (Zeiler & Fergus, 2014): the score drop when a black patch hides part of the input.

The patch's size and step default to the chosen layer's receptive field r and effective stride
S (see :func:`defaults`), so the map is as coarse as what that layer's units see.

The map is Captum's ``Occlusion`` (the same windows, the same averaging; tested against it),
computed here so that a window lying on pixels that are black already is not run through the
network: it hides nothing, so its score drop is 0. On the 200 shipped digits (stride 1) that
is 64% of the 3x3 windows, 42% of the 5x5 and 22% of the 7x7 ones; Occlusion was the bulk of the
Occlusion and All methods pages (bench/results/classroom_views_findings.md).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from model.saliency.base import BLACK, DEFAULTS, Method, Options, as_map, images_per_batch
from viz.limits import OCCLUSION_WINDOW

# Patch positions per forward pass when the network is small. 256, not more: the layer outputs
# of a smaller batch stay in the CPU's caches: 24-31% faster on seed, seed-3x3 and fast (3x3
# to 14x14 windows) for the same maps (bench/results/classroom_views_findings.md).
MOST_PATCHES = 256


# A window whose pixels are all within this of the baseline hides nothing (the digits' black
# and the baseline differ in the last bit of a float32).
SAME = 1e-6


def starts(n: int, window: int, stride: int) -> list[int]:
    """Where the windows start along one side of ``n`` pixels, as Captum places them: every
    ``stride`` from 0, the last one (cut at the edge) reaching the end."""
    return [k * stride for k in range(math.ceil((n - window) / stride) + 1)]


def _target(target: int | torch.Tensor | list[int], i: int) -> int:
    """Digit ``i``'s class: one for all, or one per digit (a tensor or list of N)."""
    if isinstance(target, torch.Tensor):
        return int(target.reshape(-1)[i]) if target.numel() > 1 else int(target)
    if isinstance(target, (list, tuple)):
        return int(target[i])
    return int(target)


def occlusion(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor,
              opts: Options = DEFAULTS) -> np.ndarray:
    """x (N, 1, H, W) -> the map(s): for each pixel, the mean score drop of the windows that
    cover it (``captum.attr.Occlusion`` with the baseline :data:`BLACK`); ``target``: the class
    whose score drops, for every digit or one per digit."""
    n_img, _, h, w = x.shape
    window = int(min(max(opts.window, 1), w))
    stride = int(min(max(opts.stride, 1), window))
    ys = np.array(starts(h, min(window, h), stride))
    xs = np.array(starts(w, window, stride))
    # every patch position is one image: as many per pass as the budget allows
    per_eval = max(1, min(MOST_PATCHES, images_per_batch(model, opts, backward=False)))
    base = torch.tensor(BLACK, dtype=x.dtype)
    # Which pixels each window hides: (positions, H) rows and (positions, W) columns.
    py, px = np.repeat(ys, len(xs)), np.tile(xs, len(ys))  # (P,) window corners, row-major
    rows = torch.from_numpy((np.arange(h)[None] >= py[:, None])
                            & (np.arange(h)[None] < py[:, None] + window))
    cols = torch.from_numpy((np.arange(w)[None] >= px[:, None])
                            & (np.arange(w)[None] < px[:, None] + window))
    cover = (rows[:, :, None] & cols[:, None, :]).sum(0).to(torch.float64)  # windows per pixel
    maps = torch.zeros_like(x)
    with torch.no_grad():
        for i in range(n_img):
            xi = x[i:i + 1]
            # the windows that hide some ink: a box sum over the pixels off the baseline
            ink = ((xi[0] - base).abs() > SAME).any(0).numpy().astype(np.int64)  # (H, W)
            box = np.pad(ink.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
            y1, x1 = np.minimum(py + window, h), np.minimum(px + window, w)
            todo = np.flatnonzero(box[y1, x1] - box[py, x1] - box[y1, px] + box[py, px] > 0)
            if len(todo) == 0:
                continue
            t = _target(target, i)
            score = model(xi)[0, t]
            total = torch.zeros((h, w), dtype=torch.float64)
            for k in range(0, len(todo), per_eval):
                part = torch.from_numpy(todo[k:k + per_eval])
                hidden = rows[part][:, :, None] & cols[part][:, None, :]  # (p, H, W)
                batch = torch.where(hidden[:, None], base, xi)  # (p, C, H, W)
                drops = (score - model(batch)[:, t]).to(torch.float64)
                total += (drops[:, None, None] * hidden).sum(0)
            maps[i] = (total / cover).to(x.dtype)
    return as_map(maps)


def defaults(r: int, stride: int | None) -> tuple[int, int]:
    """Window and stride for a layer with field ``r`` and effective stride ``S`` (capped at 14)."""
    window = max(2, min(r, OCCLUSION_WINDOW))
    step = stride if stride is not None else max(1, window // 2)
    return window, max(1, min(step, OCCLUSION_WINDOW))


METHOD = Method("occlusion", "Occlusion",
                "Blacks out a sliding window and records how much the class score drops. Window "
                "and stride default to the chosen layer's receptive field r and effective "
                "stride S.", occlusion, uses_layer=True, uses_window=True, backward=False)
