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
