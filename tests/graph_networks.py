"""Small graph networks (records naming their ``inputs``) that the tests run everywhere:
residual adds of two and three branches, a channel concat, and a strided projection shortcut
(``resnet-mini`` of the zoo has all but the three-way add)."""

from __future__ import annotations

from typing import Any

from model.architectures import get

Record = dict[str, Any]


def _conv(name: str, cin: int, cout: int, kernel: int = 3, stride: int = 1, padding: int = 1,
          inputs: list[str] | None = None, bias: bool = True) -> Record:
    rec: Record = {"name": name, "type": "conv", "in": cin, "out": cout, "kernel": kernel,
                   "stride": stride, "padding": padding, "bias": bias}
    if inputs is not None:
        rec["inputs"] = inputs
    return rec


def concat_layers() -> list[Record]:
    """An inception-like block: a 1x1, a 3x3 and a max-pool branch of one map, stacked by
    channels (8 + 8 + 8 = 24), then a strided conv, global average pooling and a 1x1 head."""
    return [
        _conv("conv1", 1, 8),  # 8x28x28
        {"name": "relu1", "type": "relu"},
        _conv("branch1", 8, 8, kernel=1, padding=0),  # reads relu1 (the row above)
        _conv("branch3", 8, 8, inputs=["relu1"]),
        {"name": "branchpool", "type": "maxpool", "kernel": 3, "stride": 1, "padding": 1,
         "inputs": ["relu1"]},
        {"name": "cat", "type": "concat", "inputs": ["branch1", "branch3", "branchpool"]},
        {"name": "relu2", "type": "relu"},
        _conv("conv2", 24, 12, stride=2),  # 12x14x14
        {"name": "relu3", "type": "relu"},
        {"name": "gap", "type": "gap"},
        _conv("head", 12, 10, kernel=1, padding=0),
        {"name": "flatten", "type": "flatten"},
    ]


def add3_layers() -> list[Record]:
    """A three-way residual add: the stem, a 3x3 and a dilated 3x3 path of the same centre,
    with BatchNorm, then a pool and a dense head."""
    return [
        _conv("conv1", 1, 6, bias=False),
        {"name": "bn1", "type": "bn", "channels": 6},
        {"name": "relu1", "type": "relu"},
        _conv("conv2", 6, 6),
        {"name": "relu2", "type": "relu"},
        {"name": "conv3", "type": "conv", "in": 6, "out": 6, "kernel": 3, "stride": 1,
         "padding": 2, "dilation": 2, "inputs": ["relu1"]},
        {"name": "sum", "type": "add", "inputs": ["relu1", "relu2", "conv3"]},
        {"name": "relu3", "type": "relu"},
        {"name": "pool", "type": "maxpool", "kernel": 2, "stride": 2},  # 6x14x14
        {"name": "flatten", "type": "flatten"},
        {"name": "head", "type": "linear", "in": 6 * 14 * 14, "out": 10},
    ]


def resnet_mini_layers() -> list[Record]:
    return get("resnet-mini").layers()


GRAPHS = {"resnet-mini": resnet_mini_layers, "concat": concat_layers, "add3": add3_layers}
