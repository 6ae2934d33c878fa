"""Guided Backprop (Springenberg et al., 2015). Needs ``nn.ReLU`` modules; hooks on a copy."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from model.insight.activations import private_copy
from model.saliency.base import DEFAULTS, Method, Options, as_map


def guided_backprop(model: nn.Module, x: torch.Tensor, target: int, opts: Options = DEFAULTS
                    ) -> np.ndarray:
    from captum.attr import GuidedBackprop
    return as_map(GuidedBackprop(private_copy(model)).attribute(x, target=target))


METHOD = Method("guided", "Guided Backprop",
                "Gradients with negative signals stopped at every ReLU: sharp, pretty, but known "
                "to depend little on the model (see the sanity check).", guided_backprop)
