"""The numpy forward pass matches torch on every shipped zoo architecture."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.files.checkpoint import save_checkpoint
from model.insight.activations import activations, as_input
from model.zoo import build
from viz.network import npforward


@pytest.mark.parametrize("arch", ["seed", "seed-3x3", "compact"])
def test_matches_torch(arch: str, tmp_path) -> None:
    torch.manual_seed(0)
    model = build(arch).eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    path = save_checkpoint(model, {}, tmp_path / arch)
    net = npforward.load(path)
    image = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    ours = npforward.forward(net, image)
    ref = activations(model, as_input(image))
    assert list(ours) == list(ref)
    for name in ref:
        assert ours[name].shape == ref[name].shape, name
        np.testing.assert_allclose(ours[name], ref[name], atol=2e-5, rtol=1e-4)
    probs = npforward.softmax(ours["flatten"])
    np.testing.assert_allclose(probs, torch.softmax(torch.from_numpy(ref["flatten"]), 0),
                               atol=1e-6)
    assert net.params == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("size,kernel,stride,pad,ceil", [
    (28, 3, 2, 0, True),  # 13x13 in floor mode, 14x14 in ceil mode (the last window is cut)
    (28, 3, 2, 1, True),
    (27, 2, 2, 0, True),
    (28, 3, 2, 0, False),
    (14, 5, 3, 2, True),
    (7, 3, 3, 1, True),
    (9, 4, 1, 2, False),
])
def test_pool_matches_torch(mode: str, size: int, kernel: int, stride: int, pad: int,
                            ceil: bool) -> None:
    x = np.random.default_rng(size * 31 + kernel).standard_normal((3, size, size)).astype(
        np.float32)
    cls = torch.nn.MaxPool2d if mode == "max" else torch.nn.AvgPool2d
    want = cls(kernel, stride=stride, padding=pad, ceil_mode=ceil)(torch.from_numpy(x)[None])[0]
    got = npforward._pool(x, kernel, stride, pad, mode, ceil)
    assert got.shape == tuple(want.shape)
    np.testing.assert_allclose(got, want.numpy(), rtol=0, atol=1e-6)


def _prelu_elu_layers(shared: bool) -> list[dict]:
    """Conv maps through a PReLU (shared or per channel) and an ELU, then a vector through a
    PReLU of one slope per feature and an ELU."""
    return [{"name": "conv1", "type": "conv", "in": 1, "out": 3, "kernel": 3, "padding": 1},
            {"name": "prelu1", "type": "prelu", "num_parameters": 1 if shared else 3},
            {"name": "conv2", "type": "conv", "in": 3, "out": 4, "kernel": 3, "stride": 2},
            {"name": "elu2", "type": "elu"},
            {"name": "flatten", "type": "flatten"},
            {"name": "fc1", "type": "linear", "in": 4 * 13 * 13, "out": 12},
            {"name": "prelu3", "type": "prelu", "num_parameters": 12},
            {"name": "elu3", "type": "elu"},
            {"name": "head", "type": "linear", "in": 12, "out": 10}]


@pytest.mark.parametrize("shared", [True, False])
def test_prelu_and_elu_match_torch_through_a_checkpoint(shared: bool, tmp_path) -> None:
    from model.files.checkpoint import load_checkpoint
    from model.zoo import build_from_config
    from viz.network.layers import describe

    layers = _prelu_elu_layers(shared)
    torch.manual_seed(3)
    model = build_from_config("acts", layers).eval()
    with torch.no_grad():  # slopes of both signs, one per channel where there are several
        for m in model.modules():
            if isinstance(m, torch.nn.PReLU):
                m.weight.uniform_(-0.5, 0.8)
    path = save_checkpoint(model, {}, tmp_path / "acts")
    net = npforward.load(path)
    assert net.tensors["prelu1.weight"].shape == ((1,) if shared else (3,))
    assert net.tensors["prelu3.weight"].shape == (12,)
    back, _ = load_checkpoint(path)  # the checkpoint reader builds the slopes back
    torch.testing.assert_close(back.state_dict()["prelu1.weight"], model.prelu1.weight.detach())
    params = sum(p.numel() for p in model.parameters())
    assert net.params == params == sum(i.params for i in describe(layers))
    for image in (np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8),
                  np.zeros((28, 28), np.uint8)):
        ours = npforward.forward(net, image)
        ref = activations(model, as_input(image))
        assert list(ours) == list(ref)
        for name in ref:
            assert ours[name].shape == ref[name].shape, name
            np.testing.assert_allclose(ours[name], ref[name], atol=2e-5, rtol=1e-4)
        assert (ours["prelu1"] < 0).any() and (ours["elu2"] < 0).any()  # the negative side ran


def test_a_prelu_of_the_wrong_slope_count_is_refused() -> None:
    from viz.network.card import CardError, analyse_checked

    layers = _prelu_elu_layers(shared=False)
    layers[1]["num_parameters"] = 2
    with pytest.raises(CardError, match=r"'prelu1': a prelu layer has one slope shared by all "
                                        r"channels \(num_parameters 1\) or one per channel "
                                        r"\(num_parameters 3"):
        analyse_checked(layers)
