"""Occlusion (Zeiler & Fergus, 2014): the score drop when a black patch hides part of the input.

The patch's size and step default to the chosen layer's receptive field r and effective stride
S (see :func:`defaults`), so the map is as coarse as what that layer's units see.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from model.saliency.base import BLACK, DEFAULTS, Method, Options, as_map, images_per_batch

MAX_WINDOW = 14
# Patch positions per forward pass when the network is small. 256, not more: the layer outputs
# of a smaller batch stay in the CPU's caches: 24-31% faster on seed, seed-3x3 and fast (3x3
# to 14x14 windows) for the same maps (bench/results/classroom_views_findings.md).
MOST_PATCHES = 256


def occlusion(model: nn.Module, x: torch.Tensor, target: int, opts: Options = DEFAULTS
              ) -> np.ndarray:
    from captum.attr import Occlusion
    n = x.shape[-1]
    window = int(min(max(opts.window, 1), n))
    stride = int(min(max(opts.stride, 1), window))
    # every patch position is one image per digit: as many per pass as the budget allows
    per_eval = max(1, min(MOST_PATCHES, images_per_batch(model, opts, backward=False) // len(x)))
    return as_map(Occlusion(model).attribute(
        x, sliding_window_shapes=(1, window, window), strides=(1, stride, stride),
        baselines=BLACK, target=target, perturbations_per_eval=per_eval))


def defaults(r: int, stride: int | None) -> tuple[int, int]:
    """Window and stride for a layer with field ``r`` and effective stride ``S`` (capped at 14)."""
    window = max(2, min(r, MAX_WINDOW))
    step = stride if stride is not None else max(1, window // 2)
    return window, max(1, min(step, MAX_WINDOW))


METHOD = Method("occlusion", "Occlusion",
                "Blacks out a sliding window and records how much the class score drops. Window "
                "and stride default to the chosen layer's receptive field r and effective "
                "stride S.", occlusion, uses_layer=True, uses_window=True, backward=False)
