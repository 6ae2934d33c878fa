"""Shapes, parameters and MACs counted on real torch modules: the oracle for ``viz.network.layers``."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

INPUT_SHAPE = (1, 28, 28)


def count_params(model: nn.Module) -> int:
    """Trainable parameters (BatchNorm's running statistics are buffers, not parameters)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _walk(model: nn.Module, input_shape: tuple[int, int, int]
          ) -> Iterator[tuple[str, nn.Module, torch.Tensor]]:
    """(name, module, output) of every top-level layer for a zero input, each in eval mode
    (a graph network's layers read what their records' inputs name)."""
    from model.zoo import walk

    def call(name: str, module: nn.Module, xs: list[torch.Tensor]) -> torch.Tensor:
        was_training = module.training
        module.eval()
        y = module(*xs)
        module.train(was_training)
        return y

    with torch.no_grad():
        yield from walk(model, torch.zeros(1, *input_shape), call)


def layer_shapes(model: nn.Module, input_shape: tuple[int, int, int] = INPUT_SHAPE
                 ) -> list[tuple[str, tuple[int, ...]]]:
    """(name, output shape without batch) for every top-level layer, from a real forward pass."""
    return [(name, tuple(y.shape[1:])) for name, _, y in _walk(model, input_shape)]


def count_macs(model: nn.Module, input_shape: tuple[int, int, int] = INPUT_SHAPE
               ) -> dict[str, int]:
    """Multiply-accumulates per image of every conv and linear layer (others count 0)."""
    macs: dict[str, int] = {}
    for name, module, y in _walk(model, input_shape):
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            macs[name] = kh * kw * module.in_channels // module.groups * y.numel()
        elif isinstance(module, nn.Linear):
            macs[name] = module.in_features * module.out_features
        else:
            macs[name] = 0
    return macs
