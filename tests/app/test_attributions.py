"""The All methods view's maps on two threads (``ui.cache.attributions``) are the maps
each method gives alone (to float rounding), on the trained network and on its randomized copy."""

from __future__ import annotations

import numpy as np
import pytest

from model import saliency
from model.insight.activations import as_input
from model.store import ModelRef, load_samples
from ui import cache

SEED = ModelRef("checkpoint", "checkpoints/seed.safetensors")


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    images, labels = load_samples()
    return images[:2], labels[:2]


def _alone(image: np.ndarray, method: str, target: int, layer: str, randomized: bool):
    model, _ = cache.get_model(SEED)
    if randomized:
        model = cache._randomized(SEED, model)
    try:
        return saliency.attribute(method, model, as_input(image), target, layer=layer,
                                  window=5, stride=2)
    except ValueError:
        return None


def _close(got: np.ndarray, want: np.ndarray, what: object) -> None:
    """The same map: batches of another size may sum in another order (last bits only)."""
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * float(np.abs(want).max()),
                               err_msg=str(what))


@pytest.mark.parametrize("layer", ["relu2", "flatten"])
def test_both_rows_on_two_threads_equal_each_map_alone(digits, layer) -> None:
    images, labels = digits
    jobs = [(k, r) for r in (False, True) for k in saliency.METHODS]
    for image, label in zip(images, labels, strict=True):
        got = cache.attributions(SEED, image, jobs, int(label), layer, 5, 2)
        assert list(got) == jobs
        for method, randomized in jobs:
            want = _alone(image, method, int(label), layer, randomized)
            if want is None:  # Grad-CAM on a dense layer: blank, as alone
                assert method == "gradcam" and got[(method, randomized)] is None
            else:
                _close(got[(method, randomized)], want, (method, randomized))
        trained, rand = got[("saliency", False)], got[("saliency", True)]
        assert not np.array_equal(trained, rand)  # the two rows are different networks


def test_one_row_is_shared_between_the_threads_too(digits) -> None:
    images, labels = digits
    jobs = [(k, False) for k in ("saliency", "ig", "occlusion")]
    got = cache.attributions(SEED, images[0], jobs, int(labels[0]), "relu2", 5, 2)
    for method, _ in jobs:
        _close(got[(method, False)], _alone(images[0], method, int(labels[0]), "relu2", False),
               method)
