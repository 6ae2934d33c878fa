"""A torch-free forward pass of zoo networks, straight from a checkpoint's bytes, in numpy.

Importing torch takes 1.5-2 s on a small machine; a zoo network is a flat list of conv,
BatchNorm, ReLU, pooling and flatten layers. This module reads a ``.safetensors`` checkpoint
(tensors and model card) with numpy only and computes every layer's output, so the explorer can
draw its first feature maps and prediction while torch is still loading in the background. The
results match ``torch`` in eval mode to float32 precision (see tests/viz/test_npforward.py).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from viz import card as card_reader
from viz.preprocess import MEAN, STD
from viz.receptive_field import output_length

BN_EPS = 1e-5


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
    check of ``viz.card`` passed first."""
    path = Path(path)
    card, tensors, _ = card_reader.read(path.read_bytes(), path.name)
    return NumpyNet(card["arch"], card["layers"], tensors, card)


def normalise(image: np.ndarray) -> np.ndarray:
    """uint8 (28, 28) -> float32 (1, 28, 28), normalised as for training."""
    return ((np.asarray(image, dtype=np.float32) / 255.0 - MEAN) / STD)[None]


def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: int, pad: int,
          dilation: int) -> np.ndarray:
    if pad:
        x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    k = w.shape[-1]
    span = dilation * (k - 1) + 1
    win = np.lib.stride_tricks.sliding_window_view(x, (span, span), axis=(1, 2))
    win = win[:, ::stride, ::stride, ::dilation, ::dilation]  # (C, H', W', k, k)
    out = np.tensordot(w, win, axes=([1, 2, 3], [0, 3, 4]))  # (O, H', W')
    if b is not None:
        out = out + b[:, None, None]
    return out.astype(np.float32, copy=False)


def _pool(x: np.ndarray, k: int, stride: int, pad: int, mode: str, ceil_mode: bool = False
          ) -> np.ndarray:
    """torch's MaxPool2d / AvgPool2d (count_include_pad=True) of a (C, H, W) map.

    In ceil mode the last window may run past the padded input: max pooling ignores the part
    outside, average pooling divides by the part inside the padded input (as torch does).
    """
    c, h, w = x.shape
    oh = output_length(h, k, stride, pad, pad, ceil_mode)
    ow = output_length(w, k, stride, pad, pad, ceil_mode)
    # (C, H, W) -> (C, pad + H + pad + extra, ...): every window lies inside
    extra_h = max(0, (oh - 1) * stride + k - (h + 2 * pad))
    extra_w = max(0, (ow - 1) * stride + k - (w + 2 * pad))
    fill = -np.inf if mode == "max" else 0.0
    x = np.pad(x, ((0, 0), (pad, pad + extra_h), (pad, pad + extra_w)), constant_values=fill)
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))
    win = win[:, ::stride, ::stride][:, :oh, :ow]  # (C, OH, OW, k, k)
    if mode == "max":
        return win.max(axis=(3, 4)).astype(np.float32)
    # the divisor: the window's cells inside the padded input (all k*k unless ceil mode cut it)
    starts_h, starts_w = np.arange(oh) * stride, np.arange(ow) * stride
    rows = np.minimum(starts_h + k, h + 2 * pad) - starts_h
    cols = np.minimum(starts_w + k, w + 2 * pad) - starts_w
    return (win.sum(axis=(3, 4)) / (rows[:, None] * cols[None, :])).astype(np.float32)


def forward(net: NumpyNet, image: np.ndarray) -> OrderedDict[str, np.ndarray]:
    """Every layer's output (batch dimension dropped) for a uint8 28x28 image, in eval mode."""
    t = net.tensors
    x = normalise(image)
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    for rec in net.layers:
        name, kind = rec["name"], rec["type"]
        if kind == "conv":
            x = _conv(x, t[f"{name}.weight"], t.get(f"{name}.bias"), rec.get("stride", 1),
                      rec.get("padding", 0), rec.get("dilation", 1))
        elif kind == "bn":
            scale = t[f"{name}.weight"] / np.sqrt(t[f"{name}.running_var"] + BN_EPS)
            shift = t[f"{name}.bias"] - t[f"{name}.running_mean"] * scale
            x = x * scale[:, None, None] + shift[:, None, None]
        elif kind == "relu":
            x = np.maximum(x, 0)
        elif kind == "dropout":
            pass
        elif kind in ("maxpool", "avgpool"):
            k = rec["kernel"]
            x = _pool(x, k, rec.get("stride") or k, rec.get("padding", 0), kind[:3],
                      bool(rec.get("ceil_mode", False)))
        elif kind == "gap":
            x = x.mean(axis=(1, 2), keepdims=True)
        elif kind == "flatten":
            x = x.reshape(-1)
        elif kind == "linear":
            x = t[f"{name}.weight"] @ x.reshape(-1)
            if f"{name}.bias" in t:
                x = x + t[f"{name}.bias"]
        else:
            raise ValueError(f"layer {name!r}: unsupported type {kind!r}")
        x = x.astype(np.float32, copy=False)
        out[name] = x
    return out


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64).reshape(-1)
    z = np.exp(z - z.max())
    return (z / z.sum()).astype(np.float32)
