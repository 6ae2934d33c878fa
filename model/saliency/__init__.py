"""Saliency maps with Captum behind one small API: ``attribute(method, model, x, target, ...)``.

Every method returns a signed (28, 28) numpy map in input pixels (positive: evidence for the
target class). Each method is one file here holding its function and its :class:`Method` record;
:data:`METHODS` is the one registry the explorer, links, the comparison and the Train page read.
Adding a method is one file plus one line below (or :func:`register` at run time).

Methods that register hooks (Guided Backprop, DeepLift, Grad-CAM, the neuron attribution) run on
:func:`model.activations.private_copy`, so the shared model never carries a hook and concurrent
sessions never see each other's. Gradients are taken with ``torch.autograd.grad`` (Captum's
way), so parameter ``.grad`` is never touched either.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from model.saliency import (
    deeplift,
    gradcam,
    guided_backprop,
    integrated_gradients,
    occlusion,
    saliency,
    smoothgrad,
)
from model.saliency.base import BLACK, Method, Options, quiet
from model.saliency.neuron import neuron_attribution

__all__ = ["BLACK", "METHODS", "Method", "Options", "attribute", "attribute_batch",
           "neuron_attribution", "register"]

METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add a method to the registry (its key must be new)."""
    if method.key in METHODS:
        raise ValueError(f"a saliency method with key {method.key!r} is already registered")
    METHODS[method.key] = method
    return method


for _m in (saliency, integrated_gradients, smoothgrad, guided_backprop, deeplift, occlusion,
           gradcam):
    register(_m.METHOD)


def attribute(method: str, model: nn.Module, x: torch.Tensor, target: int, *,
              layer: str | None = None, window: int = 5, stride: int = 1) -> np.ndarray:
    """One method by key (see :data:`METHODS`); a signed (28, 28) map."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not 0 <= int(target) < 10:
        raise ValueError(f"target class must be 0..9, got {target}")
    # Captum flips requires_grad on its inputs in place: every call gets its own tensor, so
    # sessions sharing an input never race on that flag.
    x = x.detach().clone()
    with quiet():
        return METHODS[method].fn(model, x, int(target), Options(layer, window, stride))


def attribute_batch(method: str, model: nn.Module, x: torch.Tensor, targets: torch.Tensor, *,
                    layer: str | None = None, window: int = 5, stride: int = 1) -> np.ndarray:
    """One method for a batch: inputs (N, 1, 28, 28), targets (N,) -> maps (N, 28, 28)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    targets = torch.as_tensor(targets, dtype=torch.long).reshape(-1)
    if len(targets) != len(x) or (len(targets) and not 0 <= int(targets.min()) <= int(
            targets.max()) < 10):
        raise ValueError("need one target class 0..9 per input")
    with quiet():
        maps = METHODS[method].fn(model, x.detach().clone(), targets,  # type: ignore[arg-type]
                                  Options(layer, window, stride))
    return maps.reshape(len(x), *x.shape[-2:])
