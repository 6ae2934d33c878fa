"""Activations, predictions and hook-safe model copies, without Streamlit.

The app shares one model between all sessions and never mutates it. Two rules make that safe:

- Feature maps come from walking the network layer by layer (:func:`activations`, by
  ``model.zoo.walk``: each layer reads the one before it, or what its record's ``inputs`` name):
  no hooks at all.
- Anything that must register hooks (Captum's layer, neuron and guided methods, or
  :func:`capture`) runs on :func:`private_copy`: a per-call copy of the module tree that shares the
  parameter tensors but has its own, empty hook tables. Hooks registered on the copy are invisible
  to every other session and vanish with it.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
from collections import OrderedDict
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from model.data import to_float
from model.zoo import walk
from viz.network.layers import INPUT_SHAPE

_HOOK_TABLES = (
    "_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
    "_forward_hooks_with_kwargs", "_forward_hooks_always_called", "_forward_pre_hooks_with_kwargs",
    "_state_dict_hooks", "_state_dict_pre_hooks", "_load_state_dict_pre_hooks",
    "_load_state_dict_post_hooks",
)


def private_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model``'s module tree sharing its parameters and buffers, with no hooks.

    Costs microseconds (no tensor is copied). Registering hooks on the copy never affects
    ``model``; parameters are shared, so the copy must only be used for forward and backward
    passes that compute input gradients (``torch.autograd.grad``), never for training.
    """
    clone = copy.copy(model)
    d = clone.__dict__
    d["_parameters"] = dict(model._parameters)
    d["_buffers"] = dict(model._buffers)
    d["_modules"] = OrderedDict((k, private_copy(m) if m is not None else None)
                                for k, m in model._modules.items())
    for table in _HOOK_TABLES:
        if table in d:
            d[table] = type(d[table])()
    return clone


def has_hooks(model: nn.Module) -> bool:
    """True when any module of ``model`` holds a forward or backward hook."""
    for m in model.modules():
        for table in _HOOK_TABLES[:7]:
            if getattr(m, table, None):
                return True
    return False


def as_input(image: np.ndarray) -> torch.Tensor:
    """uint8 (28, 28) -> normalised float (1, 1, 28, 28)."""
    a = np.asarray(image)
    if a.shape != INPUT_SHAPE[1:]:
        raise ValueError(f"expected a 28x28 image, got shape {a.shape}")
    return to_float(torch.from_numpy(np.ascontiguousarray(a, dtype=np.uint8))[None])


def layer_names(model: nn.Module) -> list[str]:
    """Top-level layer names in order."""
    return [name for name, _ in model.named_children()]


@torch.no_grad()
def activations(model: nn.Module, x: torch.Tensor) -> OrderedDict[str, np.ndarray]:
    """Output of every top-level layer for input ``x`` (1, 1, 28, 28), batch dim dropped.

    Walks the model directly (a graph network by its records' inputs): no hooks, safe to run
    while others use the model.
    """
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    for name, _, y in walk(model, x):
        out[name] = y[0].numpy().copy()
    return out


@torch.no_grad()
def probabilities(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """Softmax class probabilities, shape (10,)."""
    return torch.softmax(model(x), dim=1)[0].numpy()


def forward_to(model: nn.Module, x: torch.Tensor, layer: str) -> torch.Tensor:
    """Output of ``layer`` (with grad tracking as the caller decides), no hooks; the layers
    after it are not run."""
    for name, _, y in walk(model, x):
        if name == layer:
            return y
    raise ValueError(f"no layer named {layer!r}; layers are {', '.join(layer_names(model))}")


@contextlib.contextmanager
def capture(model: nn.Module, layers: list[str]) -> Iterator[dict[str, torch.Tensor]]:
    """Record the outputs of ``layers`` on a private copy; hooks are removed on exit.

    Yields ``(copy, store)``-style access via a dict: run ``store["model"](x)`` and read
    ``store[name]``. The shared model never carries a hook.
    """
    clone = private_copy(model)
    modules = dict(clone.named_children())
    missing = [n for n in layers if n not in modules]
    if missing:
        raise ValueError(f"no layer named {', '.join(missing)}")
    store: dict[str, torch.Tensor] = {"model": clone}  # type: ignore[dict-item]
    handles = []

    def hook_for(name: str):
        def hook(_module, _inputs, output):
            store[name] = output.detach()
        return hook

    try:
        for name in layers:
            handles.append(modules[name].register_forward_hook(hook_for(name)))
        yield store
    finally:
        for h in handles:
            h.remove()


def randomized_copy(model: nn.Module, seed: int = 0) -> nn.Module:
    """A deep copy with every parameter re-initialised (Adebayo et al.'s cascading randomisation,
    all layers at once). BatchNorm statistics are reset too. The original is untouched."""
    clone = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in clone.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                bound = (6.0 / fan_in) ** 0.5
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) * 2 * bound - bound)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_running_stats()
                m.reset_parameters()
    return clone.eval()


# ---------------------------------------------------------------------------------------------
# Batches within the memory budget
# ---------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def _record_sizes(records: str) -> tuple[int, ...]:
    from viz.network.layers import describe
    return tuple(info.elements for info in describe(json.loads(records)))


def layer_sizes(model: nn.Module, like: torch.Tensor | None = None) -> list[int]:
    """Output values per image of each top-level layer: from the network's layer records
    (``layer_config``, every zoo network and upload) for MNIST digits, else from one pass of a
    blank input shaped like ``like`` (default: one float32 digit)."""
    records = getattr(model, "layer_config", None)
    if records and (like is None or tuple(like.shape[1:]) == INPUT_SHAPE):
        return list(_record_sizes(json.dumps(records, sort_keys=True)))
    x = torch.zeros(1, *INPUT_SHAPE) if like is None else torch.zeros_like(like[:1])
    with torch.no_grad():
        return [y[0].numel() for _, _, y in walk(model, x)]


def batch_images(model: nn.Module, *, backward: bool = False, keep: bool = False,
                 budget: int | None = None, most: int | None = None,
                 like: torch.Tensor | None = None) -> int:
    """Images per batch through ``model`` within ``budget`` bytes of layer outputs
    (default ``viz.limits.BATCH_OUTPUT_BYTES``); see :func:`viz.network.layers.images_per_batch`.
    ``like``: an input of another shape or type than an MNIST digit (see :func:`layer_sizes`)."""
    from viz.limits import BATCH_OUTPUT_BYTES
    from viz.network.layers import describe, images_per_batch, is_graph
    records = getattr(model, "layer_config", None)
    layers = (describe(records) if records and is_graph(records) and like is None
              else layer_sizes(model, like))  # a graph's records: outputs kept for its joins
    return images_per_batch(layers, BATCH_OUTPUT_BYTES if budget is None else budget,
                            backward=backward, keep=keep, most=most)
