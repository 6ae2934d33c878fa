"""Saliency methods: exact values on hand-set linear models, isolation under concurrency."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from model import saliency
from model.insight import activations as features
from model.saliency import BLACK
from model.zoo import build


def linear_model() -> nn.Sequential:
    model = nn.Sequential(OrderedDict(flatten=nn.Flatten(), fc=nn.Linear(784, 10)))
    with torch.no_grad():
        w = torch.arange(7840, dtype=torch.float32).reshape(10, 784) % 13 - 6.0
        model.fc.weight.copy_(w / 10)
        model.fc.bias.zero_()
    return model.eval()


def digit() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.rand(1, 1, 28, 28, generator=g) * 2 - 0.4


@pytest.mark.parametrize("method", ["saliency", "smoothgrad", "guided"])
def test_gradient_methods_of_a_linear_model_equal_its_weights(method: str) -> None:
    model, x = linear_model(), digit()
    got = saliency.attribute(method, model, x, target=3)
    want = model.fc.weight[3].detach().reshape(28, 28).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("method", ["ig", "deeplift"])
def test_path_methods_of_a_linear_model_are_exact(method: str) -> None:
    model, x = linear_model(), digit()
    got = saliency.attribute(method, model, x, target=7)
    w = model.fc.weight[7].detach().reshape(28, 28)
    want = ((x[0, 0] - BLACK) * w).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)
    # completeness: attributions add up to the score difference to the black baseline
    diff = (model(x) - model(torch.full_like(x, BLACK)))[0, 7].item()
    assert got.sum() == pytest.approx(diff, rel=1e-4, abs=1e-3)


def test_occlusion_with_a_one_pixel_window_is_exact() -> None:
    model, x = linear_model(), digit()
    got = saliency.attribute("occlusion", model, x, target=2, window=1, stride=1)
    w = model.fc.weight[2].detach().reshape(28, 28)
    np.testing.assert_allclose(got, ((x[0, 0] - BLACK) * w).numpy(), atol=1e-4)


def test_gradcam_is_blocky_by_the_stride() -> None:
    torch.manual_seed(0)
    model = build("compact").eval()
    cam = saliency.attribute("gradcam", model, digit(), target=1, layer="pool")
    assert cam.shape == (28, 28) and (cam >= 0).all()
    with pytest.raises(ValueError, match="outputs a vector"):
        saliency.attribute("gradcam", model, digit(), target=1, layer="flatten")


def test_bad_arguments() -> None:
    model = linear_model()
    with pytest.raises(ValueError, match="unknown method"):
        saliency.attribute("magic", model, digit(), 0)
    with pytest.raises(ValueError, match="target class"):
        saliency.attribute("saliency", model, digit(), 12)


def test_every_method_on_a_zoo_net_leaves_no_hook_and_no_grad() -> None:
    torch.manual_seed(0)
    model = build("compact").eval()
    for key in saliency.METHODS:
        out = saliency.attribute(key, model, digit(), 4, layer="relu5", window=5, stride=2)
        assert out.shape == (28, 28) and np.isfinite(out).all(), key
    out = saliency.neuron_attribution(model, digit(), "relu5", (1, 3, 3))
    assert out.shape == (28, 28)
    assert not features.has_hooks(model)
    assert all(p.grad is None for p in model.parameters())
    assert not model.training


def test_concurrent_sessions_never_see_each_others_hooks() -> None:
    """Hook-registering methods in some threads, plain gradients in others: same as serial."""
    torch.manual_seed(0)
    model = build("compact").eval()
    xs = [digit() * (1 + i / 10) for i in range(4)]
    jobs = [("guided", 0), ("saliency", 1), ("deeplift", 2), ("gradcam", 3), ("saliency", 0),
            ("guided", 1), ("ig", 2), ("gradcam", 0)]

    def run(method: str, i: int) -> np.ndarray:
        return saliency.attribute(method, model, xs[i], target=i, layer="relu6", window=3,
                                  stride=3)

    serial = {job: run(*job) for job in jobs}
    serial_acts = [features.activations(model, x)["flatten"] for x in xs]
    results: dict = {}
    errors: list = []
    barrier = threading.Barrier(len(jobs) + 1)

    def worker(job):
        try:
            barrier.wait()
            for _ in range(3):
                results[job] = run(*job)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    def forwards():
        barrier.wait()
        for _ in range(10):
            for x, ref in zip(xs, serial_acts, strict=True):
                np.testing.assert_allclose(features.activations(model, x)["flatten"], ref,
                                           atol=1e-6)

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    threads.append(threading.Thread(target=forwards))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for job in jobs:
        np.testing.assert_allclose(results[job], serial[job], atol=1e-5, err_msg=str(job))
    assert not features.has_hooks(model)


# ------------------------------------------------------------------ batches within the budget

SMALL = 1_000_000  # bytes of layer outputs: 3 to 4 digits of the fast network per batch
HUGE = 10 ** 12  # everything in one batch


def counted_fast() -> tuple[nn.Module, list[int]]:
    """The shipped fast network, its first conv recording the batch size of every pass (private
    copies share the record)."""
    from model.files.checkpoint import load_checkpoint

    class Counted(nn.Conv2d):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.seen.append(len(x))
            return super().forward(x)

    model, _ = load_checkpoint("checkpoints/fast.safetensors")
    model.conv1.__class__ = Counted
    model.conv1.seen = []
    return model, model.conv1.seen


def sample_digits(n: int) -> torch.Tensor:
    with np.load("checkpoints/samples.npz") as d:
        images = d["images"][:n]
    return torch.stack([features.as_input(im)[0] for im in images])


def inked_windows(image: torch.Tensor, window: int, stride: int) -> int:
    """How many of Occlusion's windows cover a pixel that is not black (by brute force)."""
    from model.saliency.base import BLACK
    from model.saliency.occlusion import starts
    ink = (image - BLACK).abs() > 1e-6
    return sum(bool(ink[y:y + window, x:x + window].any())
               for y in starts(image.shape[0], window, stride)
               for x in starts(image.shape[1], window, stride))


@pytest.mark.parametrize("method", ["occlusion", "ig", "smoothgrad"])
def test_one_digits_images_cut_into_batches_give_the_one_batch_map(method: str) -> None:
    model, seen = counted_fast()
    x = sample_digits(1)
    whole = saliency.attribute(method, model, x, 3, window=3, stride=1, batch_bytes=HUGE)
    # Occlusion also scores the digit itself, and its positions that hide ink (of 676) take
    # passes of MOST_PATCHES
    from model.saliency.occlusion import MOST_PATCHES
    inked = inked_windows(x[0, 0], 3, 1)
    assert 0 < inked < 676
    assert len(seen) == (1 + -(-inked // MOST_PATCHES) if method == "occlusion" else 1)
    seen.clear()
    cut = saliency.attribute(method, model, x, 3, window=3, stride=1, batch_bytes=SMALL)
    most = features.batch_images(model, backward=method != "occlusion", budget=SMALL)
    assert 1 < most < 10 and max(seen) <= most and len(seen) > 3
    np.testing.assert_allclose(cut, whole, rtol=1e-5, atol=1e-6 * np.abs(whole).max())
    assert np.abs(whole).max() > 0


@pytest.mark.parametrize("method", list(saliency.METHODS))
def test_many_digits_cut_into_batches_give_the_one_batch_maps(method: str) -> None:
    model, seen = counted_fast()
    x, targets = sample_digits(7), torch.tensor([0, 1, 2, 3, 4, 5, 6])
    whole = saliency.attribute_batch(method, model, x, targets, layer="relu1", window=4,
                                     stride=4, batch_bytes=HUGE)
    seen.clear()
    cut = saliency.attribute_batch(method, model, x, targets, layer="relu1", window=4, stride=4,
                                   batch_bytes=SMALL)
    most = features.batch_images(model, backward=method != "occlusion", budget=SMALL)
    assert max(seen) <= most < 7 and len(seen) > 2
    np.testing.assert_allclose(cut, whole, rtol=1e-5, atol=1e-6 * np.abs(whole).max())
    for i in range(7):  # and each digit's map is the one it gets alone
        alone = saliency.attribute(method, model, x[i:i + 1], int(targets[i]), layer="relu1",
                                   window=4, stride=4)
        np.testing.assert_allclose(cut[i], alone, rtol=1e-5, atol=1e-6 * np.abs(alone).max())


def test_smoothgrad_is_captums_noise_tunnel_given_its_noise_and_leaves_the_global_generator_alone(
        monkeypatch) -> None:
    from captum.attr import NoiseTunnel, Saliency

    from model.saliency.smoothgrad import NOISE, SAMPLES, noise
    from viz.inputs.preprocess import STD
    model, _ = counted_fast()
    x = sample_digits(3)
    eps = noise(5)

    def drawn(mean, std):  # NoiseTunnel's draw, given the generator's noise (digit-major)
        assert float(mean) == 0 and std.shape == (3 * SAMPLES, 1, 28, 28)
        assert float(std.reshape(-1)[0]) == pytest.approx(NOISE / STD)
        return eps.repeat(3, 1, 1, 1)

    with monkeypatch.context() as mp:
        mp.setattr(torch, "normal", drawn)
        want = NoiseTunnel(Saliency(model)).attribute(
            x.clone(), nt_type="smoothgrad", nt_samples=SAMPLES, nt_samples_batch_size=SAMPLES,
            stdevs=NOISE * float(1.0 / STD), target=torch.tensor([1, 2, 3]), abs=False)
    torch.manual_seed(123)
    before = torch.rand(4)
    torch.manual_seed(123)
    got = saliency.attribute_batch("smoothgrad", model, x, torch.tensor([1, 2, 3]),
                                   batch_bytes=SMALL, seed=5)
    assert torch.equal(torch.rand(4), before)  # the global stream is where it was
    want = want[:, 0].numpy()  # the same noise and sums; another CPU may round the last bits
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * float(np.abs(want).max()))


def test_smoothgrad_noise_is_the_seeds_and_each_digit_gets_its_map_alone() -> None:
    from model.saliency.smoothgrad import NOISE, SAMPLES, noise
    from viz.inputs.noise import normals
    from viz.inputs.preprocess import STD
    eps = noise(9)
    assert eps.shape == (SAMPLES, 1, 28, 28) and eps.dtype == torch.float32
    want = (normals(9, SAMPLES * 784) * (NOISE * float(1.0 / STD))).astype(np.float32)
    assert np.array_equal(eps.numpy().reshape(-1), want)
    assert not torch.equal(noise(9), noise(10))
    model, _ = counted_fast()
    x = sample_digits(2)
    both = saliency.attribute_batch("smoothgrad", model, x, torch.tensor([4, 7]), seed=9)
    for i, t in enumerate((4, 7)):
        alone = saliency.attribute("smoothgrad", model, x[i:i + 1], t, seed=9)
        np.testing.assert_allclose(both[i], alone, rtol=1e-5, atol=1e-6 * np.abs(alone).max())
    other = saliency.attribute("smoothgrad", model, x[:1], 4, seed=10)
    assert np.abs(other - both[0]).max() > 1e-3 * np.abs(both[0]).max()


def test_a_network_at_the_limits_gets_one_or_two_images_per_batch() -> None:
    from viz.network.layers import describe, images_per_batch
    c, h = 2215, 2235  # the widest network the upload limits accept
    layers = [{"name": "conv1", "type": "conv", "in": 1, "out": c, "kernel": 3, "padding": 2},
              {"name": "relu1", "type": "relu"}, {"name": "gap", "type": "gap"},
              {"name": "flatten", "type": "flatten"},
              {"name": "fc1", "type": "linear", "in": c, "out": h},
              {"name": "relu2", "type": "relu"}, {"name": "fc2", "type": "linear", "in": h,
                                                  "out": 10}]
    model = nn.Sequential(OrderedDict((r["name"], nn.Identity()) for r in layers))
    model.layer_config = layers  # the records are all the budget reads
    infos = describe(layers)
    assert features.layer_sizes(model) == [i.elements for i in infos]
    assert features.batch_images(model) == images_per_batch(infos) == 2
    assert features.batch_images(model, backward=True) == 2
    assert features.batch_images(model, backward=True, budget=10_000_000) == 1


def _guided_by_hand(model: nn.Module, x: torch.Tensor, target: int) -> np.ndarray:
    """Guided Backprop written out: the gradient into every activation module clamped at 0."""
    hooks = [m.register_full_backward_hook(lambda mod, gin, gout: (gin[0].clamp(min=0),))
             for m in model.modules()
             if isinstance(m, (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid))]
    try:
        x = x.clone().requires_grad_(True)
        model(x)[0, target].backward()
    finally:
        for h in hooks:
            h.remove()
    return x.grad[0, 0].numpy()


@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid", "leakyrelu"])
def test_guided_backprop_stops_negative_signals_at_every_activation(act: str) -> None:
    # a small conv network with each activation type: Guided Backprop must hook it (equal to
    # the rule written out) and so differ from the plain gradient
    from model.zoo import build_from_config
    extra = {"negative_slope": 0.1} if act == "leakyrelu" else {}
    layers = [{"name": "conv1", "type": "conv", "in": 1, "out": 4, "kernel": 5, "stride": 2},
              {"name": "act1", "type": act, **extra},
              {"name": "conv2", "type": "conv", "in": 4, "out": 6, "kernel": 3},
              {"name": "act2", "type": act, **extra},
              {"name": "flatten", "type": "flatten"},
              {"name": "fc", "type": "linear", "in": 6 * 10 * 10, "out": 10}]
    torch.manual_seed(3)
    model = build_from_config("case", layers).eval()
    x = digit()
    got = saliency.attribute("guided", model, x, target=4)
    np.testing.assert_allclose(got, _guided_by_hand(model, x, 4), atol=1e-6)
    plain = saliency.attribute("saliency", model, x, target=4)
    assert float(np.abs(got - plain).max()) > 1e-3 * float(np.abs(plain).max())
