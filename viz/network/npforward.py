"""A torch-free forward pass of zoo networks, straight from a checkpoint's bytes, in numpy.

Importing torch takes 1.5-2 s on a small machine; a zoo network is a list of conv,
BatchNorm, activation, pooling, flatten, linear and join layers. This module reads a ``.safetensors``
checkpoint (tensors and model card) with numpy only and computes every layer's output, so the
explorer can draw its first feature maps and prediction while torch is still loading in the
background. The results match ``torch`` in eval mode to float32 precision (see
tests/viz/network/test_npforward.py). Each layer type's op is its ``numpy`` entry in
``viz.network.layertypes``; a graph network (records naming their ``inputs``: add, concat) is
walked by those inputs.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from viz.inputs.preprocess import MEAN, STD
from viz.inputs.scaling import scale_of
from viz.network import card as card_reader
from viz.network.layers import INPUT, input_names
from viz.network.layertypes import BN_EPS, TYPES  # noqa: F401  (BN_EPS: where it was read before)
from viz.network.layertypes import conv2d as _conv  # noqa: F401  (the numpy kernels, by their old names)
from viz.network.layertypes import pool2d as _pool  # noqa: F401


@dataclass
class NumpyNet:
    """A zoo network's layer records, weights (numpy) and model card."""

    arch: str
    layers: list[dict[str, Any]]
    tensors: dict[str, np.ndarray]
    card: dict[str, Any] = field(default_factory=dict)

    def conv_weight(self, layer: str) -> np.ndarray | None:
        """The kernel (out, in, kh, kw) of conv ``layer``, or None when it is not a conv."""
        rec = next((r for r in self.layers if r["name"] == layer), None)
        return self.tensors[f"{layer}.weight"] if rec and rec["type"] == "conv" else None

    @property
    def params(self) -> int:
        """Trainable parameters: weights and biases (BatchNorm statistics are not parameters)."""
        return int(sum(v.size for k, v in self.tensors.items()
                       if k.endswith((".weight", ".bias"))))


def load(path: str | Path) -> NumpyNet:
    """A :class:`NumpyNet` from a ``.safetensors`` checkpoint file (no torch involved), every
    check of ``viz.network.card`` passed first."""
    path = Path(path)
    card, tensors, _ = card_reader.read(path.read_bytes(), path.name)
    return NumpyNet(card["arch"], card["layers"], tensors, card)


def normalise(image: np.ndarray, card: dict[str, Any] | None = None) -> np.ndarray:
    """uint8 (28, 28) -> float32 (1, 28, 28), normalised as for training: with the input
    scaling ``card`` names (``viz.inputs.scaling``), MNIST's mean and std without one."""
    mean, std = scale_of(card) if card else (MEAN, STD)
    return ((np.asarray(image, dtype=np.float32) / 255.0 - np.float32(mean))
            / np.float32(std))[None]


def forward(net: NumpyNet, image: np.ndarray) -> OrderedDict[str, np.ndarray]:
    """Every layer's output (batch dimension dropped) for a uint8 28x28 image, in eval mode.
    Each layer reads the one before it, or the layers its record's ``inputs`` name (a join
    reads them all, in order)."""
    t = net.tensors
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    made = {INPUT: normalise(image, net.card)}
    for rec, srcs in zip(net.layers, input_names(net.layers)):
        name, kind = rec["name"], rec["type"]
        layer_type = TYPES.get(kind)
        if layer_type is None:
            raise ValueError(f"layer {name!r}: unsupported type {kind!r}")
        xs = [out[s] if s != INPUT else made[INPUT] for s in srcs]
        x = layer_type.numpy(xs if layer_type.merge is not None else xs[0], rec, t)
        out[name] = x.astype(np.float32, copy=False)
    return out


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64).reshape(-1)
    z = np.exp(z - z.max())
    return (z / z.sum()).astype(np.float32)
