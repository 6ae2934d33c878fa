"""The model zoo in torch: a flat ``nn.Sequential`` built from an architecture's layer records.

The architectures themselves (their layer records, descriptions, recipes) are plain data in
``model/architectures.py``; every network here is a flat ``nn.Sequential`` whose module names are
the record names (``conv1``, ``bn1``, ``relu1``, ``pool``, ``head`` ...). Shapes, parameters and
MACs are computed from the records by ``viz.network.layers`` (tested against these modules). What a
record of each type holds, and its defaults, is its entry in ``viz.network.layertypes``; :data:`BUILDERS`
holds the torch module of each type.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

from model.architectures import ARCHITECTURES, get
from viz.network.layers import INPUT_SHAPE, NUM_CLASSES, LayerRecord
from viz.network.layertypes import TYPES

__all__ = ["ARCHITECTURES", "BUILDERS", "INPUT_SHAPE", "NUM_CLASSES", "LayerRecord", "ZooNet",
           "build", "build_from_config", "build_layer"]


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


def _conv(rec: LayerRecord) -> nn.Module:
    t = TYPES["conv"]
    return nn.Conv2d(rec["in"], rec["out"], rec["kernel"], stride=t.value(rec, "stride"),
                     padding=t.value(rec, "padding"), dilation=t.value(rec, "dilation"),
                     groups=t.value(rec, "groups"), bias=t.value(rec, "bias"))


def _pool(cls: type[nn.Module], extra: Callable[[LayerRecord], dict] = lambda rec: {}
          ) -> Callable[[LayerRecord], nn.Module]:
    def make(rec: LayerRecord) -> nn.Module:
        t = TYPES[rec["type"]]
        return cls(rec["kernel"], stride=t.value(rec, "stride"), padding=t.value(rec, "padding"),
                   ceil_mode=t.value(rec, "ceil_mode"), **extra(rec))
    return make


# The torch module of every layer type of viz.network.layertypes (its ``torch`` names the class;
# tests/viz/test_layertypes.py checks both), built from a record with the registry's defaults.
BUILDERS: dict[str, Callable[[LayerRecord], nn.Module]] = {
    "conv": _conv,
    "bn": lambda rec: nn.BatchNorm2d(rec["channels"]),
    "relu": lambda rec: nn.ReLU(),
    "tanh": lambda rec: nn.Tanh(),
    "sigmoid": lambda rec: nn.Sigmoid(),
    "leakyrelu": lambda rec: nn.LeakyReLU(TYPES["leakyrelu"].value(rec, "negative_slope")),
    "dropout": lambda rec: nn.Dropout(TYPES["dropout"].value(rec, "p")),
    "maxpool": _pool(nn.MaxPool2d),
    "avgpool": _pool(nn.AvgPool2d, lambda rec: {
        "count_include_pad": TYPES["avgpool"].value(rec, "count_include_pad")}),
    "gap": lambda rec: nn.AdaptiveAvgPool2d(1),
    "gmp": lambda rec: nn.AdaptiveMaxPool2d(1),
    "flatten": lambda rec: nn.Flatten(),
    "linear": lambda rec: nn.Linear(rec["in"], rec["out"], bias=TYPES["linear"].value(rec, "bias")),
}


def build_layer(rec: LayerRecord) -> nn.Module:
    """One torch module from one layer record."""
    kind = rec.get("type")
    builder = BUILDERS.get(kind) if isinstance(kind, str) else None
    if builder is None:
        raise ValueError(f"layer {rec.get('name')!r}: unknown layer type {kind!r}")
    return builder(rec)


def build(arch: str) -> ZooNet:
    """A freshly initialised network of a zoo architecture."""
    return ZooNet(arch, get(arch).layers())


def build_from_config(arch: str, layers: list[LayerRecord]) -> ZooNet:
    """A network from explicit layer records (e.g. read back from a model card)."""
    try:
        return ZooNet(arch, layers)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"invalid layer config for {arch!r}: {exc}") from exc
