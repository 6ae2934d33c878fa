"""Keras layers as this project's layer records (NHWC to NCHW; see :mod:`model.files.keras_import`):
the builder walks the config's layers in order, each one through its class's handler: the class
table (:data:`model.files.keras_reader.config.TABLE`, the layer types' classes from their entries) names
it, :data:`HANDLERS` holds it (one per layer type, one per class of the reader's own)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from model.files.keras_reader.activations import Activations
from model.files.keras_reader.config import ACTIVATIONS, TABLE, input_shape, layer_name
from model.files.keras_reader.weights import Call, Value, shown
from viz.network.card import show
from viz.network.layers import INPUT
from viz.network.layertypes import BN_EPS
from viz.receptive_field import output_length


def _same_padding(size: int, k: int, s: int, d: int) -> tuple[int, int]:
    """Keras's 'same' padding (before, after) of one axis."""
    total = max((math.ceil(size / s) - 1) * s + d * (k - 1) + 1 - size, 0)
    return total // 2, total - total // 2


class Builder(Activations):
    def __init__(self, source: str) -> None:
        super().__init__(source)
        self.values: dict[str, Value] = {}
        self.softmax_at: str | None = None
        self.is_activation_layer = False

    def as_vector(self, v: Value, where: str, keras_name: str) -> Value:
        if v.image:  # the first record: flatten the image (any of its shapes is 784 numbers)
            src = self.emit(f"{keras_name}_flatten", "flatten", [v.src])
            return Value(src, (784,))
        if len(v.shape) != 1:
            raise self.fail(f"layer {where} reads a {shown(v.shape)} map; add Flatten() or "
                            f"GlobalAveragePooling2D() before it.")
        return v

    def padding(self, layer: dict[str, Any], where: str, size: int, k: int, s: int, d: int,
                pool: bool) -> tuple[int, bool]:
        """(symmetric padding, ceil mode) for 'valid' or 'same'."""
        mode = self.opt(layer, "padding", "valid")
        if mode == "valid":
            return 0, False
        if mode != "same":
            raise self.fail(f"layer {where}: padding {show(mode)} is not read ('valid' or "
                            f"'same').")
        before, after = _same_padding(size, k, s, d)
        want = math.ceil(size / s)
        if before == after:
            pad, ceil = before, False
        elif pool and output_length(size, k, s, before, before, True) == want:
            pad, ceil = before, True  # torch ignores the window's part past the input
        else:
            raise self.fail(
                f"layer {where}: padding='same' here pads {before} before and {after} after "
                f"({size} pixels, kernel {k}, stride {s}), which this app's layers cannot say "
                f"(they pad both sides alike); use an odd kernel with stride 1, padding="
                f"'valid', or an input size the stride divides.")
        if pool and pad * 2 > k:
            raise self.fail(f"layer {where}: its 'same' padding {pad} is over half the pool.")
        return pad, ceil

    def layer(self, layer: dict[str, Any], srcs: list[Value], last: bool) -> Value:
        cls, keras_name = layer["class_name"], layer_name(layer)
        spec = TABLE[cls]
        call = Call(layer, srcs, srcs[0] if srcs else None, show(keras_name), keras_name, last,
                    spec.kind)
        self.is_activation_layer = cls == "Activation" or spec.kind in ACTIVATIONS.values()
        if not spec.joins and cls != "InputLayer" and len(srcs) != 1:
            raise self.fail(f"layer {call.where} reads {len(srcs)} tensors; only Add and "
                            f"Concatenate join branches.")
        return HANDLERS[spec.handler](self, call)

    def flatten(self, c: Call) -> Value:
        layer, v, where, keras_name = c.layer, c.v, c.where, c.name
        self.channels_last(layer, where)
        if v.image:
            return self.as_vector(v, where, keras_name)
        if len(v.shape) == 1:
            return v
        h, w, ch = v.shape
        order = (h, w, ch) if ch > 1 and h * w > 1 else None
        return Value(self.emit(keras_name, "flatten", [v.src]), (h * w * ch,), order=order)

    def dropout(self, c: Call) -> Value:
        rate = self.opt(c.layer, "rate", 0.0)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise self.fail(f"layer {c.where}: rate must be from 0 to below 1, not "
                            f"{show(rate)}.")
        v = self.as_map(c.v, c.where) if c.v.image else c.v
        return Value(self.emit(c.name, "dropout", [v.src], p=float(rate)), v.shape,
                     order=v.order)

    def global_pool(self, c: Call) -> Value:
        self.channels_last(c.layer, c.where)
        v = self.as_map(c.v, c.where)
        src = self.emit(c.name, c.kind, [v.src])
        if self.opt(c.layer, "keepdims", False):
            return Value(src, (1, 1, v.shape[2]))
        return Value(self.emit(f"{c.name}_flatten", "flatten", [src]), (v.shape[2],))

    def input_layer(self, layer: dict[str, Any]) -> Value:
        shape = input_shape(layer)
        shape = tuple(shape) if isinstance(shape, list) else shape
        layouts = {(28, 28, 1): "NHWC", (28, 28): "NHW", (784,): "flat", (1, 28, 28): "NCHW"}
        if shape not in layouts:
            raise self.fail(f"the model's input is {show(shape)}; this app reads one 28x28 "
                            f"grayscale image ((28, 28, 1), (28, 28) or (784,)).")
        self.layout = layouts[shape]
        return Value(INPUT, shape, image=True)

    def rescaling(self, layer: dict[str, Any], v: Value, where: str) -> Value:
        if not v.image:
            raise self.fail(f"layer {where}: Rescaling is read only as the network's first step "
                            f"(on the pixels).")
        nums = []
        for key in ("scale", "offset"):
            value = self.opt(layer, key, 1.0 if key == "scale" else 0.0)
            if isinstance(value, list) and len(value) == 1:
                value = value[0]
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not math.isfinite(value)):
                raise self.fail(f"layer {where}: {key} must be one number, not {show(value)}.")
            nums.append(float(value))
        scale, offset = nums
        a, b = self.inside or (1.0, 0.0)
        a, b = a * scale, b * scale + offset
        if not 1e-9 < a < 1e9 or abs(b) > 1e9:
            raise self.fail(f"layer {where}: scale must be positive (pixels x {scale:g}).")
        self.inside = (a, b)
        return v

    def reshape(self, layer: dict[str, Any], v: Value, where: str, keras_name: str) -> Value:
        target = self.opt(layer, "target_shape")
        if not isinstance(target, list) or not all(
                isinstance(t, int) and not isinstance(t, bool) for t in target):
            raise self.fail(f"layer {where}: target_shape {show(target)} is not read.")
        n = math.prod(v.shape)
        if target.count(-1) == 1 and n % max(1, -math.prod(target)) == 0:
            target = [n // -math.prod(target) if t == -1 else t for t in target]
        target_t = tuple(target)
        if math.prod(target_t) != n or any(t < 1 for t in target_t):
            raise self.fail(f"layer {where}: cannot reshape {shown(v.shape)} to {show(target)}.")
        if target_t == v.shape:
            return v
        if v.image and target_t in ((28, 28, 1), (28, 28), (784,)):
            return Value(v.src, target_t, image=True)
        if len(target_t) == 1:  # a flatten
            return self.layer({"class_name": "Flatten", "name": keras_name, "config": {}},
                              [v], False)
        raise self.fail(f"layer {where}: reshaping {shown(v.shape)} to {shown(target_t)} is "
                        f"not one of this app's layers (only a flatten, or the image to "
                        f"(28, 28, 1)).")

    def join(self, layer: dict[str, Any], srcs: list[Value], where: str, keras_name: str
             ) -> Value:
        if len(srcs) < 2:
            raise self.fail(f"layer {where} joins {len(srcs)} tensor; it needs two or more.")
        srcs = [self.as_map(s, where) if s.image else s for s in srcs]
        shapes = {s.shape for s in srcs}
        if layer["class_name"] == "Add":
            if len(shapes) != 1 or len({s.order for s in srcs}) != 1:
                raise self.fail(f"layer {where} adds tensors of shapes "
                                f"{', '.join(shown(s.shape) for s in srcs)}; they must match.")
            return Value(self.emit(keras_name, "add", [s.src for s in srcs]), srcs[0].shape,
                         order=srcs[0].order)
        axis = self.opt(layer, "axis", -1)
        rank = len(srcs[0].shape)
        if axis not in (-1, rank) or len({len(s) for s in shapes}) != 1:
            raise self.fail(f"layer {where}: Concatenate on axis {show(axis)} is not read (only "
                            f"the channels, axis -1).")
        if len({s.shape[:-1] for s in srcs}) != 1:
            raise self.fail(f"layer {where} concatenates maps of different sizes "
                            f"{', '.join(shown(s.shape) for s in srcs)}.")
        if any(s.order for s in srcs):
            raise self.fail(f"layer {where} concatenates flattened maps; concatenate the maps "
                            f"(before Flatten) instead.")
        shape = (*srcs[0].shape[:-1], sum(s.shape[-1] for s in srcs))
        return Value(self.emit(keras_name, "concat", [s.src for s in srcs]), shape)

    def conv(self, layer: dict[str, Any], v: Value, where: str, keras_name: str, last: bool
             ) -> Value:
        self.channels_last(layer, where)
        depthwise = layer["class_name"] == "DepthwiseConv2D"
        k = self.pair(layer, "kernel_size", where)
        s = self.pair(layer, "strides", where, 1)
        d = self.pair(layer, "dilation_rate", where, 1)
        h, w, c = v.shape
        if h != w:
            raise self.fail(f"layer {where} reads a {h}x{w} map; this app reads square maps.")
        pad, _ = self.padding(layer, where, h, k, s, d, pool=False)
        bias = self.opt(layer, "use_bias", True)
        if not isinstance(bias, bool):
            raise self.fail(f"layer {where}: use_bias must be true or false.")
        if depthwise:
            m = self.opt(layer, "depth_multiplier", 1)
            if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= 4096:
                raise self.fail(f"layer {where}: depth_multiplier {show(m)} is not read.")
            groups, out = c, c * m
            shapes = [(k, k, c, m)]
        else:
            out = self.opt(layer, "filters")
            groups = self.opt(layer, "groups", 1)
            if (isinstance(out, bool) or not isinstance(out, int) or not 1 <= out <= 1_000_000
                    or isinstance(groups, bool) or not isinstance(groups, int) or groups < 1
                    or c % groups or out % groups):
                raise self.fail(f"layer {where}: filters {show(out)} and groups {show(groups)} "
                                f"do not fit its {c} input channels.")
            shapes = [(k, k, c // groups, out)]
        if bias:
            shapes.append((out,))
        arrays = self.weights(keras_name, shapes)
        kernel = arrays[0]
        if depthwise:  # (k, k, c, m) -> (c*m, 1, k, k): output c*m + j reads channel c
            weight = kernel.transpose(2, 3, 0, 1).reshape(out, 1, k, k)
        else:  # (k, k, in/groups, out) -> (out, in/groups, k, k)
            weight = kernel.transpose(3, 2, 0, 1)
        rec = {"in": c, "out": out, "kernel": k, "stride": s, "padding": pad, "dilation": d,
               "bias": bias}
        if groups > 1:
            rec["groups"] = groups
        name = self.emit(keras_name, "conv", [v.src], **rec)
        self.tensors[f"{name}.weight"] = weight
        if bias:
            self.tensors[f"{name}.bias"] = arrays[1]
        side = output_length(h, d * (k - 1) + 1, s, pad, pad, False)
        if side < 1:
            raise self.fail(f"layer {where}: its kernel is larger than its {h}x{h} input.")
        out_v = Value(name, (side, side, out))
        return self.activation(self.opt(layer, "activation"), out_v, keras_name, where, last)

    def pool(self, layer: dict[str, Any], v: Value, where: str, keras_name: str) -> Value:
        self.channels_last(layer, where)
        k = self.pair(layer, "pool_size", where)
        strides = self.opt(layer, "strides")
        s = k if strides is None else self.pair(layer, "strides", where)
        h, w, c = v.shape
        if h != w:
            raise self.fail(f"layer {where} reads a {h}x{w} map; this app reads square maps.")
        pad, ceil = self.padding(layer, where, h, k, s, 1, pool=True)
        kind = "maxpool" if layer["class_name"] == "MaxPooling2D" else "avgpool"
        rec: dict[str, Any] = {"kernel": k, "stride": s, "padding": pad}
        if ceil:
            rec["ceil_mode"] = True
        if kind == "avgpool" and (pad or ceil):
            rec["count_include_pad"] = False  # Keras averages the cells inside the image
        if kind == "avgpool" and ceil:
            self.notes.append(f"{keras_name}: 'same' average pooling padded on one side, read as "
                              f"TensorFlow's Keras averages it (the cells inside the image)")
        side = output_length(h, k, s, pad, pad, ceil)
        if side < 1:
            raise self.fail(f"layer {where}: its pool is larger than its {h}x{h} input.")
        return Value(self.emit(keras_name, kind, [v.src], **rec), (side, side, c))

    def dense(self, layer: dict[str, Any], v: Value, where: str, keras_name: str, last: bool
              ) -> Value:
        v = self.as_vector(v, where, keras_name)
        units = self.opt(layer, "units")
        bias = self.opt(layer, "use_bias", True)
        if (isinstance(units, bool) or not isinstance(units, int) or not 1 <= units <= 1_000_000
                or not isinstance(bias, bool)):
            raise self.fail(f"layer {where}: units {show(units)} / use_bias {show(bias)} are "
                            f"not read.")
        n = v.shape[0]
        arrays = self.weights(keras_name, [(n, units)] + ([(units,)] if bias else []))
        kernel = arrays[0]  # (in, out), rows in Keras's order
        if v.order is not None:  # rows (h, w, c) -> this project's (c, h, w)
            h, w, c = v.order
            kernel = kernel.reshape(h, w, c, units).transpose(2, 0, 1, 3).reshape(n, units)
        name = self.emit(keras_name, "linear", [v.src], **{"in": n, "out": units, "bias": bias})
        self.tensors[f"{name}.weight"] = kernel.T
        if bias:
            self.tensors[f"{name}.bias"] = arrays[1]
        return self.activation(self.opt(layer, "activation"), Value(name, (units,)), keras_name,
                               where, last)

    def batchnorm(self, layer: dict[str, Any], v: Value, where: str, keras_name: str) -> Value:
        v = self.settled(v, where)
        axis = self.opt(layer, "axis", -1)
        if isinstance(axis, list) and len(axis) == 1:
            axis = axis[0]
        rank = len(v.shape)
        if axis not in (-1, rank):
            raise self.fail(f"layer {where}: BatchNormalization on axis {show(axis)} is not read "
                            f"(only the channels, axis -1).")
        eps = self.opt(layer, "epsilon", 1e-3)
        center, scale = self.opt(layer, "center", True), self.opt(layer, "scale", True)
        if (isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < 1
                or not isinstance(center, bool) or not isinstance(scale, bool)):
            raise self.fail(f"layer {where}: epsilon {show(eps)} / center / scale are not read.")
        c = v.shape[-1]
        arrays = [a.astype(np.float64) for a in
                  self.weights(keras_name, [(c,)] * (2 + center + scale))]
        gamma = arrays.pop(0) if scale else np.ones(c)
        beta = arrays.pop(0) if center else np.zeros(c)
        mean, var = arrays
        if np.any(~np.isfinite(var)) or np.any(var < 0):
            raise self.fail(f"layer {where}: its moving variance is negative or not finite.")
        # Keras divides by sqrt(var + eps); this project by sqrt(running_var + BN_EPS): the same
        # numbers with running_var = var + eps - BN_EPS (> 0, since eps > 0 > -var; exact up to
        # float32 rounding of the sum, computed in float64)
        running_var = var + float(eps) - BN_EPS
        if rank == 1:
            return self.fold_bn(v, where, gamma, beta, mean, running_var)
        name = self.emit(keras_name, "bn", [v.src], channels=c)
        self.tensors.update({f"{name}.weight": gamma, f"{name}.bias": beta,
                             f"{name}.running_mean": mean, f"{name}.running_var": running_var})
        return Value(name, v.shape, order=v.order)

    def fold_bn(self, v: Value, where: str, gamma: np.ndarray, beta: np.ndarray,
                mean: np.ndarray, running_var: np.ndarray) -> Value:
        """BatchNormalization of a Dense layer's output, folded into that layer (this project's
        BatchNorm reads maps): ``W' = W * g``, ``b' = (b - mean) * g + beta`` with
        ``g = gamma / sqrt(var + eps)``."""
        rec = self.layers[-1] if self.layers else None
        if rec is None or rec["name"] != v.src or rec["type"] != "linear" or v.order:
            raise self.fail(f"layer {where}: BatchNormalization of a vector is read only right "
                            f"after a Dense layer without activation (it is folded into it).")
        g = gamma / np.sqrt(running_var + BN_EPS)
        name = rec["name"]
        bias = self.tensors.get(f"{name}.bias", np.zeros(rec["out"]))
        self.tensors[f"{name}.weight"] = self.tensors[f"{name}.weight"] * g[:, None]
        self.tensors[f"{name}.bias"] = (bias - mean) * g + beta
        rec["bias"] = True
        return v


# the handler of each layer type's classes, then of the reader's own classes
HANDLERS: dict[str, Callable[[Builder, Call], Value]] = {
    "conv": lambda b, c: b.conv(c.layer, b.as_map(c.v, c.where), c.where, c.name, c.last),
    "bn": lambda b, c: b.batchnorm(c.layer, c.v, c.where, c.name),
    "relu": lambda b, c: b.relu(c.layer, b.settled(c.v, c.where), c.name, c.where),
    "leakyrelu": lambda b, c: b.relu(c.layer, b.settled(c.v, c.where), c.name, c.where),
    "prelu": Builder.prelu,
    "elu": Builder.elu,
    "dropout": Builder.dropout,
    "maxpool": lambda b, c: b.pool(c.layer, b.as_map(c.v, c.where), c.where, c.name),
    "avgpool": lambda b, c: b.pool(c.layer, b.as_map(c.v, c.where), c.where, c.name),
    "gap": Builder.global_pool,
    "gmp": Builder.global_pool,
    "flatten": Builder.flatten,
    "linear": lambda b, c: b.dense(c.layer, c.v, c.where, c.name, c.last),
    "add": lambda b, c: b.join(c.layer, c.srcs, c.where, c.name),
    "concat": lambda b, c: b.join(c.layer, c.srcs, c.where, c.name),
    "InputLayer": lambda b, c: b.input_layer(c.layer),
    "Reshape": lambda b, c: b.reshape(c.layer, c.v, c.where, c.name),
    "Activation": lambda b, c: b.activation(b.opt(c.layer, "activation"),
                                            b.settled(c.v, c.where), c.name, c.where, c.last),
    "Rescaling": lambda b, c: b.rescaling(c.layer, c.v, c.where),
}
_MISSING = {s.handler for s in TABLE.values()} - set(HANDLERS)
if _MISSING:  # pragma: no cover (an entry's Keras class with no handler)
    raise RuntimeError(f"Keras classes of no handler: {sorted(_MISSING)}")
