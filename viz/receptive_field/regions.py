"""Which input pixels a unit reads, clipped to the image, and which units read a pixel."""

from __future__ import annotations

from viz.receptive_field.arithmetic import _field
from viz.receptive_field.parsing import _is_int
from viz.receptive_field.results import INPUT, LayerField, Pair, Spans, _Network, _Op


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
    if op.role == "global":
        out = [(0, n_src - 1)]
    elif op.role != "field":
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
