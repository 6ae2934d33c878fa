"""Occlusion cuts its patch positions into passes of at most MOST_PATCHES images (faster: the
layer outputs stay in the CPU's caches); the maps are those of one pass over every position."""

from __future__ import annotations

import numpy as np
import pytest

from model.files.checkpoint import torch_model
from model.insight.activations import as_input
from model.saliency import attribute
from model.saliency.base import BLACK
from model.saliency.occlusion import MOST_PATCHES
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
