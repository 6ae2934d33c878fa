"""Per-layer facts of a network from its layer records alone: shape, field, parameters, MACs.

The same records build the torch network, sit in every model card, drive the numpy forward
pass and are what the lab edits, so every number about a network is computed here, once, by
arithmetic: nothing is built or run. :func:`describe` gives one :class:`LayerInfo` per layer;
:func:`analyse` checks a whole network and totals it (a :class:`LabReport`). Standard library
and ``viz.network.layertypes`` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from viz.limits import BATCH_OUTPUT_BYTES
from viz.network.layertypes import (
    FIELD_CHANGERS,
    JOIN_TYPES,
    LAYER_TYPES,
    NUM_CLASSES,
    SHAPE_KEEPERS,
    TYPES,
    LayerRecord,
)
from viz.receptive_field import LayerField, Region, compute

__all__ = ["DEFAULT_LAYERS", "FIELD_CHANGERS", "INPUT", "INPUT_SHAPE", "JOIN_TYPES", "LAYER_TYPES", "NUM_CLASSES",
           "SHAPE_KEEPERS", "TABLE_COLUMNS", "LabReport", "LayerInfo", "LayerRecord",
           "activation_elements", "analyse", "batches", "check_inputs", "count_params",
           "default_layer", "describe", "find", "images_per_batch", "input_names", "input_side", "is_graph",
           "last_uses", "param_shapes", "total_macs", "total_params"]

INPUT_SHAPE = (1, 28, 28)  # (channels, height, width) of an MNIST digit
# the layer the explorer opens on: the first of these a network has, else its first layer (Grad-CAM
# and Occlusion read it when none is named; the browser's attribute.js has the same list)
DEFAULT_LAYERS = ("relu5", "relu3", "relu2")


def default_layer(names: Sequence[str]) -> str:
    """The first of :data:`DEFAULT_LAYERS` among a network's layer ``names``, else its first."""
    return next((n for n in DEFAULT_LAYERS if n in names), names[0])
INPUT = "input"  # what a record's ``inputs`` call the image (the engine's name too)
# The per-layer table's columns (the lab's table and CSV, the explorer's HTML table; the field
# CSV of viz.teaching.fields names the same columns in words)
TABLE_COLUMNS = ("layer", "type", "output", "r", "S", "P", "params", "MACs")


@dataclass(frozen=True)
class LayerInfo:
    """Everything the app shows about one layer's output (square fields: one number per axis)."""

    name: str
    type: str
    shape: tuple[int, ...]  # output (C, H, W), or (features,) after flatten
    r: int  # receptive field in input pixels (global layers: the whole input they see)
    stride: int | None  # effective stride S; None when global
    padding: int | None  # effective padding P: how far unit 0's field starts before pixel 0
    params: int
    macs: int
    is_global: bool  # every unit sees the whole input
    field: LayerField  # the engine's result (gives every unit's region)
    kernel: int | None = None  # the layer's own kernel (conv and pooling)
    inputs: tuple[str, ...] = ()  # the layers it reads ("input": the image), in order

    @property
    def size(self) -> int:
        """Side of the output map (1 for a vector or a 1x1 map)."""
        return self.shape[-1] if len(self.shape) == 3 else 1

    @property
    def elements(self) -> int:
        """Numbers in this layer's output for one image (C*H*W, or the features of a vector)."""
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def spatial(self) -> bool:
        """Has a field of its own (not global): r, S and P are defined."""
        return not self.is_global

    @property
    def rf(self) -> tuple[int, int] | None:
        """(r, r), or None for a global layer (it sees the whole input)."""
        return None if self.is_global else (self.r, self.r)

    def region(self, y: int, x: int) -> Region:
        """The input region of unit ``(y, x)`` (inclusive bounds, unclipped and as read)."""
        if not (0 <= y < self.size and 0 <= x < self.size):
            raise ValueError(f"unit ({y}, {x}) is outside {self.name}'s {self.size}x{self.size} "
                             f"map")
        return self.field.region(int(y), int(x))


def _side(value: Any) -> int:
    """The height of an int-or-[h, w] kernel/stride/padding (the zoo and the lab are square)."""
    return int(value[0]) if isinstance(value, (list, tuple)) else int(value)


def param_shapes(rec: LayerRecord) -> dict[str, tuple[int, ...]]:
    """The tensors a layer record implies, by state-dict suffix (``weight``, ``bias``, ...)."""
    kind = TYPES.get(rec.get("type"))  # type: ignore[arg-type]
    return kind.params(rec) if kind is not None else {}


def count_params(rec: LayerRecord) -> int:
    """Trainable parameters of one layer record (BatchNorm: weight and bias only)."""
    total = 0
    for key, shape in param_shapes(rec).items():
        if key in ("running_mean", "running_var", "num_batches_tracked"):
            continue
        n = 1
        for d in shape:
            n *= d
        total += n
    return total


# ---------------------------------------------------------------------------------------------
# Graphs: a record's ``inputs``
# ---------------------------------------------------------------------------------------------

def is_graph(layers: Sequence[LayerRecord]) -> bool:
    """True when some record names its ``inputs`` (else each reads the one before it)."""
    return any(isinstance(rec, dict) and "inputs" in rec for rec in layers)


def input_names(layers: Sequence[LayerRecord]) -> list[tuple[str, ...]]:
    """What each record reads, in order: its ``inputs``, else the record before it (the image,
    :data:`INPUT`, for the first). Records are taken as checked (:func:`check_inputs`)."""
    out: list[tuple[str, ...]] = []
    previous = INPUT
    for rec in layers:
        named = rec.get("inputs")
        out.append(tuple(named) if named is not None else (previous,))
        previous = rec["name"]
    return out


def last_uses(layers: Sequence[LayerRecord]) -> dict[str, int]:
    """{name: index of the last record that reads it} (the last record's output: its own
    index): what a forward pass must keep, and until when."""
    last: dict[str, int] = {}
    for i, srcs in enumerate(input_names(layers)):
        for src in srcs:
            last[src] = i
    if layers:
        last[layers[-1]["name"]] = len(layers) - 1
    return last


def _a(kind: Any) -> str:
    """'an add', 'a concat'."""
    return f"{'an' if str(kind)[:1] in 'aeiou' else 'a'} {kind}"


def check_inputs(layers: Sequence[LayerRecord]) -> None:
    """Every record's ``inputs`` name earlier records (or ``"input"``, the image), once each:
    two or more for a join (add, concat), exactly one for every other type. ``ValueError``
    naming the layer otherwise (so cycles and forward references cannot happen)."""
    seen: set[str] = set()
    for i, rec in enumerate(layers, start=1):
        name, kind = rec.get("name"), rec.get("type")
        where = f"layer #{i} ({name})"
        named = rec.get("inputs")
        if named is None:
            if kind in JOIN_TYPES:
                raise ValueError(f"{where}: {_a(kind)} layer joins two or more layers; list them "
                                 f'in "inputs", e.g. ["conv2", "relu1"]')
        else:
            if (not isinstance(named, (list, tuple)) or not named
                    or not all(isinstance(n, str) for n in named)):
                raise ValueError(f'{where}: "inputs" must be a list of layer names (or '
                                 f'"{INPUT}" for the image), not {str(named)[:40]!r}')
            if kind in JOIN_TYPES and len(named) < 2:
                raise ValueError(f"{where}: {_a(kind)} layer joins two or more layers, but its "
                                 f"inputs name {len(named)}")
            if kind not in JOIN_TYPES and len(named) != 1:
                raise ValueError(f"{where}: {_a(kind)} layer reads exactly one layer, but its "
                                 f"inputs name {len(named)}; join branches with add or concat")
            if len(set(named)) != len(named):
                raise ValueError(f"{where}: its inputs name the same layer twice")
            for src in named:
                if src != INPUT and src not in seen:
                    what = ("itself" if src == name else
                            "a later layer" if any(r.get("name") == src for r in layers)
                            else "no layer")
                    raise ValueError(
                        f"{where}: its inputs name {src[:40]!r}, which is {what}; a layer reads "
                        f'earlier layers only (or "{INPUT}", the image)')
        if isinstance(name, str):
            seen.add(name)


def _shapes(layers: list[LayerRecord], fields: list[LayerField],
            input_shape: tuple[int, int, int]) -> list[tuple[int, ...]]:
    """Output shape of every layer, from its type and what it reads: spatial sizes from the
    engine; a join's from its inputs' shapes."""
    shapes: list[tuple[int, ...]] = []
    made: dict[str, tuple[int, ...]] = {INPUT: tuple(input_shape)}
    for rec, fld, srcs in zip(layers, fields, input_names(layers)):
        kind = TYPES[rec["type"]]
        if kind.merge is not None:
            shape = tuple(kind.merge(rec, [made[s] for s in srcs]))
        else:
            shape = made[srcs[0]]
            hw = shape[1:] if len(shape) == 3 else (1, 1)
            if fld.output_size is not None and not fld.is_global:
                hw = fld.output_size
            shape = tuple(kind.out_shape(rec, shape, hw))  # type: ignore[arg-type]
        shapes.append(shape)
        made[rec["name"]] = shape
    return shapes


def describe(layers: list[LayerRecord], input_shape: tuple[int, int, int] = INPUT_SHAPE
             ) -> list[LayerInfo]:
    """One :class:`LayerInfo` per layer record, in order (raises ``ValueError`` when invalid)."""
    if not layers:
        return []
    if is_graph(layers):
        check_inputs(layers)
    fields = compute({"input_size": list(input_shape[1:]), "layers": layers})
    shapes = _shapes(layers, fields, input_shape)
    infos: list[LayerInfo] = []
    for rec, fld, shape in zip(layers, fields, shapes):
        macs = TYPES[rec["type"]].macs(rec, shape)
        if fld.is_global:
            region = fld.region(0, 0)
            r, stride, padding = region.h.end - region.h.start + 1, None, None
        else:
            r, stride, padding = int(fld.h.r), fld.h.stride, fld.h.padding
        kernel = _side(rec["kernel"]) if rec["type"] in FIELD_CHANGERS else None
        infos.append(LayerInfo(rec["name"], rec["type"], tuple(shape), r, stride, padding,
                               count_params(rec), macs, bool(fld.is_global), fld, kernel,
                               tuple(fld.inputs)))
    return infos


@dataclass(frozen=True)
class LabReport:
    """A whole network's :class:`LayerInfo` records and totals."""

    layers: tuple[LayerInfo, ...]
    params: int
    macs: int

    def final_rf(self) -> tuple[int, int] | None:
        """The receptive field of the last layer that has one (global layers see everything)."""
        spatial = [layer.rf for layer in self.layers if layer.rf is not None]
        return spatial[-1] if spatial else None


def analyse(layers: list[LayerRecord], input_shape: tuple[int, int, int] = INPUT_SHAPE
            ) -> LabReport:
    """Per-layer shapes, receptive fields, parameters and MACs of a network's layer records
    (``ValueError`` unless it ends with one output per digit)."""
    infos = describe(layers, input_shape)
    final = infos[-1].shape if infos else ()
    if final not in ((NUM_CLASSES,), (NUM_CLASSES, 1, 1)):
        shown = "x".join(str(d) for d in final)
        raise ValueError(
            f"the network must end with {NUM_CLASSES} outputs, one per digit; it ends with "
            f"{shown}. End with a conv of {NUM_CLASSES} channels whose kernel covers the whole "
            f"map (or gap), or with flatten + linear {NUM_CLASSES}.")
    return LabReport(tuple(infos), sum(r.params for r in infos), sum(r.macs for r in infos))


def find(infos: list[LayerInfo], name: str) -> LayerInfo:
    """The layer called ``name`` (``ValueError`` naming the layers when absent)."""
    for info in infos:
        if info.name == name:
            return info
    raise ValueError(f"no layer named {name!r}; layers are {', '.join(i.name for i in infos)}")


def total_params(layers: list[LayerRecord]) -> int:
    """Trainable parameters of a whole network."""
    return sum(count_params(rec) for rec in layers)


def total_macs(layers: list[LayerRecord], input_shape: tuple[int, int, int] = INPUT_SHAPE
               ) -> int:
    """Multiply-accumulates per image of a whole network."""
    return sum(info.macs for info in describe(layers, input_shape))


def activation_elements(infos: list[LayerInfo]) -> int:
    """Numbers every layer's output holds for one image, summed (the input excluded): what a
    forward pass that keeps every layer's output stores, and, times the batch, what training
    keeps for the backward pass."""
    return sum(info.elements for info in infos)


def input_side(infos: list[LayerInfo], name: str, size: int = INPUT_SHAPE[1]) -> int | None:
    """Side of the map that layer ``name`` reads (its first input's; None when it reads a
    vector)."""
    sides: dict[str, int | None] = {INPUT: size}
    for info in infos:
        if info.name == name:
            return sides.get(info.inputs[0] if info.inputs else INPUT, size)
        sides[info.name] = info.size if len(info.shape) == 3 else None
    raise ValueError(f"no layer named {name!r}")


# ---------------------------------------------------------------------------------------------
# Batches within a memory budget
# ---------------------------------------------------------------------------------------------

FLOAT_BYTES = 4  # float32
INPUT_ELEMENTS = INPUT_SHAPE[0] * INPUT_SHAPE[1] * INPUT_SHAPE[2]
BATCH_BYTES = BATCH_OUTPUT_BYTES  # the name the app's caches import
# Measured peak memory per image over what the layer outputs alone take (bench/batch_memory.py,
# factor): a forward pass without gradients 1.0x (the widest network the limits accept) to 2.0x
# (the zoo's seed: freed outputs the allocator has not yet handed back) the largest input plus
# output of one layer; a forward and backward pass taking input gradients 0.75x (seed: dropout
# in eval mode returns its input) to 1.5x (widest: the gradients going back) every layer's
# output; a pass recording every layer 0.8x to 1.0x of them.
FORWARD_FACTOR = 2
BACKWARD_FACTOR = 2


def images_per_batch(layers: Sequence[LayerInfo] | Sequence[int], budget: int = BATCH_OUTPUT_BYTES,
                     *, backward: bool = False, keep: bool = False,
                     most: int | None = None) -> int:
    """How many images one batch through a network may hold so that its float32 layer outputs
    stay within ``budget`` bytes (at least 1, at most ``most`` when given).

    ``layers`` are the network's :class:`LayerInfo` records, or the number of output values of
    each layer for one image, in order. What one image costs:

    - a forward pass without gradients (the default): :data:`FORWARD_FACTOR` times the largest
      input plus output of one layer (each layer's output is dropped once the next has read
      it; in a graph network, given as :class:`LayerInfo` records, once its last reader has:
      the outputs a later join still needs count too);
    - ``keep``: the input and every layer's output (a pass that records every layer);
    - ``backward``: :data:`BACKWARD_FACTOR` times that (outputs kept for the backward pass, the
      gradients going back, the attribution method's own copies).
    """
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
        raise ValueError(f"a batch budget is a number of bytes, 1 or more, not {budget!r}")
    if most is not None and most < 1:
        raise ValueError(f"the most images per batch must be 1 or more, not {most!r}")
    sizes = [int(layer if isinstance(layer, int) else layer.elements) for layer in layers]
    if any(s < 0 for s in sizes):
        raise ValueError(f"a layer cannot output a negative number of values: {sizes}")
    if backward or keep:
        per_image = INPUT_ELEMENTS + sum(sizes)
        if backward:
            per_image *= BACKWARD_FACTOR
    elif _branches(layers):
        per_image = _graph_peak(list(layers)) * FORWARD_FACTOR  # type: ignore[arg-type]
    else:
        per_image, before = INPUT_ELEMENTS, INPUT_ELEMENTS
        for size in sizes:
            per_image = max(per_image, before + size)
            before = size
        per_image *= FORWARD_FACTOR
    n = max(1, budget // (FLOAT_BYTES * per_image))
    return n if most is None else min(n, most)


def _branches(layers: Sequence[LayerInfo] | Sequence[int]) -> bool:
    """Some layer of these :class:`LayerInfo` records reads another than the one before it."""
    previous = INPUT
    for layer in layers:
        if not isinstance(layer, LayerInfo):
            return False
        if layer.inputs and layer.inputs != (previous,):
            return True
        previous = layer.name
    return False


def _graph_peak(infos: list[LayerInfo]) -> int:
    """The most output values one image holds at once in a forward pass that keeps each output
    until its last reader (the input counted as :data:`INPUT`)."""
    last: dict[str, int] = {}
    for i, info in enumerate(infos):
        for src in info.inputs or ((infos[i - 1].name if i else INPUT),):
            last[src] = i
    alive = {INPUT: INPUT_ELEMENTS}
    peak = INPUT_ELEMENTS
    for i, info in enumerate(infos):
        peak = max(peak, sum(alive.values()) + info.elements)
        alive = {n: v for n, v in alive.items() if last.get(n, -1) > i}
        if last.get(info.name, -1) > i:
            alive[info.name] = info.elements
    return peak


def batches(total: int, size: int) -> list[slice]:
    """``total`` items cut into consecutive slices of at most ``size`` (the last may be short)."""
    if size < 1:
        raise ValueError(f"a batch holds 1 item or more, not {size}")
    return [slice(i, min(i + size, total)) for i in range(0, max(total, 0), size)]
