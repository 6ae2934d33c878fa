"""Effective receptive field: exact box convolutions on linear stacks, bounds on zoo networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from model.insight.erf import effective_receptive_field
from model.insight.rf_adapter import receptive_field_table
from model.zoo import build


def uniform_stack(n: int, k: int) -> nn.Sequential:
    layers = []
    for _ in range(n):
        conv = nn.Conv2d(1, 1, k, bias=False, dtype=torch.float64)
        nn.init.constant_(conv.weight, 1.0 / k**2)
        layers.append(conv)
    return nn.Sequential(*layers)


@pytest.mark.parametrize("n, k", [(1, 3), (3, 3), (4, 2), (2, 5)])
def test_linear_uniform_stack_is_the_n_fold_box_convolution(n, k):
    size = n * (k - 1) + 7
    model = uniform_stack(n, k)
    out = size - n * (k - 1)
    y = x = out // 2
    erf = effective_receptive_field(model, str(n - 1), (0, y, x),
                                    torch.randn(3, 1, size, size, dtype=torch.float64))
    profile = np.ones(1)
    for _ in range(n):
        profile = np.convolve(profile, np.ones(k) / k)
    expected = np.zeros((size, size))
    r = n * (k - 1) + 1
    expected[y:y + r, x:x + r] = np.outer(profile, profile)
    np.testing.assert_allclose(erf, expected, rtol=1e-12, atol=1e-15)

    marginal = erf.sum(axis=1) / erf.sum()
    positions = np.arange(size)
    mean = (marginal * positions).sum()
    variance = (marginal * (positions - mean) ** 2).sum()
    assert variance == pytest.approx(n * (k**2 - 1) / 12, rel=1e-10)
    assert mean == pytest.approx(y + (r - 1) / 2)


@pytest.mark.parametrize("arch, layer", [("compact", "relu5"), ("seed", "conv8"),
                                         ("seed-3x3", "relu12")])
def test_zoo_erf_lies_inside_the_theoretical_field(arch, layer):
    torch.manual_seed(0)
    model = build(arch)
    model.train()
    field = next(f for f in receptive_field_table(model) if f.name == layer)
    h, w = field.output_size
    for y, x in ((h // 2, w // 2), (0, 0), (h - 1, w - 1)):
        erf = effective_receptive_field(model, layer, (1, y, x), torch.rand(4, 1, 28, 28))
        assert erf.shape == (28, 28) and erf.dtype == np.float64
        assert erf.max() > 0
        inside = np.zeros((28, 28), dtype=bool)
        inside[field.region(y, x).slices()] = True
        assert not erf[~inside].any()
    assert model.training  # mode restored
    assert all(p.grad is None for p in model.parameters())  # parameters untouched


def test_flat_output_unit_and_single_image():
    model = build("seed")
    erf = effective_receptive_field(model, "flatten", (3,), torch.rand(1, 28, 28))
    assert erf.shape == (28, 28) and erf.max() > 0


@pytest.mark.parametrize("layer, unit, message", [
    ("nope", (0, 0, 0), "unknown layer 'nope'"),
    ("conv1", (0, 0), "unit needs 3 indices"),
    ("conv1", (0, 26, 0), "outside 0..25"),
])
def test_bad_requests_raise(layer, unit, message):
    with pytest.raises(ValueError, match=message):
        effective_receptive_field(build("compact"), layer, unit, torch.rand(1, 1, 28, 28))


def test_many_inputs_in_small_batches_give_the_one_batch_field() -> None:
    from model.files.checkpoint import load_checkpoint
    from model.insight.activations import batch_images
    model, _ = load_checkpoint("checkpoints/fast.safetensors")
    inputs = torch.randn(9, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert batch_images(model, backward=True, budget=1_000_000) == 3
    whole = effective_receptive_field(model, "conv2", (1, 3, 3), inputs, batch_bytes=10 ** 12)
    cut = effective_receptive_field(model, "conv2", (1, 3, 3), inputs, batch_bytes=1_000_000)
    assert whole.max() > 0
    np.testing.assert_allclose(cut, whole, rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="no inputs"):
        effective_receptive_field(model, "conv2", (1, 3, 3), inputs[:0])
