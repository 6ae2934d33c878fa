"""Every per-layer number from layer records alone, against real torch modules (the oracle)."""

from __future__ import annotations

import pytest
import torch

from model.architectures import ARCHITECTURES
from model.zoo import build
from tests.torch_oracle import count_macs, count_params, layer_shapes
from viz import layers


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_shapes_params_macs_match_torch(arch: str) -> None:
    torch.manual_seed(0)
    model = build(arch)
    infos = layers.describe(model.layer_config)
    assert [(i.name, i.shape) for i in infos] == layer_shapes(model)
    macs = count_macs(model)
    assert {i.name: i.macs for i in infos} == macs
    assert layers.total_params(model.layer_config) == count_params(model)
    assert layers.total_macs(model.layer_config) == sum(macs.values())


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_param_shapes_are_the_state_dict(arch: str) -> None:
    model = build(arch)
    implied = {f"{rec['name']}.{k}": shape for rec in model.layer_config
               for k, shape in layers.param_shapes(rec).items()}
    assert implied == {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_published_numbers_of_the_seed() -> None:
    infos = layers.describe(ARCHITECTURES["seed"].layers())
    conv1, pool, head = (layers.find(infos, n) for n in ("conv1", "pool", "head"))
    assert (conv1.r, conv1.stride, conv1.padding, conv1.params) == (3, 1, 1, 72)
    assert (pool.r, pool.stride, pool.shape) == (12, 2, (8, 14, 14))
    assert (head.r, head.shape) == (54, (10, 1, 1))
    assert infos[-1].is_global and infos[-1].rf is None and infos[-1].stride is None
    assert layers.input_side(infos, "head") == 14
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        layers.find(infos, "nope")
    assert layers.describe([]) == []
