"""Hook-free activations, private copies and the randomised copy."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from model.insight import activations as features


def tiny() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(2 * 28 * 28, 10)).eval()


def test_activations_match_the_model() -> None:
    model = tiny()
    x = torch.randn(1, 1, 28, 28)
    acts = features.activations(model, x)
    assert list(acts) == ["0", "1", "2", "3"]
    np.testing.assert_allclose(acts["3"], model(x)[0].detach().numpy(), atol=1e-6)


def test_private_copy_shares_weights_not_hooks() -> None:
    model = tiny()
    clone = features.private_copy(model)
    assert clone[0].weight is model[0].weight
    seen = []
    clone[1].register_forward_hook(lambda *a: seen.append(1))
    clone[1].register_full_backward_hook(lambda *a: None)
    assert not features.has_hooks(model) and features.has_hooks(clone)
    model(torch.randn(1, 1, 28, 28))
    assert seen == []


def test_capture_removes_its_hooks() -> None:
    model = tiny()
    with features.capture(model, ["1"]) as store:
        store["model"](torch.randn(1, 1, 28, 28))
        assert store["1"].shape == (1, 2, 28, 28)
    assert not features.has_hooks(model)


def test_randomized_copy_leaves_the_original() -> None:
    model = tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rnd = features.randomized_copy(model)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    assert not torch.equal(rnd[0].weight, model[0].weight)


def test_as_input_checks_shape() -> None:
    import pytest
    with pytest.raises(ValueError, match="28x28"):
        features.as_input(np.zeros((10, 10), np.uint8))
