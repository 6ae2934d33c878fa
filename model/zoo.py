"""The model zoo in torch: a flat ``nn.Sequential`` built from an architecture's layer records.

The architectures themselves (their layer records, descriptions, recipes) are plain data in
``model/architectures.py``; every network here is a flat ``nn.Sequential`` whose module names are
the record names (``conv1``, ``bn1``, ``relu1``, ``pool``, ``head`` ...). Shapes, parameters and
MACs are computed from the records by ``viz.layers`` (tested against these modules).
"""

from __future__ import annotations

import copy
from collections import OrderedDict

import torch
from torch import nn

from model.architectures import ARCHITECTURES, get
from viz.layers import INPUT_SHAPE, NUM_CLASSES, LayerRecord

__all__ = ["ARCHITECTURES", "INPUT_SHAPE", "NUM_CLASSES", "LayerRecord", "ZooNet", "build",
           "build_from_config", "build_layer"]


class ZooNet(nn.Sequential):
    """A flat ``nn.Sequential`` built from layer records; maps (N, 1, 28, 28) to (N, 10) logits
    (a 10x1x1 output map is flattened, so gap-ended networks train like flatten-ended ones)."""

    def __init__(self, arch: str, layers: list[LayerRecord]):
        super().__init__(OrderedDict((rec["name"], build_layer(rec)) for rec in layers))
        self.arch = arch
        self.layer_config = copy.deepcopy(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 10) logits; a network ending in a 10x1x1 map (a gap or a whole-map conv, with
        no flatten) gives them as (N, 10) too, like a flatten-ended one."""
        out = super().forward(x)
        if out.dim() == 4 and out.shape[2:] == (1, 1):
            out = out.flatten(1)
        return out


def build_layer(rec: LayerRecord) -> nn.Module:
    """One torch module from one layer record."""
    kind = rec.get("type")
    if kind == "conv":
        return nn.Conv2d(rec["in"], rec["out"], rec["kernel"], stride=rec.get("stride", 1),
                         padding=rec.get("padding", 0), dilation=rec.get("dilation", 1),
                         bias=rec.get("bias", True))
    if kind == "bn":
        return nn.BatchNorm2d(rec["channels"])
    if kind == "relu":
        return nn.ReLU()
    if kind == "dropout":
        return nn.Dropout(rec.get("p", 0.0))
    if kind == "maxpool":
        return nn.MaxPool2d(rec["kernel"], stride=rec.get("stride"), padding=rec.get("padding", 0),
                            ceil_mode=rec.get("ceil_mode", False))
    if kind == "avgpool":
        return nn.AvgPool2d(rec["kernel"], stride=rec.get("stride"), padding=rec.get("padding", 0),
                            ceil_mode=rec.get("ceil_mode", False))
    if kind == "gap":
        return nn.AdaptiveAvgPool2d(1)
    if kind == "flatten":
        return nn.Flatten()
    if kind == "linear":
        return nn.Linear(rec["in"], rec["out"], bias=rec.get("bias", True))
    raise ValueError(f"layer {rec.get('name')!r}: unknown layer type {kind!r}")


def build(arch: str) -> ZooNet:
    """A freshly initialised network of a zoo architecture."""
    return ZooNet(arch, get(arch).layers())


def build_from_config(arch: str, layers: list[LayerRecord]) -> ZooNet:
    """A network from explicit layer records (e.g. read back from a model card)."""
    try:
        return ZooNet(arch, layers)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"invalid layer config for {arch!r}: {exc}") from exc
