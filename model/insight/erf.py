"""Effective receptive field (Luo, Li, Urtasun & Zemel, NIPS 2016).

The map ``|d unit / d input|`` of one unit, averaged over a batch of inputs and over input
channels. It is roughly Gaussian and much smaller than the theoretical field (which the app
draws around it, from ``viz.receptive_field``).

API: ``effective_receptive_field(model, layer_name, unit, inputs) -> numpy.ndarray (H, W)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


class _Stop(Exception):
    """Raised by the forward hook once the wanted layer has run (skips the rest)."""


def effective_receptive_field(model: nn.Module, layer_name: str, unit: Sequence[int],
                              inputs: torch.Tensor | np.ndarray,
                              batch_bytes: int | None = None) -> np.ndarray:
    """Mean over ``inputs`` of ``|d unit / d input|``, as a float64 ``H x W`` array.

    ``unit`` is ``(channel, y, x)`` for a feature map, or ``(feature,)`` for a flat output.
    ``inputs`` is ``(N, C, H, W)`` or one ``(C, H, W)`` image. The model runs in eval mode
    (BatchNorm uses its running statistics, dropout is off, so samples stay independent) and is
    put back in its previous mode afterwards; its gradients are left untouched. Many inputs
    go through in batches within ``batch_bytes`` of layer outputs (default
    ``viz.limits.BATCH_OUTPUT_BYTES``).
    """
    modules = dict(model.named_modules())
    if layer_name not in modules or not layer_name:
        raise ValueError(f"unknown layer {layer_name!r}; layers: "
                         f"{', '.join(n for n in modules if n)}")
    x = torch.as_tensor(inputs)
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4:
        raise ValueError(f"inputs must be (N, C, H, W) or (C, H, W), got shape {tuple(x.shape)}")
    if len(x) == 0:
        raise ValueError("no inputs: give at least one image")
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None else torch.float32
    x = x.detach().to(dtype)
    from model.insight.activations import batch_images
    size = batch_images(model, backward=True, budget=batch_bytes, like=x)

    captured: list[torch.Tensor] = []

    def hook(_module: nn.Module, _args: object, output: torch.Tensor) -> None:
        captured.append(output)
        raise _Stop

    was_training = model.training
    handle = modules[layer_name].register_forward_hook(hook)
    model.eval()
    total: torch.Tensor | None = None
    try:
        with torch.enable_grad():
            for start in range(0, len(x), size):
                part = x[start:start + size].clone().requires_grad_(True)
                captured.clear()
                with contextlib.suppress(_Stop):
                    model(part)
                if not captured:
                    raise ValueError(f"layer {layer_name!r} did not run in the forward pass")
                out = captured[0]
                index = tuple(unit)
                if len(index) != out.dim() - 1:
                    raise ValueError(f"layer {layer_name!r} has outputs of shape "
                                     f"{tuple(out.shape[1:])}; unit needs {out.dim() - 1} "
                                     f"indices, got {index}")
                for i, (u, n) in enumerate(zip(index, out.shape[1:], strict=True)):
                    if not 0 <= u < n:
                        raise ValueError(f"unit index {u} (position {i}) is outside "
                                         f"0..{n - 1} for layer {layer_name!r}")
                target = out[(slice(None), *index)].sum()  # samples are independent (eval)
                (grad,) = torch.autograd.grad(target, part)
                summed = grad.abs().sum(dim=(0, 1)).detach()
                total = summed if total is None else total + summed
                del out, target, grad
                captured.clear()
    finally:
        handle.remove()
        model.train(was_training)
    if total is None:
        raise ValueError("no inputs: give at least one image")
    return (total / (len(x) * x.shape[1])).to(torch.float64).numpy()


def effective_field(model: nn.Module, layer: str, unit: tuple[int, int, int],
                    x: torch.Tensor) -> np.ndarray:
    """|d unit / d input| of one unit for one input (1, 1, 28, 28), as a float32 (28, 28) map.

    ``unit`` is ``(channel, y, x)``; for a layer with a flat output only the channel counts.
    :func:`effective_receptive_field` registers a hook and toggles eval mode, so it runs on a
    private copy: the shared model is never touched.
    """
    from model.insight.activations import forward_to, private_copy
    with torch.no_grad():
        ndim = forward_to(model, x, layer).dim()
    c, uy, ux = unit
    index = (c,) if ndim == 2 else (c, uy, ux)
    return effective_receptive_field(private_copy(model), layer, index, x).astype(np.float32)
