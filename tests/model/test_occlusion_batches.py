"""Occlusion is Captum's (the oracle): on every shipped network, at every window and stride the
app uses, for digits, for a picture with no black pixel and for an all-black one. It cuts its
patch positions into passes of at most MOST_PATCHES images (faster: the layer outputs stay in the
CPU's caches) and skips the windows that hide no ink; the maps are those of one pass over every
position."""

from __future__ import annotations

import numpy as np
import pytest

from model.files.checkpoint import torch_model
from model.insight.activations import as_input
from model.saliency import attribute
from model.saliency.base import BLACK
from model.saliency.occlusion import MOST_PATCHES, starts
from model.store import load_samples
from viz.network import npforward


@pytest.mark.parametrize("name", ["fast", "seed"])
def test_occlusion_in_passes_equals_one_pass_over_every_position(name) -> None:
    from captum.attr import Occlusion
    path = f"checkpoints/{name}.safetensors"
    model = torch_model(npforward.load(path), path, share=True)
    images, labels = load_samples()
    for window, stride in ((3, 1), (7, 2)):
        positions = ((28 - window) // stride + 1) ** 2
        assert window != 3 or positions > MOST_PATCHES  # cut into several passes
        for k in (0, 1):
            x, target = as_input(images[k]), int(labels[k])
            got = attribute("occlusion", model, x, target, window=window, stride=stride)
            whole = Occlusion(model).attribute(
                x.clone(), sliding_window_shapes=(1, window, window),
                strides=(1, stride, stride), baselines=BLACK, target=target,
                perturbations_per_eval=positions)[0, 0].detach().numpy()
            scale = float(np.abs(whole).max())
            assert scale > 0
            np.testing.assert_allclose(got, whole, rtol=0, atol=1e-6 * scale)


def tolerance(model, x, target, want: np.ndarray) -> float:
    """Captum runs each window in a batch, so its drops carry the float rounding of the scores
    (a few float32 steps of the score, up to about 1e-6: its map is that far from 0 where a
    window hides nothing, and another CPU rounds otherwise); 1e-5 of the larger of the map and
    the score."""
    import torch
    with torch.no_grad():
        score = float(model(x)[0, target].abs().max())
    return 1e-5 * max(float(np.abs(want).max()), score, 1.0)


def captum_map(model, x, target, window: int, stride: int) -> np.ndarray:
    from captum.attr import Occlusion
    positions = len(starts(28, window, stride)) ** 2
    return Occlusion(model).attribute(
        x.clone(), sliding_window_shapes=(1, window, window), strides=(1, stride, stride),
        baselines=BLACK, target=target, perturbations_per_eval=positions).detach().numpy()[:, 0]


@pytest.mark.parametrize("name", ["fast", "compact", "seed-3x3", "lenet5", "keras-convnet",
                                  "pytorch-example", "resnet-mini", "mlp"])
def test_occlusion_is_captums_on_every_shipped_network(name) -> None:
    import torch
    path = f"checkpoints/{name}.safetensors"
    model = torch_model(npforward.load(path), path, share=True)
    images, labels = load_samples()
    cases = ((2, 1), (3, 2), (5, 1), (7, 3), (14, 7), (28, 1), (6, 4))  # (4 does not divide 22)
    for k, (window, stride) in enumerate(cases):
        x, target = as_input(images[3 * k]), int(labels[3 * k])
        got = attribute("occlusion", model, x, target, window=window, stride=stride)
        want = captum_map(model, x, target, window, stride)[0]
        assert float(np.abs(want).max()) > 1e-3, (window, stride)
        np.testing.assert_allclose(got, want, rtol=0, atol=tolerance(model, x, target, want))
    # no black pixel (every window runs) and all black (none does: the map is 0)
    gen = np.random.default_rng(0)
    for picture in (gen.integers(1, 256, (28, 28), dtype=np.uint8), np.zeros((28, 28), np.uint8)):
        x = as_input(picture)
        got = attribute("occlusion", model, x, 3, window=4, stride=2)
        want = captum_map(model, x, 3, 4, 2)[0]
        np.testing.assert_allclose(got, want, rtol=0, atol=tolerance(model, x, 3, want))
    assert not attribute("occlusion", model, as_input(np.zeros((28, 28), np.uint8)), 3,
                         window=4, stride=2).any()
    # several digits, a class each
    xs = torch.cat([as_input(images[i]) for i in (5, 6, 7)])
    targets = torch.tensor([int(labels[i]) for i in (5, 6, 7)])
    from model import saliency
    got = saliency.attribute_batch("occlusion", model, xs, targets, window=5, stride=2)
    want = captum_map(model, xs, targets, 5, 2)
    np.testing.assert_allclose(got, want, rtol=0, atol=max(
        tolerance(model, xs[i:i + 1], int(targets[i]), want[i]) for i in range(3)))


def test_windows_start_where_captums_do() -> None:
    assert starts(28, 3, 1) == list(range(26))
    assert starts(28, 7, 3) == [0, 3, 6, 9, 12, 15, 18, 21]
    assert starts(28, 6, 4) == [0, 4, 8, 12, 16, 20, 24]  # the last one cut at the edge
    assert starts(28, 28, 1) == [0] and starts(28, 14, 7) == [0, 7, 14]
