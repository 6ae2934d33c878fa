"""What every saliency method shares: the record type, the black baseline, small helpers.

A method is one :class:`Method` record: its URL key, label, a plain explanation, the function
that computes it, and what it needs (a layer, a sliding window). The registry is
``model.saliency.METHODS``; each method lives in its own file and registers itself there.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from viz.inputs.preprocess import MEAN, STD

BLACK = -MEAN / STD  # a black pixel after MNIST normalisation: the natural "absence of ink"


@dataclass(frozen=True)
class Options:
    """What a method may read besides the model, input and target."""

    layer: str | None = None  # Grad-CAM's layer; Occlusion's defaults come from it
    window: int = 5  # Occlusion: side of the black patch (input pixels)
    stride: int = 1  # Occlusion: step of the patch
    batch_bytes: int | None = None  # layer outputs one batch may hold (None: BATCH_OUTPUT_BYTES)
    seed: int = 0  # SmoothGrad: its noise's seed (viz.inputs.noise; the browser draws the same)


# (model, x (1, 1, 28, 28), target, options) -> signed (28, 28) map
AttributeFn = Callable[[nn.Module, torch.Tensor, int, Options], np.ndarray]


@dataclass(frozen=True)
class Method:
    """One saliency method: everything the app needs to offer, compute and explain it."""

    key: str  # URL and cache name (``?method=ig``)
    label: str
    explanation: str
    fn: AttributeFn
    uses_layer: bool = False  # reads the chosen layer (its feature maps, or its r and S)
    uses_window: bool = False  # has a sliding window (size and stride) to set
    feature_maps: bool = False  # needs the layer's feature maps (Grad-CAM): none on a vector
    backward: bool = True  # takes gradients (else forward passes only): sizes its batches
    own_batches: bool = False  # cuts any number of digits into batches itself
    images_per_digit: int = 1  # images one digit costs in a pass (DeepLift: it and its baseline)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence Captum's warnings (e.g. about hooks on the private copies)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def module(model: nn.Module, layer: str) -> nn.Module:
    modules = dict(model.named_children())
    if layer not in modules:
        raise ValueError(f"no layer named {layer!r}")
    return modules[layer]


def images_per_batch(model: nn.Module, opts: Options, backward: bool = True) -> int:
    """Images one batch through ``model`` may hold within ``opts.batch_bytes``."""
    from model.insight.activations import batch_images
    return batch_images(model, backward=backward, budget=opts.batch_bytes)


def as_map(attr: torch.Tensor) -> np.ndarray:
    """(1, 1, 28, 28) -> (28, 28) float32 numpy; a batch (N, 1, 28, 28), N > 1 -> (N, 28, 28)."""
    maps = attr.detach()[:, 0].numpy().astype(np.float32)
    return maps[0] if len(maps) == 1 else maps


DEFAULTS = Options()
