"""Integrated Gradients (Sundararajan et al., 2017), from a black image."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from model.saliency.base import BLACK, DEFAULTS, Method, Options, as_map

STEPS = 32


def integrated_gradients(model: nn.Module, x: torch.Tensor, target: int,
                         opts: Options = DEFAULTS) -> np.ndarray:
    from captum.attr import IntegratedGradients
    base = torch.full_like(x, BLACK)
    return as_map(IntegratedGradients(model).attribute(
        x, baselines=base, target=target, n_steps=STEPS, internal_batch_size=STEPS))


METHOD = Method("ig", "Integrated Gradients",
                "Gradients averaged along a path from a black image to this one, times the "
                "change: the attributions add up to the score difference.",
                integrated_gradients)
