"""Exact receptive-field arithmetic for CNNs described by plain layer records.

Pure Python (standard library only): no torch, no numpy. The formulas follow Araujo, Norris &
Sim, "Computing Receptive Fields of Convolutional Neural Networks" (Distill, 2019), one axis at a
time, so height and width may differ. For every layer and axis:

    r += (k_dilated - 1) * S      receptive-field size
    P += p_top_or_left * S        effective padding
    S *= s                        effective stride (jump)

and output unit ``u`` reads input pixels ``u * S - P`` .. ``u * S - P + r - 1`` (unclipped).

Public API
----------
``compute(spec, input_size=None) -> list[LayerField]``
    One ``LayerField`` per layer, in spec order. ``spec`` is ``{"input_size": [h, w], "layers":
    [...]}`` or a bare list of layer records (a zoo ``layer_config`` is a valid spec).
``LayerField``
    ``name``, ``type``, ``inputs``, ``h`` / ``w`` (``AxisField``), ``is_global``, ``input_size``;
    shortcuts ``rf``, ``stride``, ``padding``, ``output_size`` (each an ``(h, w)`` pair);
    ``region(y, x) -> Region`` for one unit.
``AxisField(r, stride, padding, size)``
    One axis of one layer. For a global layer (flatten, linear, global pooling, and everything
    after one) ``r``, ``stride`` and ``padding`` are ``None``: the field is the whole input.
``Region`` / ``AxisRegion``
    A unit's input region per axis: unclipped ``start``..``end`` (inclusive, may run into the
    padding), ``clipped`` (the image pixels the unit actually reads, or ``None``), ``padding_before``
    / ``padding_after`` (how many positions of the region lie outside the image) and ``centre``.
``units_seeing(layer_field, y, x) -> (rows, cols)``
    The inverse map: the rows and the columns (sorted tuples of ints) of the units of a layer
    whose clipped region contains input pixel ``(y, x)``.
``to_records(fields) -> list[dict]`` / ``format_table(fields) -> str``
    The calculator's JSON records and human-readable table.
``LAYER_TYPES``
    The accepted layer types: the app's (``viz.network.layertypes``, in the same roles: spatial, element-
    wise, global; tests/viz/test_layertypes.py checks they agree) plus ``identity``, ``add`` and
    ``concat``. The engine stays standard library only, so it keeps its own list.

Calculator: ``python -m viz.receptive_field SPEC.json [--table]`` (see docs/receptive-field.md).

Multi-path networks (``add``, ``concat``) use the Distill rule: all paths must share the effective
stride and the centre offset ``(r - 1) / 2 - P`` (the network is *aligned*); the layer then takes
the largest ``r`` and that path's ``P``. A misaligned merge raises ``ValueError`` naming the two
paths. Every invalid spec raises ``ValueError`` with a message meant for a student.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "LAYER_TYPES",
    "AxisField",
    "AxisRegion",
    "LayerField",
    "Region",
    "compute",
    "format_table",
    "main",
    "to_records",
    "units_seeing",
]

SPATIAL_TYPES = ("conv", "maxpool", "avgpool")
ELEMENTWISE_TYPES = ("relu", "tanh", "sigmoid", "leakyrelu", "bn", "dropout", "identity")
MERGE_TYPES = ("add", "concat")
GLOBAL_TYPES = ("flatten", "linear", "gap", "gmp")
LAYER_TYPES = SPATIAL_TYPES + ELEMENTWISE_TYPES + MERGE_TYPES + GLOBAL_TYPES

INPUT = "input"  # the name a layer uses to read the network's input

# Keys people often write for the ones the spec uses: caught instead of silently ignored.
_KEY_TYPOS = {
    "kernel_size": "kernel", "kernels": "kernel", "strides": "stride", "pad": "padding",
    "paddings": "padding", "dilations": "dilation", "dilation_rate": "dilation",
    "input": "inputs", "from": "inputs",
}

Pair = tuple[int, int]
MODEL_CARD_INPUT = (28, 28)  # a model card's input size when it names none (MNIST)


# ----------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class AxisField:
    """One axis of one layer: field size ``r``, effective ``stride`` and ``padding``, map ``size``.

    ``r``, ``stride`` and ``padding`` are ``None`` for a global layer (its field is the whole
    input); ``size`` is ``None`` when no input size was given.
    """

    r: int | None
    stride: int | None
    padding: int | None
    size: int | None


@dataclass(frozen=True)
class AxisRegion:
    """A unit's input region along one axis (input-pixel coordinates, bounds inclusive).

    ``start``/``end``: the unclipped field (may run below 0 or past the image, into padding).
    ``clipped``: ``(first, last)`` image pixel the unit actually reads, or ``None`` when it reads
    only padding (or the image size is unknown). It excludes what only padding positions would
    reach (e.g. rows dropped by a floor-mode stride), so the clipped rectangle is exactly the
    bounding box of the pixels with a non-zero gradient (on a linear copy of the network); for
    a single gap-free path (no dilation holes, no stride larger than the field it jumps over)
    every pixel in it has one. After a merge (add, concat), at the image border, the pixels
    with a gradient lie within it but may not reach all of it: each branch is clipped on its
    own, and a branch that reads only padding along one axis adds nothing along the other.
    ``padding_before``/``padding_after``: positions of ``start..end`` outside the image (``None``
    when the image size is unknown). ``centre``: ``start + (r - 1) / 2``.
    """

    start: int
    end: int
    clipped: Pair | None
    padding_before: int | None
    padding_after: int | None
    centre: float

    @property
    def size(self) -> int:
        """Length of the unclipped region (the receptive-field size ``r``)."""
        return self.end - self.start + 1


@dataclass(frozen=True)
class Region:
    """A unit's input region: one ``AxisRegion`` per axis (``h`` rows, ``w`` columns)."""

    h: AxisRegion
    w: AxisRegion

    @property
    def centre(self) -> tuple[float, float]:
        """``(row, column)`` of the region's centre in input pixels."""
        return (self.h.centre, self.w.centre)

    @property
    def is_empty(self) -> bool:
        """True when the unit reads no image pixel at all (only padding)."""
        return self.h.clipped is None or self.w.clipped is None

    def contains(self, y: int, x: int) -> bool:
        """Whether input pixel ``(y, x)`` lies in the clipped region."""
        if self.is_empty:
            return False
        (y0, y1), (x0, x1) = self.h.clipped, self.w.clipped  # type: ignore[misc]
        return y0 <= y <= y1 and x0 <= x <= x1

    def slices(self) -> tuple[slice, slice]:
        """``(rows, cols)`` slices of the clipped region, for indexing an ``H x W`` array."""
        if self.is_empty:
            return (slice(0, 0), slice(0, 0))
        (y0, y1), (x0, x1) = self.h.clipped, self.w.clipped  # type: ignore[misc]
        return (slice(y0, y1 + 1), slice(x0, x1 + 1))

    # Flat views, for drawing: inclusive unclipped bounds, what is read, the padding share.
    @property
    def y0(self) -> int:
        return self.h.start

    @property
    def y1(self) -> int:
        return self.h.end

    @property
    def x0(self) -> int:
        return self.w.start

    @property
    def x1(self) -> int:
        return self.w.end

    @property
    def clipped(self) -> tuple[int, int, int, int] | None:
        """``(y0, y1, x0, x1)`` of the image pixels the unit reads (inclusive), or ``None``."""
        if self.is_empty:
            return None
        return (*self.h.clipped, *self.w.clipped)  # type: ignore[misc]

    @property
    def padding_fraction(self) -> float:
        """Share of the unclipped field that the image does not supply (zero padding)."""
        if self.is_empty:
            return 1.0
        y0, y1, x0, x1 = self.clipped  # type: ignore[misc]
        inside = (y1 - y0 + 1) * (x1 - x0 + 1)
        return 1.0 - inside / (self.h.size * self.w.size)

    @classmethod
    def box(cls, y0: int, y1: int, x0: int, x1: int, size: int = 28) -> Region:
        """A region from inclusive bounds on a ``size x size`` image (for drawing and tests)."""
        def axis(start: int, end: int) -> AxisRegion:
            lo, hi = max(start, 0), min(end, size - 1)
            clipped = (lo, hi) if lo <= hi else None
            before = max(0, min(end, -1) - start + 1)
            after = max(0, end - max(start, size) + 1)
            return AxisRegion(start, end, clipped, before, after, start + (end - start) / 2)
        return cls(axis(y0, y1), axis(x0, x1))


@dataclass(frozen=True)
class _Op:
    """A parsed layer: its own geometry per axis (``(height, width)`` pairs)."""

    name: str
    type: str
    inputs: tuple[str, ...]
    kernel: Pair = (1, 1)  # dilated kernel extent d * (k - 1) + 1
    taps: Pair = (1, 1)  # kernel size k
    dilation: Pair = (1, 1)
    stride: Pair = (1, 1)
    pad_before: Pair = (0, 0)  # top, left
    pad_after: Pair = (0, 0)  # bottom, right
    ceil_mode: bool = False


@dataclass
class _Network:
    """Parsed layers, a topological order, and the computed fields (shared by all results)."""

    ops: dict[str, _Op]
    order: list[str]
    input_size: Pair | None
    fields: dict[str, LayerField] = field(default_factory=dict)
    # For global layers: the unclipped hull of the whole input they see, per axis.
    hull: dict[str, tuple[Pair, Pair] | None] = field(default_factory=dict)
    # (layer, axis) -> the input pixels every unit of the layer reads (see ``_support``).
    full_support: dict[tuple[str, int], Spans] = field(default_factory=dict)


@dataclass(frozen=True)
class LayerField:
    """The receptive field of one layer: per-axis ``AxisField`` plus the global flag.

    ``region(y, x)`` gives the input region of unit ``(y, x)`` of this layer.
    """

    name: str
    type: str
    inputs: tuple[str, ...]
    h: AxisField
    w: AxisField
    is_global: bool
    input_size: Pair | None
    _net: _Network = field(repr=False, compare=False, hash=False)

    @property
    def rf(self) -> tuple[int | None, int | None]:
        """Receptive-field size ``(h, w)``; ``(None, None)`` for a global layer."""
        return (self.h.r, self.w.r)

    @property
    def stride(self) -> tuple[int | None, int | None]:
        """Effective stride ``(h, w)`` in input pixels between neighbouring units."""
        return (self.h.stride, self.w.stride)

    @property
    def padding(self) -> tuple[int | None, int | None]:
        """Effective padding ``(h, w)``: how far unit 0's field starts before pixel 0."""
        return (self.h.padding, self.w.padding)

    @property
    def output_size(self) -> Pair | None:
        """Spatial size ``(h, w)`` of this layer's output, or ``None`` without an input size."""
        if self.h.size is None or self.w.size is None:
            return None
        return (self.h.size, self.w.size)

    def region(self, y: int, x: int) -> Region:
        """The input region of unit ``(y, x)`` (row, column) of this layer."""
        return Region(h=self._axis_region(0, y), w=self._axis_region(1, x))

    def _axis_region(self, axis: int, u: int) -> AxisRegion:
        ax = (self.h, self.w)[axis]
        label = ("row", "column")[axis]
        if not isinstance(u, int) or isinstance(u, bool) or u < 0:
            raise ValueError(f"layer {self.name!r}: unit {label} must be a non-negative int, "
                             f"got {u!r}")
        if ax.size is not None and u >= ax.size:
            raise ValueError(f"layer {self.name!r}: unit {label} {u} is outside its "
                             f"{ax.size}-unit output (valid: 0..{ax.size - 1})")
        if self.is_global:
            hull = self._net.hull.get(self.name)
            if hull is None:
                raise ValueError(f"layer {self.name!r} is global: its field is the whole input; "
                                 "give input_size to locate it")
            start, end = hull[axis]
        else:
            assert ax.r is not None and ax.stride is not None and ax.padding is not None
            start = u * ax.stride - ax.padding
            end = start + ax.r - 1
        n = None if self.input_size is None else self.input_size[axis]
        if n is None:
            return AxisRegion(start, end, None, None, None, start + (end - start) / 2)
        clipped = _clipped_span(self._net, self.name, axis, u, u)
        before = max(0, min(end, -1) - start + 1)
        after = max(0, end - max(start, n) + 1)
        return AxisRegion(start, end, clipped, before, after, start + (end - start) / 2)


# ----------------------------------------------------------------------------------- parsing


def _err(layer: str, message: str) -> ValueError:
    return ValueError(f"layer {layer!r}: {message}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _pair(value: Any, key: str, name: str) -> Pair:
    """An int or an ``[h, w]`` pair of ints, as ``(h, w)``."""
    if _is_int(value):
        return (value, value)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_int(v) for v in value):
        return (value[0], value[1])
    raise _err(name, f"{key} must be an int or a [height, width] pair of ints, got {value!r}")


def _padding(value: Any, name: str) -> tuple[Pair, Pair] | str:
    """Padding as ``((top, left), (bottom, right))``, or the string ``"same"``."""
    if isinstance(value, str):
        if value.lower() == "same":
            return "same"
        if value.lower() == "valid":
            return ((0, 0), (0, 0))
        raise _err(name, f'padding must be an int, [h, w], [[top, bottom], [left, right]], '
                         f'"same" or "valid", got {value!r}')
    if (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, (list, tuple)) for v in value)):
        flat = [v for side in value for v in side]
        if not all(len(side) == 2 for side in value) or not all(_is_int(v) for v in flat):
            raise _err(name, f"padding [[top, bottom], [left, right]] must hold ints, "
                             f"got {value!r}")
        (top, bottom), (left, right) = value
    else:
        top, left = _pair(value, "padding", name)
        bottom, right = top, left
    if min(top, bottom, left, right) < 0:
        raise _err(name, f"padding cannot be negative, got {value!r}")
    return ((top, left), (bottom, right))


def _parse_layer(rec: Any, index: int, previous: str) -> _Op:
    """Validate one layer record and turn it into an ``_Op``."""
    if not isinstance(rec, dict):
        raise ValueError(f"layer #{index + 1} must be an object like "
                         f'{{"name": "conv1", "type": "conv", "kernel": 3}}, got {rec!r}')
    name = rec.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"layer #{index + 1} needs a non-empty string \"name\"")
    if name == INPUT:
        raise _err(name, f"the name {INPUT!r} is reserved for the network's input")
    for key, right in _KEY_TYPOS.items():
        if key in rec:
            raise _err(name, f"unknown key {key!r}; did you mean {right!r}?")
    kind = rec.get("type")
    if kind not in LAYER_TYPES:
        raise _err(name, f"unknown layer type {kind!r}; use one of {', '.join(LAYER_TYPES)}")

    inputs = rec.get("inputs", [previous])
    if isinstance(inputs, str):
        inputs = [inputs]
    if (not isinstance(inputs, (list, tuple)) or not inputs
            or not all(isinstance(s, str) for s in inputs)):
        raise _err(name, f"inputs must be a non-empty list of layer names, got {inputs!r}")
    if kind not in MERGE_TYPES and len(inputs) != 1:
        raise _err(name, f"a {kind} layer reads exactly one input, got {len(inputs)}: "
                         f"{list(inputs)} (use an add or concat layer to merge paths)")
    if len(set(inputs)) != len(inputs):
        raise _err(name, f"inputs lists the same layer twice: {list(inputs)}")
    if kind not in SPATIAL_TYPES:
        return _Op(name, kind, tuple(inputs))

    if "kernel" not in rec:
        raise _err(name, f"a {kind} layer needs a kernel size")
    k = _pair(rec["kernel"], "kernel", name)
    default_stride = 1 if kind == "conv" else rec["kernel"]  # torch pools: stride = kernel
    s = _pair(rec.get("stride") if rec.get("stride") is not None else default_stride,
              "stride", name)
    d = _pair(rec.get("dilation", 1), "dilation", name)
    if min(k) < 1:
        raise _err(name, f"kernel must be at least 1, got {rec['kernel']!r}")
    if min(s) < 1:
        raise _err(name, f"stride must be at least 1, got {rec.get('stride')!r} "
                         "(a stride of 0 would never move the kernel)")
    if min(d) < 1:
        raise _err(name, f"dilation must be at least 1 (1 = no holes), got "
                         f"{rec.get('dilation')!r}")
    if kind == "avgpool" and d != (1, 1):
        raise _err(name, "average pooling has no dilation")
    extent = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    pad = _padding(rec.get("padding", 0), name)
    if pad == "same":
        if s != (1, 1):
            raise _err(name, f'padding "same" needs stride 1 (as in torch), got stride '
                             f'{rec.get("stride")!r}; give the padding as numbers instead')
        total = (extent[0] - 1, extent[1] - 1)
        pad = ((total[0] // 2, total[1] // 2), (total[0] - total[0] // 2,
                                                total[1] - total[1] // 2))
    assert not isinstance(pad, str)
    if kind != "conv":
        for axis in (0, 1):
            if 2 * max(pad[0][axis], pad[1][axis]) > k[axis]:  # torch's rule (undilated k)
                raise _err(name, f"pooling padding can be at most half the kernel size "
                                 f"({k[axis]}), got {rec.get('padding')!r}; otherwise a window "
                                 "could see nothing but padding")
    ceil_mode = rec.get("ceil_mode", False)
    if not isinstance(ceil_mode, bool):
        raise _err(name, f"ceil_mode must be true or false, got {ceil_mode!r}")
    if ceil_mode and kind == "conv":
        raise _err(name, "ceil_mode applies to pooling layers only")
    return _Op(name, kind, tuple(inputs), extent, k, d, s, pad[0], pad[1], ceil_mode)


def _input_size(value: Any) -> Pair | None:
    if value is None:
        return None
    if _is_int(value):
        value = (value, value)
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(_is_int(v) and v > 0 for v in value)):
        raise ValueError(f"input_size must be a positive int or a [height, width] pair of "
                         f"positive ints, got {value!r}")
    return (value[0], value[1])


def _topological_order(ops: dict[str, _Op]) -> list[str]:
    """Layer names ordered so that every layer comes after its inputs; rejects cycles."""
    for op in ops.values():
        for src in op.inputs:
            if src != INPUT and src not in ops:
                known = ", ".join([INPUT, *ops])
                raise _err(op.name, f"unknown input {src!r}; known names: {known}")
    order: list[str] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in ops:
        if state.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            name, i = stack.pop()
            if i == 0:
                state[name] = 1
                path.append(name)
            srcs = [s for s in ops[name].inputs if s != INPUT]
            if i < len(srcs):
                stack.append((name, i + 1))
                nxt = srcs[i]
                if state.get(nxt) == 1:
                    cycle = path[path.index(nxt):] + [nxt]
                    raise ValueError("the layers form a cycle: " + " -> ".join(
                        repr(c) for c in reversed(cycle)) + "; a layer cannot (even indirectly) "
                        "read its own output")
                if not state.get(nxt):
                    stack.append((nxt, 0))
            else:
                state[name] = 2
                path.pop()
                order.append(name)
    return order


# ----------------------------------------------------------------------------------- arithmetic


def output_length(n: int, kernel: int, stride: int, pad_before: int, pad_after: int,
                  ceil_mode: bool = False) -> int:
    """Output length of a conv/pool along one axis: torch's rule, ``ceil_mode`` included (may be
    below 1 when the kernel, dilation included, is larger than its padded input)."""
    span = n + pad_before + pad_after - kernel
    if not ceil_mode:
        return span // stride + 1
    # a last, partial window is kept if it starts inside the input or the left padding
    out = -(-span // stride) + 1
    if (out - 1) * stride >= n + pad_before:
        out -= 1
    return out


def _out_size(op: _Op, axis: int, n: int) -> int:
    """Output length of a conv/pool along one axis (torch's rule, including ``ceil_mode``)."""
    k = op.kernel[axis]
    lo, hi = op.pad_before[axis], op.pad_after[axis]
    out = output_length(n, k, op.stride[axis], lo, hi, op.ceil_mode)
    if out < 1:  # (torch's ceil mode keeps one window a little larger than its padded input)
        what = ("height", "width")[axis]
        raise _err(op.name, f"kernel ({k} with dilation) is larger than its padded input "
                            f"{what} ({n} + {lo + hi} padding = {n + lo + hi})")
    return out


def _spatial(op: _Op, axis: int, src: AxisField) -> AxisField:
    """Distill's recurrence for one conv/pool layer along one axis."""
    size = None if src.size is None else _out_size(op, axis, src.size)
    if src.r is None:  # after a global layer everything stays global
        return AxisField(None, None, None, size)
    assert src.stride is not None and src.padding is not None
    return AxisField(
        r=src.r + (op.kernel[axis] - 1) * src.stride,
        stride=src.stride * op.stride[axis],
        padding=src.padding + op.pad_before[axis] * src.stride,
        size=size,
    )


def _merge(op: _Op, srcs: list[LayerField]) -> tuple[AxisField, AxisField, bool]:
    """The Distill rule for add/concat: aligned paths, largest r, common stride."""
    axes: list[AxisField] = []
    is_global = any(f.is_global for f in srcs)
    for axis, what in ((0, "height"), (1, "width")):
        first = srcs[0]
        a0 = (first.h, first.w)[axis]
        for other in srcs[1:]:
            a1 = (other.h, other.w)[axis]
            if a0.size is not None and a1.size is not None and a0.size != a1.size:
                raise _err(op.name, f"cannot {op.type} {first.name!r} and {other.name!r}: "
                                    f"their {what}s differ ({a0.size} vs {a1.size})")
            if is_global:
                continue
            assert a0.r is not None and a1.r is not None
            assert a0.padding is not None and a1.padding is not None
            if a0.stride != a1.stride or a0.r - 1 - 2 * a0.padding != a1.r - 1 - 2 * a1.padding:
                raise _err(op.name, f"misaligned paths {first.name!r} and {other.name!r} "
                                    f"along the {what}: {_describe(first.name, a0)} vs "
                                    f"{_describe(other.name, a1)}. Their fields are not "
                                    f"centred on the same pixel with the same stride, so "
                                    f"{op.name!r} has no single shift-invariant receptive field")
        if is_global:
            axes.append(AxisField(None, None, None, a0.size))
        else:
            best = max(((f.h, f.w)[axis] for f in srcs), key=lambda a: a.r or 0)
            axes.append(AxisField(best.r, best.stride, best.padding, a0.size))
    return axes[0], axes[1], is_global


def _describe(name: str, a: AxisField) -> str:
    assert a.r is not None and a.padding is not None
    offset = (a.r - 1) / 2 - a.padding
    return (f"{name!r} has rf {a.r}, stride {a.stride}, padding {a.padding} "
            f"(centre offset {offset:g})")


def _global_hull(net: _Network, src: LayerField) -> tuple[Pair, Pair] | None:
    """Unclipped input span of all units of ``src`` together (what a global layer sees)."""
    if src.is_global:
        return net.hull.get(src.name)
    if src.output_size is None:
        return None
    spans = []
    for a in (src.h, src.w):
        assert a.r is not None and a.stride is not None and a.padding is not None
        assert a.size is not None
        spans.append((-a.padding, (a.size - 1) * a.stride - a.padding + a.r - 1))
    return (spans[0], spans[1])


def _field(net: _Network, name: str) -> LayerField:
    """The field of a layer (or of the input), computed from its inputs' fields."""
    if name == INPUT:
        n = net.input_size or (None, None)
        return LayerField(INPUT, INPUT, (), AxisField(1, 1, 0, n[0]), AxisField(1, 1, 0, n[1]),
                          False, net.input_size, net)
    return net.fields[name]


def _compute_one(net: _Network, op: _Op) -> LayerField:
    srcs = [_field(net, s) for s in op.inputs]
    src = srcs[0]
    if op.type in SPATIAL_TYPES:
        h, w = _spatial(op, 0, src.h), _spatial(op, 1, src.w)
        is_global = src.is_global
    elif op.type in ELEMENTWISE_TYPES:
        h, w, is_global = src.h, src.w, src.is_global
    elif op.type in MERGE_TYPES:
        h, w, is_global = _merge(op, srcs)
    else:  # flatten, linear, gap: every output reads every input unit
        size = None if src.output_size is None else 1
        h, w, is_global = AxisField(None, None, None, size), AxisField(None, None, None, size), True
    if is_global:
        hulls = [_global_hull(net, s) for s in srcs]
        if any(hh is None for hh in hulls):
            net.hull[op.name] = None
        else:
            net.hull[op.name] = (
                (min(hh[0][0] for hh in hulls), max(hh[0][1] for hh in hulls)),  # type: ignore
                (min(hh[1][0] for hh in hulls), max(hh[1][1] for hh in hulls)),  # type: ignore
            )
    return LayerField(op.name, op.type, op.inputs, h, w, is_global, net.input_size, net)


def compute(spec: dict[str, Any] | list[dict[str, Any]],
            input_size: int | tuple[int, int] | list[int] | None = None) -> list[LayerField]:
    """Receptive field of every layer of ``spec``, in spec order.

    ``spec`` is ``{"input_size": [h, w], "layers": [...]}``, a bare list of layer records, or a
    checkpoint's model card (a dict with ``arch`` and ``layers``; input 28x28 unless it says);
    ``input_size`` (an int or ``(h, w)``), when given, overrides the spec's. Without an input
    size, output sizes and clipped regions are unknown (``None``).
    Raises ``ValueError`` for an invalid or misaligned spec.
    """
    if isinstance(spec, dict) and "arch" in spec:
        # A checkpoint's model card (checkpoints/NAME.json): its layer records on MNIST's input.
        layers = spec.get("layers")
        if input_size is None:
            input_size = spec.get("input_size", MODEL_CARD_INPUT)
    elif isinstance(spec, dict):
        unknown = set(spec) - {"layers", "input_size"}
        if unknown:
            raise ValueError(f"unknown top-level key(s) {sorted(unknown)}; a spec has "
                             '"layers" and optionally "input_size"')
        layers = spec.get("layers")
        if input_size is None:
            input_size = spec.get("input_size")
    else:
        layers = spec
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ValueError('a spec needs a non-empty list of layers ("layers": [...])')
    size = _input_size(input_size)

    ops: dict[str, _Op] = {}
    previous = INPUT
    for i, rec in enumerate(layers):
        op = _parse_layer(rec, i, previous)
        if op.name in ops:
            raise _err(op.name, f"two layers share the name {op.name!r}; names must be unique")
        ops[op.name] = op
        previous = op.name
    net = _Network(ops, _topological_order(ops), size)
    for name in net.order:
        net.fields[name] = _compute_one(net, ops[name])
    return [net.fields[name] for name in ops]


# ----------------------------------------------------------------------------------- regions


Spans = list[Pair]  # sorted, disjoint, non-adjacent closed intervals


def _union(spans: Spans) -> Spans:
    """Sort and merge overlapping or touching intervals."""
    merged: Spans = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1] + 1:
            if b > merged[-1][1]:
                merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def _read_by(op: _Op, axis: int, spans: Spans, n_src: int) -> Spans:
    """The input positions (clipped to ``0..n_src-1``) that units ``spans`` of ``op`` read."""
    if op.type in GLOBAL_TYPES:
        out = [(0, n_src - 1)]
    elif op.type not in SPATIAL_TYPES:
        out = list(spans)
    else:
        s, p = op.stride[axis], op.pad_before[axis]
        k, d = op.taps[axis], op.dilation[axis]
        out = []
        for lo, hi in spans:
            if s == 1:  # each tap shifts the whole run of units
                out += [(lo - p + t * d, hi - p + t * d) for t in range(k)]
            elif d == 1 and k >= s:  # windows overlap or touch: one run
                out.append((lo * s - p, hi * s - p + k - 1))
            elif d == 1:
                out += [(u * s - p, u * s - p + k - 1) for u in range(lo, hi + 1)]
            else:
                out += [(u * s - p + t * d,) * 2 for u in range(lo, hi + 1) for t in range(k)]
    clipped = [(max(a, 0), min(b, n_src - 1)) for a, b in out]
    return _union([(a, b) for a, b in clipped if a <= b])


def _support(net: _Network, name: str, axis: int, lo: int, hi: int) -> Spans:
    """The input pixels, along ``axis``, that units ``lo..hi`` of layer ``name`` read.

    Walks back through the layers (reverse topological order), mapping sets of units (as
    interval lists) to the positions of the layer below that their kernel taps land on, clipped
    to that layer's real extent at every step. So rows dropped by a floor-mode stride, windows
    that see only padding, and the holes left by dilation or by strides larger than the field are
    all excluded exactly. (For a gap-free network the result is one interval.)
    """
    assert net.input_size is not None
    pending: dict[str, Spans] = {name: [(lo, hi)]}
    # Whenever the walk's whole state is "every unit of one layer", what follows is that layer's
    # full support, the same for every walk that reaches it (global layers all do): computed
    # once per network, so a chain of n global layers costs n steps, not n squared.
    full_states: list[tuple[str, int]] = []
    for layer in reversed(net.order[: net.order.index(name) + 1]):
        if layer not in pending:
            continue
        spans = pending.pop(layer)
        size = _field(net, layer).output_size
        if not pending and size is not None and spans == [(0, size[axis] - 1)]:
            key = (layer, axis)
            if key in net.full_support:
                result = net.full_support[key]
                break
            full_states.append(key)
        op = net.ops[layer]
        for src in op.inputs:
            n = _field(net, src).output_size
            assert n is not None
            read = _read_by(op, axis, spans, n[axis])
            if read:
                pending[src] = _union(pending.get(src, []) + read)
    else:
        result = pending.get(INPUT, [])
    for key in full_states:
        net.full_support[key] = result
    return list(result)


def _clipped_span(net: _Network, name: str, axis: int, lo: int, hi: int) -> Pair | None:
    """First and last image pixel actually read by units ``lo..hi`` (``None``: only padding)."""
    spans = _support(net, name, axis, lo, hi)
    return (spans[0][0], spans[-1][1]) if spans else None


def units_seeing(layer_field: LayerField, y: int, x: int
                 ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Rows and columns of the units of ``layer_field`` whose clipped region contains (y, x).

    Returns ``(rows, cols)``, sorted tuples: unit ``(i, j)`` sees pixel ``(y, x)`` exactly when
    ``i in rows and j in cols``. Usually each is a run of consecutive indices; with dilation the
    clipped regions of neighbouring border units can skip a pixel, so not always. Needs the
    input size.
    """
    if layer_field.input_size is None:
        raise ValueError("units_seeing needs the input size: pass input_size to compute()")
    found = []
    for axis, p in ((0, y), (1, x)):
        n_in = layer_field.input_size[axis]
        if not _is_int(p) or not 0 <= p < n_in:
            what = ("row", "column")[axis]
            raise ValueError(f"pixel {what} {p!r} is outside the {n_in}-pixel input")
        a = (layer_field.h, layer_field.w)[axis]
        assert a.size is not None
        if layer_field.is_global:
            candidates = range(a.size)
        else:
            assert a.r is not None and a.stride is not None and a.padding is not None
            first = max(0, -(-(p + a.padding - a.r + 1) // a.stride))
            last = min(a.size - 1, (p + a.padding) // a.stride)
            candidates = range(first, last + 1)
        hits = [u for u in candidates
                if (span := _clipped_span(layer_field._net, layer_field.name, axis, u, u))
                and span[0] <= p <= span[1]]
        found.append(tuple(hits))
    return (found[0], found[1])


# ----------------------------------------------------------------------------------- output


def to_records(fields: list[LayerField]) -> list[dict[str, Any]]:
    """The calculator's JSON records: name, type, rf, effective_stride, effective_padding,
    output_size (``[h, w]`` pairs; ``null`` where unknown or, for global layers, meaningless)
    and ``global``."""
    def pair(values: tuple[Any, Any]) -> list[Any] | None:
        return None if values[0] is None or values[1] is None else [values[0], values[1]]

    return [
        {"name": f.name, "type": f.type, "rf": pair(f.rf),
         "effective_stride": pair(f.stride), "effective_padding": pair(f.padding),
         "output_size": pair(f.output_size) if f.output_size else None, "global": f.is_global}
        for f in fields
    ]


def format_table(fields: list[LayerField]) -> str:
    """A readable fixed-width table of the fields (``h x w`` pairs, squares shown once)."""
    def cell(values: tuple[Any, Any] | None) -> str:
        if values is None or values[0] is None:
            return "-"
        return str(values[0]) if values[0] == values[1] else f"{values[0]}x{values[1]}"

    header = ("layer", "type", "rf", "stride", "padding", "output")
    rows = [header]
    for f in fields:
        if f.is_global:
            rows.append((f.name, f.type, "whole input", "-", "-", cell(f.output_size)))
        else:
            rows.append((f.name, f.type, cell(f.rf), cell(f.stride), cell(f.padding),
                         cell(f.output_size)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(r, widths, strict=True))).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m viz.receptive_field SPEC.json [--table] [--input-size H W]``."""
    parser = argparse.ArgumentParser(
        prog="python -m viz.receptive_field",
        description="Receptive field, effective stride, effective padding and output size of "
                    "every layer of a CNN described by a JSON spec.")
    parser.add_argument("spec", help='JSON spec file ("-" reads standard input)')
    parser.add_argument("--table", action="store_true", help="print a readable table")
    parser.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"),
                        help="input height and width (overrides the spec's input_size)")
    args = parser.parse_args(argv)
    try:
        if args.spec == "-":
            spec = json.load(sys.stdin)
        else:
            with open(args.spec, encoding="utf-8") as fh:
                spec = json.load(fh)
        fields = compute(spec, args.input_size)
    except (OSError, ValueError) as exc:  # JSONDecodeError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.table:
        text = format_table(fields)
    else:  # a JSON array, one layer per line
        text = "[\n" + ",\n".join("  " + json.dumps(r) for r in to_records(fields)) + "\n]"
    try:
        print(text)
    except BrokenPipeError:  # e.g. piped into head
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
