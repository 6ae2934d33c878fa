"""DeepLift (Shrikumar et al., 2017) against a black image; hooks on a private copy."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from model.insight.activations import private_copy
from model.saliency.base import BLACK, DEFAULTS, Method, Options, as_map


def deeplift(model: nn.Module, x: torch.Tensor, target: int, opts: Options = DEFAULTS
             ) -> np.ndarray:
    from captum.attr import DeepLift
    base = torch.full_like(x, BLACK)
    return as_map(DeepLift(private_copy(model)).attribute(x, baselines=base, target=target))


METHOD = Method("deeplift", "DeepLift",
                "Compares every neuron with its value on a black image and shares out the "
                "difference: like Integrated Gradients in one backward pass.", deeplift,
                images_per_digit=2)
