"""Saliency maps with Captum behind one small API: ``attribute(method, model, x, target, ...)``.

Every method returns a signed (28, 28) numpy map in input pixels (positive: evidence for the
target class). Each method is one file here with its :class:`Method` record, and :data:`METHODS`
is the one registry every page reads: adding a method is one file plus one line below (or
:func:`register`). Methods that hook the model run on a private copy, and many-image methods cut
their work into batches within ``viz.limits.BATCH_OUTPUT_BYTES``, so sessions neither see each
other's hooks nor run an uploaded network's every image at once.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from model.insight.activations import batch_images
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
from viz.network.layers import batches

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
              layer: str | None = None, window: int = 5, stride: int = 1,
              batch_bytes: int | None = None, seed: int = 0) -> np.ndarray:
    """One method by key (see :data:`METHODS`); a signed (28, 28) map (``seed``: SmoothGrad's
    noise)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not 0 <= int(target) < 10:
        raise ValueError(f"target class must be 0..9, got {target}")
    # Captum flips requires_grad on its inputs in place: every call gets its own tensor, so
    # sessions sharing an input never race on that flag.
    x = x.detach().clone()
    with quiet():
        return METHODS[method].fn(model, x, int(target),
                                  Options(layer, window, stride, batch_bytes, int(seed)))


def attribute_batch(method: str, model: nn.Module, x: torch.Tensor, targets: torch.Tensor, *,
                    layer: str | None = None, window: int = 5, stride: int = 1,
                    batch_bytes: int | None = None, seed: int = 0) -> np.ndarray:
    """One method for many digits: inputs (N, 1, 28, 28), targets (N,) -> maps (N, 28, 28),
    taken as many digits at a time as ``batch_bytes`` of layer outputs allow."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    targets = torch.as_tensor(targets, dtype=torch.long).reshape(-1)
    if len(targets) != len(x) or (len(targets) and not 0 <= int(targets.min()) <= int(
            targets.max()) < 10):
        raise ValueError("need one target class 0..9 per input")
    m, opts = METHODS[method], Options(layer, window, stride, batch_bytes, int(seed))
    size = len(x) if m.own_batches else batch_images(
        model, backward=m.backward, budget=batch_bytes) // m.images_per_digit
    maps = []
    with quiet():
        for part in batches(len(x), max(size, 1)):
            out = m.fn(model, x[part].detach().clone(), targets[part],  # type: ignore[arg-type]
                       opts)
            maps.append(out.reshape(-1, *x.shape[-2:]))
    return (np.concatenate(maps) if maps else np.zeros((0, *x.shape[-2:]), np.float32))
