"""The tour's numbers agree with torch (the oracle)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from viz.concepts import CONCEPTS, RULES, channel_mix, conv_step, relu_split


def test_eight_concepts_five_rules():
    assert [c.key for c in CONCEPTS] == ["convolution", "filters", "epochs", "1x1", "3x3",
                                         "feature-maps", "activation", "receptive-field"]
    assert len(RULES) == 5


@pytest.mark.parametrize("y,x", [(0, 0), (5, 7), (27, 27), (0, 27)])
def test_conv_step_matches_conv2d(y, x):
    rng = np.random.default_rng(0)
    image, kernel = rng.normal(size=(28, 28)), rng.normal(size=(3, 3))
    out = F.conv2d(torch.tensor(image)[None, None], torch.tensor(kernel)[None, None], padding=1)
    patch, products, total = conv_step(image, kernel, y, x, padding=1, bias=0.5)
    assert patch.shape == (3, 3) and np.allclose(products, patch * kernel)
    assert total == pytest.approx(float(out[0, 0, y, x]) + 0.5)


def test_conv_step_errors():
    with pytest.raises(ValueError, match="outside the 28x28 output"):
        conv_step(np.zeros((28, 28)), np.ones((3, 3)), 28, 0)
    with pytest.raises(ValueError, match="square"):
        conv_step(np.zeros((28, 28)), np.ones((3, 2)), 0, 0)


def test_channel_mix_matches_1x1_conv():
    rng = np.random.default_rng(1)
    acts, w, b = rng.normal(size=(16, 5, 5)), rng.normal(size=(8, 16, 1, 1)), rng.normal(size=8)
    ref = F.conv2d(torch.tensor(acts)[None], torch.tensor(w), torch.tensor(b))[0, :, 2, 3]
    v, out = channel_mix(acts, w, b, 2, 3)
    assert np.allclose(v, acts[:, 2, 3]) and np.allclose(out, ref.numpy())
    with pytest.raises(ValueError, match="expects 16 channels"):
        channel_mix(acts[:4], w, b, 0, 0)


def test_relu_split():
    assert relu_split(np.array([[-1.0, 2.0], [0.0, -3.0]])) == {
        "negative_share": 0.5, "min": -3.0, "max": 2.0}
