"""The engine's results: a layer's field per axis, a unit's region, and the parsed network."""

from __future__ import annotations

from dataclasses import dataclass, field

Pair = tuple[int, int]
Spans = list[Pair]  # sorted, disjoint, non-adjacent closed intervals
INPUT = "input"  # the name a layer uses to read the network's input


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
    role: str = "keep"  # its role: "field", "keep", "global" or "join"


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


# ------------------------------------------------- which input pixels units read, clipped

def _field(net: _Network, name: str) -> LayerField:
    """The field of a layer (or of the input), computed from its inputs' fields."""
    if name == INPUT:
        n = net.input_size or (None, None)
        return LayerField(INPUT, INPUT, (), AxisField(1, 1, 0, n[0]), AxisField(1, 1, 0, n[1]),
                          False, net.input_size, net)
    return net.fields[name]


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
