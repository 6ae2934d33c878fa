"""Distill's recurrence: every layer's field, effective stride and padding, and output size."""

from __future__ import annotations

from typing import Any

from viz.receptive_field.parsing import _err, _input_size, _parse_layer, _topological_order
from viz.receptive_field.results import INPUT, AxisField, LayerField, Pair, _field, _Network, _Op

MODEL_CARD_INPUT = (28, 28)  # a model card's input size when it names none (MNIST)


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


def _compute_one(net: _Network, op: _Op) -> LayerField:
    srcs = [_field(net, s) for s in op.inputs]
    src = srcs[0]
    if op.role == "field":
        h, w = _spatial(op, 0, src.h), _spatial(op, 1, src.w)
        is_global = src.is_global
    elif op.role == "keep":
        h, w, is_global = src.h, src.w, src.is_global
    elif op.role == "join":
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
