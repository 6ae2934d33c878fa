"""Saliency maps with Captum behind one small API: ``attribute(method, model, x, target, ...)``.

Every method returns a signed (28, 28) numpy map in input pixels (positive: evidence for the
target class). Methods that register hooks (Guided Backprop, DeepLift, Grad-CAM and the neuron
methods) run on :func:`viz.features.private_copy`, so the shared model never carries a hook and
concurrent sessions never see each other's. Gradients are taken with ``torch.autograd.grad``
(Captum's way), so parameter ``.grad`` is never touched either.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from model.data import MEAN, STD
from viz.features import private_copy

BLACK = -MEAN / STD  # a black pixel after MNIST normalisation: the natural "absence of ink"


@dataclass(frozen=True)
class Method:
    key: str
    label: str
    explanation: str
    uses_layer: bool = False


METHODS: dict[str, Method] = {m.key: m for m in [
    Method("saliency", "Saliency",
           "The gradient of the class score: how much each pixel's small change moves it."),
    Method("ig", "Integrated Gradients",
           "Gradients averaged along a path from a black image to this one, times the change: "
           "the attributions add up to the score difference."),
    Method("smoothgrad", "SmoothGrad",
           "Saliency averaged over noisy copies of the input (NoiseTunnel): less speckle, "
           "same idea."),
    Method("guided", "Guided Backprop",
           "Gradients with negative signals stopped at every ReLU: sharp, pretty, but known to "
           "depend little on the model (see the sanity check)."),
    Method("deeplift", "DeepLift",
           "Compares every neuron with its value on a black image and shares out the "
           "difference: like Integrated Gradients in one backward pass."),
    Method("occlusion", "Occlusion",
           "Blacks out a sliding window and records how much the class score drops. Window and "
           "stride default to the chosen layer's receptive field r and effective stride S.",
           uses_layer=True),
    Method("gradcam", "Grad-CAM",
           "Feature maps of the chosen layer weighted by their average gradient, ReLU'd and "
           "upsampled: blocky by exactly the layer's effective stride S.", uses_layer=True),
]}


def _quiet() -> warnings.catch_warnings:
    w = warnings.catch_warnings()
    w.__enter__()
    warnings.simplefilter("ignore")
    return w


def _module(model: nn.Module, layer: str) -> nn.Module:
    modules = dict(model.named_children())
    if layer not in modules:
        raise ValueError(f"no layer named {layer!r}")
    return modules[layer]


def _as_map(attr: torch.Tensor) -> np.ndarray:
    """(1, 1, 28, 28) -> (28, 28); a batch (N, 1, 28, 28) with N > 1 -> (N, 28, 28)."""
    maps = attr.detach()[:, 0].numpy().astype(np.float32)
    return maps[0] if len(maps) == 1 else maps


def saliency(model: nn.Module, x: torch.Tensor, target: int) -> np.ndarray:
    from captum.attr import Saliency
    return _as_map(Saliency(model).attribute(x, target=target, abs=False))


def integrated_gradients(model: nn.Module, x: torch.Tensor, target: int,
                         steps: int = 32) -> np.ndarray:
    from captum.attr import IntegratedGradients
    base = torch.full_like(x, BLACK)
    return _as_map(IntegratedGradients(model).attribute(
        x, baselines=base, target=target, n_steps=steps, internal_batch_size=steps))


def smoothgrad(model: nn.Module, x: torch.Tensor, target: int, samples: int = 16,
               noise: float = 0.15, seed: int = 0) -> np.ndarray:
    from captum.attr import NoiseTunnel, Saliency
    torch.manual_seed(seed)  # only affects this call's noise; results are reproducible
    stdev = noise * float(1.0 / STD)  # noise as a share of the pixel range
    return _as_map(NoiseTunnel(Saliency(model)).attribute(
        x, nt_type="smoothgrad", nt_samples=samples, nt_samples_batch_size=samples,
        stdevs=stdev, target=target, abs=False))


def guided_backprop(model: nn.Module, x: torch.Tensor, target: int) -> np.ndarray:
    from captum.attr import GuidedBackprop
    return _as_map(GuidedBackprop(private_copy(model)).attribute(x, target=target))


def deeplift(model: nn.Module, x: torch.Tensor, target: int) -> np.ndarray:
    from captum.attr import DeepLift
    base = torch.full_like(x, BLACK)
    return _as_map(DeepLift(private_copy(model)).attribute(x, baselines=base, target=target))


def occlusion(model: nn.Module, x: torch.Tensor, target: int, window: int = 5,
              stride: int = 1) -> np.ndarray:
    from captum.attr import Occlusion
    n = x.shape[-1]
    window = int(min(max(window, 1), n))
    stride = int(min(max(stride, 1), window))
    return _as_map(Occlusion(model).attribute(
        x, sliding_window_shapes=(1, window, window), strides=(1, stride, stride),
        baselines=BLACK, target=target, perturbations_per_eval=1024))


def gradcam(model: nn.Module, x: torch.Tensor, target: int, layer: str) -> np.ndarray:
    """Grad-CAM on ``layer``, upsampled to the input by nearest neighbour (blocks of size S)."""
    from captum.attr import LayerGradCam
    clone = private_copy(model)
    cam = LayerGradCam(clone, _module(clone, layer)).attribute(
        x, target=target, relu_attributions=True)
    if cam.dim() != 4:
        raise ValueError(f"Grad-CAM needs a layer with feature maps; {layer!r} outputs a vector. "
                         f"Pick a conv, ReLU or pooling layer.")
    up = F.interpolate(cam.detach(), size=x.shape[-2:], mode="nearest")
    return _as_map(up)


def attribute(method: str, model: nn.Module, x: torch.Tensor, target: int, *,
              layer: str | None = None, window: int = 5, stride: int = 1) -> np.ndarray:
    """Dispatch to one method by key (see :data:`METHODS`); a signed (28, 28) map."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not 0 <= int(target) < 10:
        raise ValueError(f"target class must be 0..9, got {target}")
    # Captum flips requires_grad on its inputs in place: every call gets its own tensor, so
    # sessions sharing an input never race on that flag.
    return _run(method, model, x.detach().clone(), int(target), layer, window, stride)


def attribute_batch(method: str, model: nn.Module, x: torch.Tensor, targets: torch.Tensor, *,
                    layer: str | None = None, window: int = 5, stride: int = 1) -> np.ndarray:
    """One method for a batch: inputs (N, 1, 28, 28), targets (N,) -> maps (N, 28, 28)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    targets = torch.as_tensor(targets, dtype=torch.long).reshape(-1)
    if len(targets) != len(x) or (len(targets) and not 0 <= int(targets.min()) <= int(
            targets.max()) < 10):
        raise ValueError("need one target class 0..9 per input")
    maps = _run(method, model, x.detach().clone(), targets, layer, window, stride)
    return maps.reshape(len(x), *x.shape[-2:])


def _run(method: str, model: nn.Module, x: torch.Tensor, target, layer: str | None,
         window: int, stride: int) -> np.ndarray:
    fns: dict[str, Callable[[], np.ndarray]] = {
        "saliency": lambda: saliency(model, x, target),
        "ig": lambda: integrated_gradients(model, x, target),
        "smoothgrad": lambda: smoothgrad(model, x, target),
        "guided": lambda: guided_backprop(model, x, target),
        "deeplift": lambda: deeplift(model, x, target),
        "occlusion": lambda: occlusion(model, x, target, window, stride),
        "gradcam": lambda: gradcam(model, x, target, layer or ""),
    }
    w = _quiet()
    try:
        return fns[method]()
    finally:
        w.__exit__(None, None, None)


def neuron_attribution(model: nn.Module, x: torch.Tensor, layer: str,
                       unit: tuple[int, int, int]) -> np.ndarray:
    """DeepLift of one unit of ``layer`` against a black image (Captum NeuronDeepLift).

    Like Integrated Gradients of the unit (the attributions add up to the unit's change from the
    black image) in a single backward pass, so picking units stays instant.
    """
    from captum.attr import NeuronDeepLift
    clone = private_copy(model)
    x = x.detach().clone()
    c, y, xx = unit
    selector = (c,) if _layer_ndim(model, x, layer) == 2 else (c, y, xx)
    w = _quiet()
    try:
        attr = NeuronDeepLift(clone, _module(clone, layer)).attribute(
            x, neuron_selector=selector, baselines=torch.full_like(x, BLACK))
    finally:
        w.__exit__(None, None, None)
    return _as_map(attr)


def _layer_ndim(model: nn.Module, x: torch.Tensor, layer: str) -> int:
    from viz.features import forward_to
    with torch.no_grad():
        return forward_to(model, x, layer).dim()
