"""Guided Backprop (Springenberg et al., 2015); hooks on a private copy.

At every ReLU the backward pass lets only positive gradients through (Captum's rule: the
gradient into the ReLU is clamped at zero). The same rule is applied at every tanh, sigmoid and
leaky ReLU module: each one's slope is positive, so clamping its input gradient stops exactly the
negative signals it receives, as at a ReLU. (Captum alone hooks only ``nn.ReLU``: on a tanh
network it would return the plain gradient under this method's name.) A network with none of
these modules (a linear model) gets its plain gradient, which is then the method's true value.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from model.insight.activations import private_copy
from model.saliency.base import DEFAULTS, Method, Options, as_map

GUIDED_ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid)  # where negative signals stop


def _guided(model: nn.Module):
    """Captum's GuidedBackprop, hooking every activation of :data:`GUIDED_ACTIVATIONS`."""
    from captum.attr import GuidedBackprop

    class Guided(GuidedBackprop):
        def _register_hooks(self, module: nn.Module) -> None:
            if isinstance(module, GUIDED_ACTIVATIONS):
                self.backward_hooks.append(module.register_full_backward_hook(
                    self._backward_hook))

    return Guided(model)


def guided_backprop(model: nn.Module, x: torch.Tensor, target: int, opts: Options = DEFAULTS
                    ) -> np.ndarray:
    return as_map(_guided(private_copy(model)).attribute(x, target=target))


METHOD = Method("guided", "Guided Backprop",
                "Gradients with negative signals stopped at every ReLU (and tanh, sigmoid or "
                "leaky ReLU): sharp and pretty; in Adebayo et al.'s tests it depended little on "
                "the model (the sanity check measures it on this network).", guided_backprop)
