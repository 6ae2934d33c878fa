"""A linearised, single-channel copy of a network described by engine layer specs.

Weights 1, no bias, no ReLU, average pooling in place of max, BatchNorm and dropout as identity,
concat as a sum: every path from an input pixel to a unit then contributes a positive amount, so
the input pixels with a non-zero gradient are exactly the pixels the unit reads. The support of
the gradient depends only on the geometry, so one channel suffices (and keeps it fast). Built
independently of the engine: torch itself does the padding, striding and ceil_mode arithmetic.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv(spec: dict) -> nn.Module:
    padding = spec.get("padding", 0)
    pad_module: nn.Module = nn.Identity()
    if isinstance(padding, list) and padding and isinstance(padding[0], list):
        (top, bottom), (left, right) = padding
        pad_module, padding = nn.ZeroPad2d((left, right, top, bottom)), 0
    elif isinstance(padding, list):
        padding = tuple(padding)
    conv = nn.Conv2d(1, 1, _t(spec["kernel"]), stride=_t(spec.get("stride", 1)), padding=padding,
                     dilation=_t(spec.get("dilation", 1)), bias=False, dtype=torch.float64)
    nn.init.ones_(conv.weight)
    return nn.Sequential(pad_module, conv)


def _pool(spec: dict) -> nn.Module:
    if spec.get("dilation", 1) not in (1, [1, 1]):
        raise NotImplementedError("dilated pooling")
    stride = spec.get("stride")
    return nn.AvgPool2d(_t(spec["kernel"]), stride=None if stride is None else _t(stride),
                        padding=_t(spec.get("padding", 0)), ceil_mode=spec.get("ceil_mode", False),
                        count_include_pad=True)


def _t(value):
    return tuple(value) if isinstance(value, list) else value


class LinearCopy(nn.Module):
    """``forward(x)`` returns ``{layer name: output}`` for every layer."""

    def __init__(self, specs: list[dict]):
        super().__init__()
        self.specs = specs
        self.ops = nn.ModuleDict()
        for spec in specs:
            kind = spec["type"]
            if kind == "conv":
                self.ops[spec["name"]] = _conv(spec)
            elif kind in ("maxpool", "avgpool"):
                self.ops[spec["name"]] = _pool(spec)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        outs = {"input": x}
        previous = "input"
        for spec in self.specs:
            name, kind = spec["name"], spec["type"]
            srcs = [outs[s] for s in spec.get("inputs", [previous])]
            if name in self.ops:
                y = self.ops[name](srcs[0])
            elif kind in ("add", "concat"):
                y = sum(srcs[1:], srcs[0])
            elif kind == "gap":
                y = srcs[0].mean(dim=(2, 3), keepdim=True)
            elif kind == "flatten":
                y = srcs[0].flatten(1)
            elif kind == "linear":
                y = srcs[0].flatten(1).sum(dim=1, keepdim=True)
            else:  # relu, bn, dropout, identity
                y = srcs[0]
            outs[name] = y
            previous = name
        return outs


def gradient_support(outs: dict[str, torch.Tensor], x: torch.Tensor, name: str, i: int, j: int
                     ) -> set[tuple[int, int]]:
    """Input pixels with a non-zero gradient for unit (i, j) of layer ``name``.

    A flat output (flatten, linear) has one position: its unit is the sum of all features.
    """
    out = outs[name]
    target = out[0, 0, i, j] if out.dim() == 4 else out[0].sum()
    (grad,) = torch.autograd.grad(target, x, retain_graph=True)
    return {(int(a), int(b)) for a, b in torch.nonzero(grad[0, 0]).tolist()}


def region_pixels(region) -> set[tuple[int, int]]:
    """The pixels of an engine region's clipped rectangle."""
    if region.is_empty:
        return set()
    (y0, y1), (x0, x1) = region.h.clipped, region.w.clipped
    return {(a, b) for a in range(y0, y1 + 1) for b in range(x0, x1 + 1)}
