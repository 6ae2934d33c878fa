"""Guided Backprop's rule at every activation, against the chain rule written out in torch.

The rule: at every layer whose entry's ``guided`` rule is "positive" the gradient into its
input (local slope times the signal from above) is clamped at zero; elsewhere the plain
gradient flows. A two-layer network per activation is differentiated by hand and compared.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from model.saliency.guided_backprop import GUIDED_ACTIVATIONS, _guided
from model.zoo import build_layer
from viz.network.layertypes import LAYER_TYPE_LIST, TYPES


def _slope(kind: str, module: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """The activation's derivative at ``z`` (its local slope), written out."""
    if kind == "relu":
        return (z > 0).float()
    if kind == "leakyrelu":
        return torch.where(z > 0, 1.0, module.negative_slope)
    if kind == "prelu":
        return torch.where(z >= 0, torch.ones_like(z), module.weight.detach().expand_as(z))
    if kind == "elu":
        return torch.where(z > 0, torch.ones_like(z), torch.exp(z))
    if kind == "tanh":
        return 1 - torch.tanh(z) ** 2
    if kind == "sigmoid":
        return torch.sigmoid(z) * (1 - torch.sigmoid(z))
    raise AssertionError(kind)


GUIDED = [t.name for t in LAYER_TYPE_LIST if t.guided == "positive"]


def test_the_guided_types_are_the_activations() -> None:
    assert set(GUIDED) == {"relu", "leakyrelu", "prelu", "elu", "tanh", "sigmoid"}
    assert len(GUIDED_ACTIVATIONS) == len(GUIDED)


@pytest.mark.parametrize(("kind", "per_feature"),
                         [(kind, False) for kind in GUIDED] + [("prelu", True)])
def test_the_rule_is_the_clamped_chain_rule(kind: str, per_feature: bool) -> None:
    torch.manual_seed(7)
    rec = {"name": "act", "type": kind}
    if kind == "prelu":
        rec["num_parameters"] = 16 if per_feature else 1
    act = build_layer(rec)
    assert type(act).__name__ == TYPES[kind].torch
    if kind == "prelu":
        with torch.no_grad():  # slopes of both signs: the rule's hard case
            act.weight.uniform_(-0.6, 0.6)
    first, second = nn.Linear(12, 16), nn.Linear(16, 3)
    model = nn.Sequential(first, act, second).eval()
    x = torch.randn(1, 12)
    got = _guided(model).attribute(x.clone().requires_grad_(), target=1)
    with torch.no_grad():
        z = first(x)
        signal = second.weight[1][None]  # d logit 1 / d activation
        into = torch.clamp(signal * _slope(kind, act, z), min=0)  # the guided rule
        want = into @ first.weight
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
    plain = (signal * _slope(kind, act, z)) @ first.weight
    assert not torch.allclose(got, plain, atol=1e-4)  # the rule changed something


def test_layers_without_the_rule_pass_the_plain_gradient() -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(12, 16), build_layer({"name": "d", "type": "dropout"}),
                          nn.Linear(16, 3)).eval()
    x = torch.randn(1, 12, requires_grad=True)
    got = _guided(model).attribute(x, target=2)
    want = model[2].weight[2] @ model[0].weight
    torch.testing.assert_close(got[0], want.detach(), atol=1e-6, rtol=1e-5)
