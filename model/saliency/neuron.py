"""What drives one unit: DeepLift of the unit against a black image (Captum NeuronDeepLift)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from model.insight.activations import forward_to, private_copy
from model.saliency.base import BLACK, as_map, module, quiet


def neuron_attribution(model: nn.Module, x: torch.Tensor, layer: str,
                       unit: tuple[int, int, int]) -> np.ndarray:
    """DeepLift of one unit of ``layer`` against a black image.

    Like Integrated Gradients of the unit (the attributions add up to the unit's change from the
    black image) in a single backward pass, so picking units stays instant.
    """
    from captum.attr import NeuronDeepLift
    clone = private_copy(model)
    x = x.detach().clone()
    c, y, xx = unit
    with torch.no_grad():
        ndim = forward_to(model, x, layer).dim()
    selector = (c,) if ndim == 2 else (c, y, xx)
    with quiet():
        attr = NeuronDeepLift(clone, module(clone, layer)).attribute(
            x, neuron_selector=selector, baselines=torch.full_like(x, BLACK))
    return as_map(attr)
