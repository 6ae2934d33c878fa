"""A torch zoo network as a :class:`viz.network.npforward.NumpyNet` (numpy weights, layer records, card).

Used where the weights are made in torch, not read from a file: untrained networks (random
weights), so the in-browser lens (``viz.browser.lens.payload``) can carry them. Checkpoint files and
uploads go the other way: read in numpy (``model.files.checkpoint.read_network``), their torch model
built from the arrays when needed (``model.files.checkpoint.torch_model``). The arrays share the
model's memory (read-only views, no copy). The shared models are never changed after loading
(``model/insight/activations.py``), so the views stay valid.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from torch import nn

from viz.network.npforward import NumpyNet


def numpy_net(model: nn.Module, card: dict[str, Any] | None = None) -> NumpyNet:
    """The float tensors of ``model``'s state dict as read-only numpy views (float32, CPU
    tensors are not copied), with its layer records and card.

    ``model`` must carry its layer records (``layer_config``, as every ``model.zoo.ZooNet``).
    """
    layers = getattr(model, "layer_config", None)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no layer records (layer_config); only zoo "
                         "networks can be exported to numpy")
    tensors = {k: v.detach().cpu().numpy().astype(np.float32, copy=False)
               for k, v in model.state_dict().items() if v.is_floating_point()}
    for a in tensors.values():
        a.flags.writeable = False
    card = dict(card or {})
    arch = card.get("arch") or getattr(model, "arch", "custom")
    return NumpyNet(arch, copy.deepcopy(list(layers)), tensors, card)
