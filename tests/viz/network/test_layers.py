"""Every per-layer number from layer records alone, against real torch modules (the oracle)."""

from __future__ import annotations

import pytest
import torch

from model.architectures import ARCHITECTURES
from model.zoo import build
from tests.torch_oracle import count_macs, count_params, layer_shapes
from viz.network import layers


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


def test_images_per_batch_by_hand() -> None:
    # the seed: its largest layer input plus output is two 16x28x28 maps (a conv and its
    # BatchNorm), and it outputs 254,036 values per digit over all layers
    infos = layers.describe(ARCHITECTURES["seed"].layers())
    assert layers.activation_elements(infos) == 254_036
    pair, kept = 2 * 16 * 28 * 28, 784 + 254_036
    assert layers.images_per_batch(infos) == 64_000_000 // (4 * 2 * pair) == 318
    assert layers.images_per_batch(infos, keep=True) == 64_000_000 // (4 * kept) == 62
    assert layers.images_per_batch(infos, backward=True) == 64_000_000 // (4 * 2 * kept) == 31
    assert layers.images_per_batch(infos, most=100) == 100
    assert layers.images_per_batch([i.elements for i in infos], backward=True) == 31
    # never fewer than one image, whatever the network
    assert layers.images_per_batch([10 ** 9], budget=1) == 1
    # a bigger budget never gives fewer images; bigger layers never give more
    assert layers.images_per_batch([1000, 2000], 10 ** 7) <= layers.images_per_batch(
        [1000, 2000], 10 ** 8)
    assert layers.images_per_batch([1000, 4000], 10 ** 7) < layers.images_per_batch(
        [1000, 2000], 10 ** 7)


def test_images_per_batch_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="number of bytes"):
        layers.images_per_batch([10], budget=0)
    with pytest.raises(ValueError, match="most images"):
        layers.images_per_batch([10], most=0)
    with pytest.raises(ValueError, match="negative"):
        layers.images_per_batch([-1])


def test_batches_cover_every_item_once() -> None:
    assert layers.batches(7, 3) == [slice(0, 3), slice(3, 6), slice(6, 7)]
    assert layers.batches(6, 3) == [slice(0, 3), slice(3, 6)]
    assert layers.batches(0, 3) == []
    with pytest.raises(ValueError, match="1 item or more"):
        layers.batches(5, 0)
