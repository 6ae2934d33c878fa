"""The helpers of the layer types' entries: numpy ops, shapes and tensors, lab rows.

Each :class:`viz.network.layertypes.LayerType` entry names its functions here; an option's
default is read back from its entry (:func:`_entry`), so every default has one source.

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
NUM_CLASSES = 10  # a network's outputs: one per digit
BN_EPS = 1e-5  # BatchNorm's epsilon (torch's default)


# name -> its LayerType entry, filled by viz.network.layertypes (whose entries name these helpers)
ENTRIES: dict[str, Any] = {}


def _entry(name: str) -> Any:
    """The entry of layer type ``name`` (a ``viz.network.layertypes.LayerType``)."""
    return ENTRIES[name]


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


# ---------------------------------------------------------------------------------------------
# numpy ops (eval mode, one image, float32 out; tests/viz/network/test_npforward.py against torch)
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
    name, kind = rec["name"], _entry("conv")
    return conv2d(x, t[f"{name}.weight"], t.get(f"{name}.bias"), kind.value(rec, "stride"),
                  kind.value(rec, "padding"), kind.value(rec, "dilation"),
                  _groups(rec))


def _np_bn(x: np.ndarray, rec: LayerRecord, t: dict[str, np.ndarray]) -> np.ndarray:
    name = rec["name"]
    scale = t[f"{name}.weight"] / np.sqrt(t[f"{name}.running_var"] + BN_EPS)
    shift = t[f"{name}.bias"] - t[f"{name}.running_mean"] * scale
    return x * scale[:, None, None] + shift[:, None, None]


def _np_pool(x: np.ndarray, rec: LayerRecord, t: dict[str, np.ndarray]) -> np.ndarray:
    kind = _entry(rec["type"])
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
    slope = float(_entry("leakyrelu").value(rec, "negative_slope"))
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
    default = _entry("leakyrelu").option("negative_slope").default
    return {"negative_slope": _fraction_cell(row, "negative_slope", default, ctx.where)}


def _leakyrelu_row(rec: LayerRecord) -> dict[str, Any]:
    return {"negative_slope": _entry("leakyrelu").value(rec, "negative_slope")}


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


def _np_prelu(x: np.ndarray, rec: LayerRecord, t: dict[str, np.ndarray]) -> np.ndarray:
    """torch's PReLU: ``x`` where positive, else ``x`` times the learned slope (one shared, or
    one per channel: the channels of a map, the features of a vector)."""
    a = t[f"{rec['name']}.weight"].astype(np.float32).reshape(-1)
    if a.size > 1 and x.ndim == 3:
        a = a[:, None, None]
    elif a.size == 1:
        a = a.reshape(())
    return np.where(x >= 0, x, x * a).astype(np.float32, copy=False)


def _np_elu(x: np.ndarray, rec: LayerRecord, t: dict[str, np.ndarray]) -> np.ndarray:
    """torch's ELU (alpha 1): ``x`` where positive, else ``exp(x) - 1``."""
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0))).astype(np.float32, copy=False)


def _prelu_params(rec: LayerRecord) -> dict[str, Shape]:
    return {"weight": (int(_entry("prelu").value(rec, "num_parameters")),)}


def _prelu_shape(rec: LayerRecord, shape: Shape, hw: tuple[int, int]) -> Shape:
    """The shape it reads, once its slopes fit it: one shared, or one per channel (feature)."""
    n = _entry("prelu").value(rec, "num_parameters")
    if n not in (1, shape[0]):
        what = "channels" if len(shape) == 3 else "features"
        raise ValueError(
            f"layer {rec['name']!r}: a prelu layer has one slope shared by all {what} "
            f"(num_parameters 1) or one per {what[:-1]} (num_parameters {shape[0]}, the {what} "
            f"it reads), not {n}")
    return shape


def _prelu_from_row(row: dict[str, Any], ctx: RowContext) -> LayerRecord:
    """The lab's channels cell: blank or 1, one shared slope (torch's default); else one slope
    per channel (or feature), as many as the layer before makes."""
    n = ctx.number("channels", 1, 1)
    made = ctx.features if ctx.features is not None else ctx.channels
    if n not in (1, made):
        raise ValueError(f"{ctx.where}: a prelu row's channels is 1 (one shared slope) or "
                         f"{made} (one per channel of the layer before), not {n}")
    return {"num_parameters": n}


def _prelu_row(rec: LayerRecord) -> dict[str, Any]:
    n = _entry("prelu").value(rec, "num_parameters")
    return {"channels": n} if n != 1 else {}


def _torch_conv(rec: LayerRecord) -> dict[str, Any]:
    t = _entry("conv")
    return {"in_channels": rec["in"], "out_channels": rec["out"], "kernel_size": rec["kernel"],
            **{k: t.value(rec, k) for k in ("stride", "padding", "dilation", "groups", "bias")}}


def _torch_pool(rec: LayerRecord) -> dict[str, Any]:
    t = _entry(rec["type"])
    args = {"kernel_size": rec["kernel"],
            **{k: t.value(rec, k) for k in ("stride", "padding", "ceil_mode")}}
    if rec["type"] == "avgpool":
        args["count_include_pad"] = t.value(rec, "count_include_pad")
    return args
