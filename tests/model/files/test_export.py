"""A torch zoo network as numpy: same layer records and weights, same forward pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.files.export import numpy_net
from model.insight.activations import activations, as_input
from model.zoo import build
from viz.browser import lens
from viz.network import npforward


@pytest.mark.parametrize("arch", ["compact", "fast"])
def test_numpy_net_matches_torch(arch: str) -> None:
    torch.manual_seed(1)
    model = build(arch).eval()
    net = numpy_net(model, {"arch": arch, "untrained": True})
    assert net.arch == arch and net.layers == model.layer_config
    assert not any(k.endswith("num_batches_tracked") for k in net.tensors)
    image = np.random.default_rng(1).integers(0, 256, (28, 28), dtype=np.uint8)
    ours = npforward.forward(net, image)
    ref = activations(model, as_input(image))
    for name in ref:
        np.testing.assert_allclose(ours[name], ref[name], atol=2e-5, rtol=1e-4)
    assert lens.payload(net)["supported"]


def test_needs_layer_records() -> None:
    with pytest.raises(ValueError, match="layer records"):
        numpy_net(torch.nn.Sequential(torch.nn.Linear(2, 2)))
