"""Integrated Gradients (Sundararajan et al., 2017), from a black image."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from model.saliency.base import BLACK, DEFAULTS, Method, Options, as_map, images_per_batch

STEPS = 32


def integrated_gradients(model: nn.Module, x: torch.Tensor, target: int,
                         opts: Options = DEFAULTS) -> np.ndarray:
    from captum.attr import IntegratedGradients
    base = torch.full_like(x, BLACK)
    # each step is one image per digit: as many steps per pass as the budget allows
    steps = max(1, min(STEPS, images_per_batch(model, opts) // len(x)))
    return as_map(IntegratedGradients(model).attribute(
        x, baselines=base, target=target, n_steps=STEPS, internal_batch_size=steps * len(x)))


METHOD = Method("ig", "Integrated Gradients",
                "Gradients averaged along a path from a black image to this one, times the "
                "change: the attributions add up to the score difference.",
                integrated_gradients)
