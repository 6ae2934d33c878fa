"""The layer types: one record per type, which every part of the app reads.

A network is a list of *layer records* (plain dicts such as ``{"name": "conv1", "type":
"conv", "in": 1, "out": 8, "kernel": 3, "stride": 1, "padding": 1, "bias": False}``, see
``viz/network/layers.py``). What a record of each ``type`` means lives here, in one :class:`LayerType`:

- ``options``: the keys a record may carry besides ``name`` and ``type``, each with its range
  and default (:class:`Option`). The checks of a file from a user (``viz/network/card.py``), the lens's
  check of what the browser runs (``viz/browser/lens.py``), the numpy forward pass and the torch builder
  read defaults with :meth:`LayerType.value`;
- ``role``: ``"field"`` (grows the receptive field: ``FIELD_CHANGERS``), ``"keep"`` (changes
  neither the size nor the channels: ``SHAPE_KEEPERS``), ``"global"`` (every output reads the
  whole input) or ``"join"`` (two or more inputs named by the record's ``inputs``: ``add``,
  ``concat``; ``JOIN_TYPES``). The receptive-field engine ``viz/receptive_field.py`` stays standard library
  only and reads richer specs (identity, add, concat, ``[h, w]`` pairs); its groups of types are
  checked against these roles by ``tests/viz/test_layertypes.py``;
- ``params``: the tensors a record implies, by state-dict suffix; ``out_shape``: the output
  shape from the input shape (and, for a field changer, the engine's output size); ``macs``;
- ``reads``: the key that must equal what the layer before makes, with the refusal's words;
  ``after_flatten`` / ``needs_flatten``: where in a network it fits;
- ``numpy``: the eval-mode forward op on one image's ``(C, H, W)`` map or vector
  (``viz/network/npforward.py``); ``torch``: the class name of its torch module, which
  ``model/zoo.py`` ``BUILDERS`` builds (torch stays in ``model/``);
- ``prefix``, ``from_row``, ``to_row``: the lab's layer names and its row <-> record mapping
  (``viz/teaching/lab.py``).

Adding a layer type: one entry here, its torch module in model/zoo.py (if not in the registry),
its op in ui/components/js/forward.js, and its row in tests/app/browser/test_forward_browser.py.
``tests/viz/test_layertypes.py`` and ``tests/app/browser/test_forward_browser.py`` fail until all of
them are there.

numpy and the standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from viz.receptive_field import output_length

LayerRecord = dict[str, Any]
Shape = tuple[int, ...]

MAX_WIDTH = 1_000_000  # channels, or features of a linear layer (the parameter limit binds first)
MAX_WINDOW = 128  # kernel, stride, padding, dilation
BN_EPS = 1e-5  # BatchNorm's epsilon (torch's default)
NUM_CLASSES = 10  # a network's outputs: one per digit
KERNEL = "kernel"  # an option's default that is the record's kernel (torch pools' stride)


@dataclass(frozen=True)
class Option:
    """One key a layer record may carry: its kind, range and default.

    ``kind``: ``"width"`` (a whole number from ``lo`` to :data:`MAX_WIDTH`), ``"window"`` (a
    whole number from ``lo`` to :data:`MAX_WINDOW`), ``"bool"`` or ``"fraction"`` (a number
    from 0 to below 1). ``default``: ``None`` when the key is required, :data:`KERNEL` when it
    defaults to the record's kernel.
    """

    key: str
    kind: str
    lo: int = 0
    default: Any = None

    @property
    def hi(self) -> int:
        return MAX_WINDOW if self.kind == "window" else MAX_WIDTH


@dataclass
class RowContext:
    """What the lab knows while it turns row ``where`` into a record: what the layer before
    makes (``channels``; ``features`` once flattened, else None), whether BatchNorm follows,
    ``number(key, default, minimum)`` (a whole-number cell, ``ValueError`` when it is not one)
    and ``shape()`` (the output shape of the layers so far). ``from_row`` updates
    ``channels`` / ``features`` to what its layer makes."""

    where: str
    channels: int
    features: int | None
    next_is_bn: bool
    number: Callable[[str, int, int], int]
    shape: Callable[[], Shape]


NumpyOp = Callable[[np.ndarray, LayerRecord, dict[str, np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class LayerType:
    """Everything the app knows about one layer type (see the module docstring)."""

    name: str
    role: str  # "field", "keep", "global" or "join"
    options: tuple[Option, ...]
    torch: str  # the torch module's class name (model/zoo.py BUILDERS)
    numpy: NumpyOp
    prefix: str  # the lab's layer names: prefix + number
    from_row: Callable[[dict[str, Any], RowContext], LayerRecord]
    to_row: Callable[[LayerRecord], dict[str, Any]]
    params: Callable[[LayerRecord], dict[str, Shape]] = lambda rec: {}
    out_shape: Callable[[LayerRecord, Shape, tuple[int, int]], Shape] = lambda rec, s, hw: s
    macs: Callable[[LayerRecord, Shape], int] = lambda rec, out: 0
    reads: tuple[str, str] | None = None  # (key, refusal with {n} the key's value, {m} made)
    after_flatten: bool = False  # may follow a flatten
    needs_flatten: bool = False  # reads a vector: a flatten must come before it
    label: str = ""  # how messages name the layer ("pooling"); the name when empty
    # a join (role "join": add, concat): the output shape from its inputs' shapes, in the order
    # of the record's ``inputs`` (``ValueError`` naming them when they do not fit); its
    # ``numpy`` op then takes the list of its inputs' arrays
    merge: Callable[[LayerRecord, list[Shape]], Shape] | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys a record of this type may carry besides ``name`` and ``type``."""
        return tuple(o.key for o in self.options)

    @property
    def noun(self) -> str:
        return self.label or self.name

    def option(self, key: str) -> Option:
        for o in self.options:
            if o.key == key:
                return o
        raise KeyError(f"a {self.name} layer has no option {key!r}")

    def value(self, rec: LayerRecord, key: str) -> Any:
        """``rec[key]``, or the option's default when the record leaves it out."""
        if rec.get(key) is not None:
            return rec[key]
        default = self.option(key).default
        return rec.get("kernel") if default == KERNEL else default


# ---------------------------------------------------------------------------------------------
# numpy ops (eval mode, one image, float32 out; tests/viz/test_npforward.py against torch)
# ---------------------------------------------------------------------------------------------

def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: int, pad: int,
           dilation: int, groups: int = 1) -> np.ndarray:
    """torch's Conv2d of a (C, H, W) map (square kernel, the same padding on every side); with
    ``groups`` > 1 each group of C / groups input channels feeds its own O / groups outputs
    (``w`` is (O, C / groups, k, k); depthwise: groups == C)."""
    if pad:
        x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    k = w.shape[-1]
    span = dilation * (k - 1) + 1
    win = np.lib.stride_tricks.sliding_window_view(x, (span, span), axis=(1, 2))
    win = win[:, ::stride, ::stride, ::dilation, ::dilation]  # (C, H', W', k, k)
    if groups == 1:
        out = np.tensordot(w, win, axes=([1, 2, 3], [0, 3, 4]))  # (O, H', W')
    else:
        cg, og = x.shape[0] // groups, w.shape[0] // groups
        out = np.concatenate([np.tensordot(w[g * og:(g + 1) * og], win[g * cg:(g + 1) * cg],
                                           axes=([1, 2, 3], [0, 3, 4])) for g in range(groups)])
    if b is not None:
        out = out + b[:, None, None]
    return out.astype(np.float32, copy=False)


def pool2d(x: np.ndarray, k: int, stride: int, pad: int, mode: str, ceil_mode: bool = False,
           count_include_pad: bool = True) -> np.ndarray:
    """torch's MaxPool2d / AvgPool2d of a (C, H, W) map.

    In ceil mode the last window may run past the padded input: max pooling ignores the part
    outside, average pooling divides by the part inside the padded input (as torch does); with
    ``count_include_pad`` False it divides by the window's cells inside the image only.
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
    if not count_include_pad:  # the cells inside the image: padded rows pad .. pad + h - 1
        rows = np.minimum(starts_h + k, pad + h) - np.maximum(starts_h, pad)
        cols = np.minimum(starts_w + k, pad + w) - np.maximum(starts_w, pad)
    return (win.sum(axis=(3, 4)) / (rows[:, None] * cols[None, :])).astype(np.float32)


def _np_conv(x: np.ndarray, rec: LayerRecord, t: dict[str, np.ndarray]) -> np.ndarray:
    name, kind = rec["name"], TYPES["conv"]
    return conv2d(x, t[f"{name}.weight"], t.get(f"{name}.bias"), kind.value(rec, "stride"),
                  kind.value(rec, "padding"), kind.value(rec, "dilation"),
                  _groups(rec))


def _np_bn(x: np.ndarray, rec: LayerRecord, t: dict[str, np.ndarray]) -> np.ndarray:
    name = rec["name"]
    scale = t[f"{name}.weight"] / np.sqrt(t[f"{name}.running_var"] + BN_EPS)
    shift = t[f"{name}.bias"] - t[f"{name}.running_mean"] * scale
    return x * scale[:, None, None] + shift[:, None, None]


def _np_pool(x: np.ndarray, rec: LayerRecord, t: dict[str, np.ndarray]) -> np.ndarray:
    kind = TYPES[rec["type"]]
    include = rec["type"] != "avgpool" or bool(kind.value(rec, "count_include_pad"))
    return pool2d(x, rec["kernel"], kind.value(rec, "stride"), kind.value(rec, "padding"),
                  rec["type"][:3], bool(kind.value(rec, "ceil_mode")), include)


def _np_linear(x: np.ndarray, rec: LayerRecord, t: dict[str, np.ndarray]) -> np.ndarray:
    name = rec["name"]
    y = t[f"{name}.weight"] @ x.reshape(-1)
    return y + t[f"{name}.bias"] if f"{name}.bias" in t else y


def _np_sigmoid(x: np.ndarray, rec: LayerRecord, t: dict[str, np.ndarray]) -> np.ndarray:
    """torch's sigmoid, without overflow for large negative inputs."""
    return (0.5 + 0.5 * np.tanh(0.5 * x)).astype(np.float32, copy=False)


def _np_leakyrelu(x: np.ndarray, rec: LayerRecord, t: dict[str, np.ndarray]) -> np.ndarray:
    slope = float(TYPES["leakyrelu"].value(rec, "negative_slope"))
    return np.where(x > 0, x, x * np.float32(slope)).astype(np.float32, copy=False)


def _np_add(xs: list[np.ndarray]) -> np.ndarray:
    """The elementwise sum of a join's inputs, in their order (as torch adds them)."""
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out.astype(np.float32, copy=False)


def _shown(shape: Shape) -> str:
    return "x".join(str(d) for d in shape)


def _add_shape(rec: LayerRecord, shapes: list[Shape]) -> Shape:
    names = rec.get("inputs") or []
    for name, shape in zip(names[1:], shapes[1:]):
        if shape != shapes[0]:
            raise ValueError(
                f"layer {rec['name']!r}: an add sums inputs of the same shape, but {names[0]!r} "
                f"makes {_shown(shapes[0])} and {name!r} makes {_shown(shape)}; give the "
                f"branches the same channels and strides (or use concat)")
    return shapes[0]


def _concat_shape(rec: LayerRecord, shapes: list[Shape]) -> Shape:
    names = rec.get("inputs") or []
    for name, shape in zip(names[1:], shapes[1:]):
        if len(shape) != len(shapes[0]) or shape[1:] != shapes[0][1:]:
            raise ValueError(
                f"layer {rec['name']!r}: a concat stacks channels of maps of the same height "
                f"and width, but {names[0]!r} makes {_shown(shapes[0])} and {name!r} makes "
                f"{_shown(shape)}; give the branches the same strides and padding")
    return (sum(s[0] for s in shapes), *shapes[0][1:])


# ---------------------------------------------------------------------------------------------
# Tensors, shapes, MACs
# ---------------------------------------------------------------------------------------------

def _pair(value: Any) -> tuple[int, int]:
    """An int-or-[h, w] kernel as (h, w)."""
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _groups(rec: LayerRecord) -> int:
    """A conv's groups (1 unless the record says), refused unless it divides ``in`` and ``out``."""
    groups = rec.get("groups")
    if groups is None:
        return 1
    if rec["in"] % groups or rec["out"] % groups:
        raise ValueError(
            f"layer {rec['name']!r}: groups {groups} must divide both its input channels (in "
            f"{rec['in']}) and its output channels (out {rec['out']}); each group of in / groups "
            f"channels feeds out / groups outputs (depthwise: groups = in)")
    return int(groups)


def _conv_shape(rec: LayerRecord, shape: Shape, hw: tuple[int, int]) -> Shape:
    _groups(rec)  # refused here, where every reader first meets the record's shapes
    return (rec["out"], *hw)


def _conv_params(rec: LayerRecord) -> dict[str, Shape]:
    kh, kw = _pair(rec["kernel"])
    shapes: dict[str, Shape] = {"weight": (rec["out"], rec["in"] // _groups(rec), kh, kw)}
    if rec.get("bias", True):
        shapes["bias"] = (rec["out"],)
    return shapes


def _bn_params(rec: LayerRecord) -> dict[str, Shape]:
    c = rec["channels"]
    return {"weight": (c,), "bias": (c,), "running_mean": (c,), "running_var": (c,),
            "num_batches_tracked": ()}


def _linear_params(rec: LayerRecord) -> dict[str, Shape]:
    shapes: dict[str, Shape] = {"weight": (rec["out"], rec["in"])}
    if rec.get("bias", True):
        shapes["bias"] = (rec["out"],)
    return shapes


def _conv_macs(rec: LayerRecord, out: Shape) -> int:
    kh, kw = _pair(rec["kernel"])
    return rec["in"] // _groups(rec) * kh * kw * math.prod(out)


# ---------------------------------------------------------------------------------------------
# The lab's rows (type, kernel, stride, padding, dilation, channels) <-> records
# ---------------------------------------------------------------------------------------------

def _conv_from_row(row: dict[str, Any], ctx: RowContext) -> LayerRecord:
    out = ctx.number("channels", 8, 1)
    rec = {"in": ctx.channels, "out": out, "kernel": ctx.number("kernel", 3, 1),
           "stride": ctx.number("stride", 1, 1), "padding": ctx.number("padding", 0, 0),
           "dilation": ctx.number("dilation", 1, 1), "bias": not ctx.next_is_bn}
    groups = ctx.number("groups", 1, 1)
    if groups > 1:  # only a grouped conv's record names its groups
        rec["groups"] = groups
        _groups({"name": ctx.where, **rec})
    ctx.channels = out
    return rec


def _pool_from_row(row: dict[str, Any], ctx: RowContext) -> LayerRecord:
    k = ctx.number("kernel", 2, 1)
    rec = {"kernel": k, "stride": ctx.number("stride", k, 1),
           "padding": ctx.number("padding", 0, 0)}
    if rec["padding"] * 2 > k:
        raise ValueError(f"{ctx.where}: pooling padding must be at most half the kernel")
    return rec


def _flatten_from_row(row: dict[str, Any], ctx: RowContext) -> LayerRecord:
    ctx.features = math.prod(ctx.shape())
    return {}


def _linear_from_row(row: dict[str, Any], ctx: RowContext) -> LayerRecord:
    if ctx.features is None:
        raise ValueError(f"{ctx.where}: a linear layer needs a flatten (or gap + flatten) "
                         f"before it")
    out = ctx.number("channels", NUM_CLASSES, 1)
    rec = {"in": ctx.features, "out": out, "bias": True}
    ctx.features = out
    return rec


def _fraction_cell(row: dict[str, Any], key: str, default: float, where: str) -> float:
    """A lab row's number from 0 to below 1 (its default when the cell is blank)."""
    value = row.get(key)
    if value is None or value == "" or (isinstance(value, float) and value != value):  # NaN
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {key} must be a number from 0 to below 1, not {value!r}"
                         ) from None
    if isinstance(value, bool) or not 0 <= number < 1:
        raise ValueError(f"{where}: {key} must be a number from 0 to below 1, not {value!r}")
    return number


def _leakyrelu_from_row(row: dict[str, Any], ctx: RowContext) -> LayerRecord:
    default = TYPES["leakyrelu"].option("negative_slope").default
    return {"negative_slope": _fraction_cell(row, "negative_slope", default, ctx.where)}


def _leakyrelu_row(rec: LayerRecord) -> dict[str, Any]:
    return {"negative_slope": TYPES["leakyrelu"].value(rec, "negative_slope")}


def _window_row(rec: LayerRecord) -> dict[str, Any]:
    return {"kernel": rec["kernel"], "stride": rec.get("stride", rec["kernel"]),
            "padding": rec.get("padding", 0)}


def _conv_row(rec: LayerRecord) -> dict[str, Any]:
    row = {**_window_row(rec), "dilation": rec.get("dilation", 1), "channels": rec["out"]}
    if rec.get("groups", 1) != 1:
        row["groups"] = rec["groups"]
    return row


def _avgpool_from_row(row: dict[str, Any], ctx: RowContext) -> LayerRecord:
    rec = _pool_from_row(row, ctx)
    include = row.get("count_include_pad")
    if include is not None and include == include:  # a blank cell (None, NaN): the default
        if not isinstance(include, bool):
            raise ValueError(f"{ctx.where}: count_include_pad must be true or false, not "
                             f"{include!r}")
        if not include:  # only a record that leaves the padding out of the average says so
            rec["count_include_pad"] = False
    return rec


def _avgpool_row(rec: LayerRecord) -> dict[str, Any]:
    row = _window_row(rec)
    if rec.get("count_include_pad") is False:
        row["count_include_pad"] = False
    return row


_WINDOW = (Option("kernel", "window", 1), Option("stride", "window", 1, KERNEL),
           Option("padding", "window", 0, 0))
_POOL = (*_WINDOW, Option("ceil_mode", "bool", default=False))


def _pool_type(name: str, torch_name: str, prefix: str, options: tuple[Option, ...] = _POOL,
               from_row: Callable[[dict[str, Any], RowContext], LayerRecord] = _pool_from_row,
               to_row: Callable[[LayerRecord], dict[str, Any]] = _window_row) -> LayerType:
    return LayerType(
        name, "field", options, torch_name, _np_pool, prefix, from_row, to_row,
        out_shape=lambda rec, s, hw: (s[0], *hw), label="pooling")


LAYER_TYPE_LIST: tuple[LayerType, ...] = (
    LayerType(
        "conv", "field",
        (Option("in", "width", 1), Option("out", "width", 1), Option("kernel", "window", 1),
         Option("stride", "window", 1, 1), Option("padding", "window", 0, 0),
         Option("dilation", "window", 1, 1), Option("bias", "bool", default=True),
         Option("groups", "width", 1, 1)),
        "Conv2d", _np_conv, "conv", _conv_from_row, _conv_row,
        params=_conv_params, out_shape=_conv_shape,
        macs=_conv_macs,
        reads=("in", "reads {n} channels, but the layer before it makes {m}.")),
    LayerType(
        "bn", "keep", (Option("channels", "width", 1),), "BatchNorm2d", _np_bn, "bn",
        lambda row, ctx: {"channels": ctx.channels}, lambda rec: {}, params=_bn_params,
        reads=("channels", "normalises {n} channels, but the layer before it makes {m}.")),
    LayerType(
        "relu", "keep", (), "ReLU", lambda x, rec, t: np.maximum(x, 0), "relu",
        lambda row, ctx: {}, lambda rec: {}, after_flatten=True),
    LayerType(
        "tanh", "keep", (), "Tanh", lambda x, rec, t: np.tanh(x), "tanh",
        lambda row, ctx: {}, lambda rec: {}, after_flatten=True),
    LayerType(
        "sigmoid", "keep", (), "Sigmoid", _np_sigmoid, "sigmoid",
        lambda row, ctx: {}, lambda rec: {}, after_flatten=True),
    LayerType(
        "leakyrelu", "keep", (Option("negative_slope", "fraction", default=0.01),),
        "LeakyReLU", _np_leakyrelu, "leaky", _leakyrelu_from_row, _leakyrelu_row,
        after_flatten=True),
    LayerType(
        "dropout", "keep", (Option("p", "fraction", default=0.0),), "Dropout",
        lambda x, rec, t: x, "drop", lambda row, ctx: {"p": 0.05}, lambda rec: {},
        after_flatten=True),
    _pool_type("maxpool", "MaxPool2d", "pool"),
    _pool_type("avgpool", "AvgPool2d", "avgpool",
               (*_POOL, Option("count_include_pad", "bool", default=True)),
               _avgpool_from_row, _avgpool_row),
    LayerType(
        "gap", "global", (), "AdaptiveAvgPool2d",
        lambda x, rec, t: x.mean(axis=(1, 2), keepdims=True), "gap", lambda row, ctx: {},
        lambda rec: {}, out_shape=lambda rec, s, hw: (s[0], 1, 1)),
    LayerType(
        "gmp", "global", (), "AdaptiveMaxPool2d",
        lambda x, rec, t: x.max(axis=(1, 2), keepdims=True), "gmp", lambda row, ctx: {},
        lambda rec: {}, out_shape=lambda rec, s, hw: (s[0], 1, 1)),
    LayerType(
        "flatten", "global", (), "Flatten", lambda x, rec, t: x.reshape(-1), "flatten",
        _flatten_from_row, lambda rec: {}, out_shape=lambda rec, s, hw: (math.prod(s),)),
    LayerType(
        "linear", "global",
        (Option("in", "width", 1), Option("out", "width", 1),
         Option("bias", "bool", default=True)),
        "Linear", _np_linear, "fc", _linear_from_row, lambda rec: {"channels": rec["out"]},
        params=_linear_params, out_shape=lambda rec, s, hw: (rec["out"],),
        macs=lambda rec, out: rec["in"] * rec["out"],
        reads=("in", "reads {n:,} features, but the layer before it makes {m:,}."),
        after_flatten=True, needs_flatten=True),
    # joins: two or more inputs, named by the record's "inputs" (see viz/network/layers.py)
    LayerType(
        "add", "join", (), "Add", lambda xs, rec, t: _np_add(xs), "add",
        lambda row, ctx: {}, lambda rec: {}, merge=_add_shape),
    LayerType(
        "concat", "join", (), "Concat",
        lambda xs, rec, t: np.concatenate(xs, axis=0), "cat",
        lambda row, ctx: {}, lambda rec: {}, merge=_concat_shape),
)

TYPES: dict[str, LayerType] = {t.name: t for t in LAYER_TYPE_LIST}
LAYER_TYPES: tuple[str, ...] = tuple(TYPES)
FIELD_CHANGERS = tuple(t.name for t in LAYER_TYPE_LIST if t.role == "field")
SHAPE_KEEPERS = tuple(t.name for t in LAYER_TYPE_LIST if t.role == "keep")
GLOBAL_TYPES = tuple(t.name for t in LAYER_TYPE_LIST if t.role == "global")
JOIN_TYPES = tuple(t.name for t in LAYER_TYPE_LIST if t.role == "join")  # two or more inputs
# what may follow a flatten: the vector readers first ("linear, relu and dropout")
AFTER_FLATTEN = tuple(sorted((t.name for t in LAYER_TYPE_LIST if t.after_flatten),
                             key=lambda n: not TYPES[n].needs_flatten))


def listed(names: tuple[str, ...]) -> str:
    """'a, b and c'."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
