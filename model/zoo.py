"""The model zoo in torch: an ``nn.Sequential`` built from an architecture's layer records.

Module names are the record names (``conv1``, ``bn1`` ...), so state-dict keys and hooks name
layers as the records do; :data:`BUILDERS` holds one builder per layer type. A graph network
(records naming their ``inputs``) keeps the same flat children, and every pass that looks inside
a network goes through :func:`walk`, so flat and graph networks read the same way.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable, Iterator

import torch
from torch import nn

from model.architectures import ARCHITECTURES, get
from viz.network.layers import (
    INPUT,
    INPUT_SHAPE,
    NUM_CLASSES,
    LayerRecord,
    check_inputs,
    input_names,
    is_graph,
)
from viz.network.layertypes import TYPES

__all__ = ["ARCHITECTURES", "BUILDERS", "INPUT_SHAPE", "NUM_CLASSES", "OWN_MODULES", "Add",
           "Concat", "LayerRecord", "ZooNet", "build", "build_from_config", "build_layer",
           "graph_inputs", "module_class", "walk"]


class Add(nn.Module):
    """A residual join: the elementwise sum of its inputs (all of one shape), in order."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Concat(nn.Module):
    """A channel join: its inputs stacked along the channels (dimension 1), in order."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=1)


class ZooNet(nn.Sequential):
    """An ``nn.Sequential`` built from layer records, children named by the records; maps
    (N, 1, 28, 28) to (N, 10) logits (a 10x1x1 output map is flattened, so gap-ended networks
    train like flatten-ended ones). A graph network's forward pass walks its records' inputs."""

    def __init__(self, arch: str, layers: list[LayerRecord]):
        super().__init__(OrderedDict((rec["name"], build_layer(rec)) for rec in layers))
        self.arch = arch
        self.layer_config = copy.deepcopy(layers)
        # (a, b): the card's input scaling from an MNIST-normalised input, x * a + b, applied
        # first (viz.inputs.scaling.from_mnist); None for MNIST's own, as every zoo network
        self.input_affine: tuple[float, float] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 10) logits; a network ending in a 10x1x1 map (a gap or a whole-map conv, with
        no flatten) gives them as (N, 10) too, like a flatten-ended one."""
        if graph_inputs(self) is None:
            out = super().forward(_scaled(self, x))
        else:
            out = x
            for step in walk(self, x):
                out = step[2]
        if out.dim() == 4 and out.shape[2:] == (1, 1):
            out = out.flatten(1)
        return out


def _scaled(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """An MNIST-normalised input in the scaling the network was trained with (its card's)."""
    affine = getattr(model, "input_affine", None)
    return x if affine is None else x * affine[0] + affine[1]


def graph_inputs(model: nn.Module) -> dict[str, tuple[str, ...]] | None:
    """{child name: the names it reads} of a graph network (its ``layer_config`` names
    ``inputs``), or None for a flat one (each child reads the one before it)."""
    records = getattr(model, "layer_config", None)
    if not records or not is_graph(records):
        return None
    return {rec["name"]: srcs for rec, srcs in zip(records, input_names(records))}


def walk(model: nn.Module, x: torch.Tensor,
         call: Callable[[str, nn.Module, list[torch.Tensor]], torch.Tensor] | None = None
         ) -> Iterator[tuple[str, nn.Module, torch.Tensor]]:
    """``(name, module, output)`` of every top-level layer of ``model`` for input ``x``, in
    order, without hooks of its own. A flat network feeds each child the one before it; a graph
    network (:func:`graph_inputs`) feeds each child the outputs its record names, keeping an
    output only until its last reader. ``call(name, module, inputs)`` replaces ``module(*inputs)``
    (e.g. a leaky ReLU while searching). Stop iterating to stop the pass."""
    reads = graph_inputs(model)
    x = _scaled(model, x)
    run = call or (lambda name, module, xs: module(*xs))
    if reads is None:
        for name, module in model.named_children():
            x = run(name, module, [x])
            yield name, module, x
        return
    last: dict[str, int] = {}
    children = list(model.named_children())
    for i, (name, _) in enumerate(children):
        for src in reads.get(name, ()):
            last[src] = i
    kept: dict[str, torch.Tensor] = {INPUT: x}
    for i, (name, module) in enumerate(children):
        out = run(name, module, [kept[src] for src in reads[name]])
        for src in reads[name]:
            if last.get(src) == i:
                del kept[src]
        if last.get(name, -1) > i:
            kept[name] = out
        yield name, module, out


# zoo's own modules, which torch.nn does not have (an entry's ``torch`` names one of these or
# a class of torch.nn)
OWN_MODULES: dict[str, type[nn.Module]] = {"Add": Add, "Concat": Concat}


def module_class(kind: str) -> type[nn.Module]:
    """The torch class of layer type ``kind``: its entry's ``torch`` name, in torch.nn or here."""
    name = TYPES[kind].torch
    cls = OWN_MODULES.get(name) or getattr(nn, name, None)
    if cls is None:
        raise ValueError(f"layer type {kind!r}: no torch module {name!r} in torch.nn or the zoo")
    return cls


def _builder(kind: str) -> Callable[[LayerRecord], nn.Module]:
    cls, args = module_class(kind), TYPES[kind].torch_args
    return lambda rec: cls(**args(rec))


# The torch module of every layer type: its entry's class, built with its entry's arguments
# (the registry's defaults filled in).
BUILDERS: dict[str, Callable[[LayerRecord], nn.Module]] = {kind: _builder(kind) for kind in TYPES}


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
        if is_graph(layers):
            check_inputs(layers)
        return ZooNet(arch, layers)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"invalid layer config for {arch!r}: {exc}") from exc
