"""Guided Backprop (Springenberg et al., 2015); hooks on a private copy.

At every ReLU the backward pass lets only positive gradients through (Captum's rule: the
gradient into the ReLU's input is clamped at zero). Captum hooks only ``nn.ReLU``; here every
layer type whose entry's ``guided`` rule is ``"positive"`` is hooked the same way: ReLU, leaky
ReLU, PReLU, ELU, tanh and sigmoid. Each one's gradient into its input is its local slope times
the signal from above, and the clamp keeps the positive part. Where the slope is positive
(tanh, sigmoid, ELU, a leaky ReLU, a PReLU with positive slopes) this stops exactly the negative
signals, as at a ReLU; a PReLU slope learned below zero flips a signal's sign below zero, and
the clamp then keeps what arrives positive at its input. A network with none of these layers (a
linear model) gets its plain gradient, which is then the method's true value.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from model.insight.activations import private_copy
from model.saliency.base import DEFAULTS, Method, Options, as_map
from model.zoo import module_class
from viz.network.layertypes import LAYER_TYPE_LIST

# where negative signals stop: the torch class of every type whose guided rule is "positive"
GUIDED_ACTIVATIONS: tuple[type[nn.Module], ...] = tuple(
    module_class(t.name) for t in LAYER_TYPE_LIST if t.guided == "positive")


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
                "Gradients with negative signals stopped at every ReLU (and every other "
                "activation: tanh, sigmoid, leaky ReLU, PReLU, ELU): sharp and pretty; in Adebayo "
                "et al.'s tests it depended little on the model (the sanity check measures it on "
                "this network).", guided_backprop)
