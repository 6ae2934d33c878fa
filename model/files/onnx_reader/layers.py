"""The ONNX ops that become layer records, one handler per layer type (see
:data:`model.files.onnx_reader.ops.TYPE_HANDLERS`): activations (PRelu's slopes, Elu's alpha), Conv,
pooling and Pad, BatchNorm, Gemm/MatMul (dense), and Add/Sub/Mul/Div (a join, a bias or scale folded into the layer before,
or the input's own scaling). A mixin of the walker (:mod:`model.files.onnx_reader.walk`), which holds
the values, the records and their tensors; :class:`Val` is what a value of the network's data
is while the graph is walked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from model.files.onnx_reader.read import attrs, show
from viz.network.layers import INPUT
from viz.network.layertypes import BN_EPS
from viz.receptive_field import output_length


@dataclass(frozen=True)
class Val:
    """A tensor the network computes: ``kind`` "map" ((C, H, W) in ``layout`` NCHW or NHWC),
    "vec" (features; ``perm[i]`` = the record's feature at ONNX position i, or None when the
    same), "img" (the [N, 28, 28] input), "flatin" (the [N, 784] input). ``src``: the record that
    makes it ("input" for the image); ``pre``: (a, b) of the input scaling applied so far;
    ``pad``: (before, after, mode) of a Pad node the next Conv or pooling takes in."""

    kind: str
    src: str
    shape: tuple[int, ...]
    layout: str = "NCHW"
    perm: Any = None
    pre: tuple[float, float] = (1.0, 0.0)
    pad: tuple[int, int, str] | None = None

class LayerOps:
    """The walker's handlers of the layer ops (see :data:`model.files.onnx_reader.ops.TABLE`)."""

    # provided by the walker
    values: dict[str, Any]
    records: list[dict[str, Any]]
    tensors: dict[str, np.ndarray]
    readers: dict[str, int]
    fail: Any
    const: Any
    tensor: Any
    name: Any
    emit: Any
    out: Any
    map_of: Any
    flatten: Any
    join: Any
    shapes: dict[str, tuple[int, ...]]

    def op_Cast(self, node: Any) -> None:
        if attrs(node).get("to", 1) not in (1, 10, 11):
            raise self.fail(node, "casts the network's data to a non-float type.")
        self.passthrough(node)

    def activation(self, node: Any, kind: str, extra: dict[str, Any] | None = None,
                   tensors: dict[str, np.ndarray] | None = None) -> None:
        v = self.tensor(node)
        if v.kind in ("img", "flatin"):
            raise self.fail(node, "an activation straight on the input is not supported.")
        rec = {"name": self.name(node, node.name or kind, kind), "type": kind, **(extra or {})}
        self.out(node, replace(v, src=self.emit(node, rec, [v], tensors)))

    def plain(self, node: Any, kind: str) -> None:
        """An op of a type of no options and no weights (ReLU, Tanh, Sigmoid): its record."""
        self.activation(node, kind)

    def leakyrelu(self, node: Any, kind: str) -> None:
        alpha = float(attrs(node).get("alpha", 0.01))
        if not 0 <= alpha < 1:
            raise self.fail(node, f"a leaky ReLU slope of {alpha:g}; this app takes 0 to "
                                  f"below 1.")
        self.activation(node, kind, {"negative_slope": alpha})

    def elu(self, node: Any, kind: str) -> None:
        alpha = float(attrs(node).get("alpha", 1.0))
        if alpha != 1.0:
            raise self.fail(node, f"an ELU with alpha {alpha:g}; this app's ELU has alpha 1 "
                                  f"(torch's and Keras's default): train it with nn.ELU() "
                                  f"(alpha=1.0) and export it again.")
        self.activation(node, kind)

    def prelu(self, node: Any, kind: str) -> None:
        """PRelu: one slope shared by all channels (one number: [1], [] or all ones), or one
        per channel of an NCHW map ([C, 1, 1], any leading ones), of an NHWC map or a vector
        ([C]); ONNX broadcasts the slope from the last axis, so [C] on an NCHW map would be
        one slope per column."""
        v = self.tensor(node)
        if v.kind in ("img", "flatin"):
            raise self.fail(node, "an activation straight on the input is not supported.")
        slope = self.const(node, 1)
        shape = tuple(int(d) for d in slope.shape)
        n = v.shape[0]
        per = shape
        while len(per) > 1 and per[0] == 1:
            per = per[1:]
        nchw = v.kind == "map" and v.layout == "NCHW"
        if slope.size == 1:
            count = 1
        elif per == ((n, 1, 1) if nchw else (n,)):
            count = n
        else:
            want = f"[{n}, 1, 1]" if nchw else f"[{n}]"
            raise self.fail(node, f"a slope of shape {list(shape)} on "
                                  f"{'a map' if v.kind == 'map' else 'a vector'} of {n} "
                                  f"{'channels' if v.kind == 'map' else 'features'}; this app "
                                  f"reads one slope shared by all ([1]) or one per "
                                  f"{'channel' if v.kind == 'map' else 'feature'} ({want}): "
                                  f"export nn.PReLU() or nn.PReLU({n}).")
        weight = np.asarray(slope, dtype=np.float32).reshape(-1)
        if count > 1 and v.kind == "vec" and v.perm is not None:  # ONNX order -> the record's
            ours = np.empty_like(weight)
            ours[v.perm] = weight
            weight = ours
        self.activation(node, kind, {"num_parameters": count}, {"weight": weight})

    def global_op(self, node: Any, kind: str) -> None:
        """GlobalAveragePool / GlobalMaxPool, or a ReduceMean / ReduceMax over the map."""
        if node.op_type.startswith("Reduce"):
            return self.reduce(node, kind)
        return self.global_pool(node, kind)

    def linear(self, node: Any, kind: str) -> None:
        """Gemm, or a MatMul (its bias an Add after it)."""
        return self._gemm(node) if node.op_type == "Gemm" else self._matmul(node)

    def conv(self, node: Any, kind: str) -> None:
        a = attrs(node)
        v = self.map_of(node, self.image(node, self.tensor(node)))
        w = self.const(node, 1)
        b = self.const(node, 2, required=False)
        if w.ndim != 4 or w.shape[2] != w.shape[3]:
            raise self.fail(node, f"a kernel of shape {tuple(w.shape)}; square 2-d kernels "
                                  f"are read.")
        groups = int(a.get("group", 1))
        k = int(w.shape[2])
        stride = self._same(node, a.get("strides", [1, 1]), "strides")
        dil = self._same(node, a.get("dilations", [1, 1]), "dilations")
        pad = self._pads(node, a, k, dil)
        if v.pad is not None:
            before, after, mode = v.pad
            if mode != "zero" or before != after:
                raise self.fail(node, f"its input is padded {before} before and {after} after "
                                      f"(mode {mode}); this app's convolutions pad every side "
                                      f"alike with zeros.")
            pad += before
        rec: dict[str, Any] = {"name": self.name(node, node.input[1], "conv"), "type": "conv",
                               "in": int(w.shape[1]) * groups, "out": int(w.shape[0]),
                               "kernel": k, "stride": stride, "padding": pad,
                               "bias": b is not None}
        if dil != 1:
            rec["dilation"] = dil
        if groups != 1:
            rec["groups"] = groups
        if rec["in"] != v.shape[0]:
            raise self.fail(node, f"reads {rec['in']} channels, but its input has "
                                  f"{v.shape[0]}.")
        tensors = {"weight": w, **({"bias": b.reshape(-1)} if b is not None else {})}
        name = self.emit(node, rec, [v], tensors)
        self.out(node, Val("map", name, self.shapes[name]))

    def _same(self, node: Any, values: list[int], what: str) -> int:
        if len(set(values)) != 1:
            raise self.fail(node, f"{what} {values} differ along the axes; this app reads "
                                  f"square ones.")
        return int(values[0])

    def _pads(self, node: Any, a: dict[str, Any], k: int, dil: int) -> int:
        auto = a.get("auto_pad", "NOTSET")
        if auto == "VALID":
            return 0
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            total = dil * (k - 1)
            if total % 2 or a.get("strides", [1, 1]) != [1, 1] and \
                    set(a.get("strides", [1])) != {1}:
                raise self.fail(node, "SAME padding that is not symmetric.")
            return total // 2
        pads = a.get("pads", [0, 0, 0, 0])
        return self._same(node, pads, "pads")

    def pool(self, node: Any, kind: str) -> None:
        a = attrs(node)
        v = self.map_of(node, self.image(node, self.tensor(node)))
        if len(node.output) > 1 and node.output[1]:
            raise self.fail(node, "pooling indices are not supported.")
        ks = a.get("kernel_shape", [])
        k = self._same(node, ks, "kernel_shape") if ks else 0
        if self._same(node, a.get("dilations", [1, 1]), "dilations") != 1:
            raise self.fail(node, "dilated pooling is not supported.")
        rec: dict[str, Any] = {"name": self.name(node, node.name or kind, kind), "type": kind,
                               "kernel": k,
                               "stride": self._same(node, a.get("strides", [1, 1]), "strides"),
                               "padding": self._pads(node, a, k, 1)}
        if a.get("ceil_mode", 0):
            rec["ceil_mode"] = True
        if v.pad is not None:
            self._pool_pad(node, v, rec)
        if kind == "avgpool" and rec["padding"] and not a.get("count_include_pad", 0):
            rec["count_include_pad"] = False
        name = self.emit(node, rec, [v])
        self.out(node, Val("map", name, self.shapes[name]))

    def _pool_pad(self, node: Any, v: Val, rec: dict[str, Any]) -> None:
        """A Pad node before the pooling as the record's own padding: zeros before an average
        pooling (counted in the mean), the edge's copies or -inf before a max pooling (the
        window holds the edge itself); one-sided (Keras's 'same' with a stride) as ceil mode."""
        before, after, mode = v.pad or (0, 0, "zero")
        k, s, size = rec["kernel"], rec["stride"], v.shape[1]
        ok_mode = mode == "zero" if rec["type"] == "avgpool" else mode in ("edge", "low")
        want = output_length(size, k, s, before, after)
        if rec["padding"] or rec.get("ceil_mode") or not ok_mode or 2 * before > k:
            ok = False
        elif before == after:
            ok = True
        else:
            ok = rec["type"] == "maxpool" and after > before and \
                output_length(size, k, s, before, before, True) == want
            rec["ceil_mode"] = ok
        if not ok:
            raise self.fail(node, f"its input is padded {before} before and {after} after "
                                  f"(mode {mode}), which this app's pooling cannot say.")
        rec["padding"] = before

    def op_Pad(self, node: Any) -> None:
        v = self.map_of(node, self.image(node, self.tensor(node)))
        a = attrs(node)
        mode = a.get("mode", "constant")
        pads = a.get("pads")
        if pads is None:
            pads = [int(i) for i in self.const(node, 1).reshape(-1)]
        value = a.get("value", 0.0)
        if len(node.input) > 2 and node.input[2]:
            value = float(self.const(node, 2).reshape(-1)[0])
        if len(node.input) > 3 and node.input[3]:  # axes: the pads of these axes only
            axes = [int(i) % 4 for i in self.const(node, 3).reshape(-1)]
            full = [0] * 8
            for j, ax in enumerate(axes):
                full[ax], full[ax + 4] = pads[j], pads[j + len(axes)]
            pads = full
        if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)) or pads[2] != pads[3] \
                or pads[6] != pads[7] or min(pads) < 0 or max(pads) > 64:
            raise self.fail(node, f"pads {show(pads)}; the same padding of height and width "
                                  f"is read.")
        if mode == "constant" and value in (0.0, -math.inf):
            kind = "zero" if value == 0 else "low"
        elif mode == "edge":
            kind = "edge"
        else:
            raise self.fail(node, f"padding mode {show(mode)} (value {value:g}) is not read; "
                                  f"zeros, -inf or the edge are.")
        if v.pad is not None:
            raise self.fail(node, "two Pads in a row.")
        self.out(node, replace(v, pad=(pads[2], pads[6], kind)))

    def global_pool(self, node: Any, kind: str, keep: bool = True) -> None:
        v = self.image(node, self.tensor(node))
        if v.kind != "map":
            raise self.fail(node, "global pooling of a vector.")
        rec = {"name": self.name(node, node.name or kind, kind), "type": kind}
        name = self.emit(node, rec, [replace(v, layout="NCHW")])
        out = Val("map", name, (v.shape[0], 1, 1))
        self.out(node, out if keep else self.flatten(node, out))

    def reduce(self, node: Any, kind: str) -> None:
        a = attrs(node)
        v = self.tensor(node)
        axes = a.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = [int(i) for i in self.const(node, 1)]
        spatial = {2, 3} if v.layout == "NCHW" else {1, 2}
        if v.kind != "map" or axes is None or {int(i) % 4 for i in axes} != spatial:
            raise self.fail(node, "a reduction other than over the whole map.")
        self.global_pool(node, kind, bool(a.get("keepdims", 1)))

    def batchnorm(self, node: Any, kind: str) -> None:
        a = attrs(node)
        v = self.map_of(node, self.tensor(node))
        if a.get("training_mode", 0) or (len(node.output) > 1 and any(node.output[1:])):
            raise self.fail(node, "BatchNorm in training mode; export the model in eval mode.")
        scale, bias, mean, var = (self.const(node, i).reshape(-1) for i in range(1, 5))
        eps = float(a.get("epsilon", 1e-5))
        self._bn(node, v, scale, bias, mean, (var.astype(np.float64) + eps - BN_EPS))

    def _bn(self, node: Any, v: Val, scale: np.ndarray, bias: np.ndarray, mean: np.ndarray,
            var: np.ndarray) -> None:
        c = v.shape[0]
        if not all(t.size == c for t in (scale, bias, mean, var)):
            raise self.fail(node, f"per-channel numbers that are not {c} long.")
        if np.any(np.asarray(var) <= 0):
            raise self.fail(node, "a BatchNorm variance that is not positive.")
        rec = {"name": self.name(node, node.input[1] if len(node.input) > 1 else "bn", "bn"),
               "type": "bn", "channels": c}
        name = self.emit(node, rec, [replace(v, layout="NCHW")],
                         {"weight": scale, "bias": bias, "running_mean": mean,
                          "running_var": var})
        self.out(node, replace(v, src=name))

    def image(self, node: Any, v: Val) -> Val:
        if v.kind == "img":
            raise self.fail(node, "reads the [N, 28, 28] input without a channel axis.")
        return v

    def _gemm(self, node: Any) -> None:
        a = attrs(node)
        if a.get("transA", 0):
            raise self.fail(node, "a transposed input.")
        w = self.const(node, 1).astype(np.float32)
        if w.ndim != 2:
            raise self.fail(node, f"weights of shape {tuple(w.shape)}.")
        w = (w if a.get("transB", 0) else w.T) * np.float32(a.get("alpha", 1.0))
        c = self.const(node, 2, required=False)
        bias = None
        if c is not None:
            if c.size not in (1, w.shape[0]):
                raise self.fail(node, f"a bias of shape {tuple(c.shape)}.")
            bias = np.broadcast_to(c.reshape(-1), (w.shape[0],)) * np.float32(a.get("beta", 1.0))
        self.dense(node, w, bias)

    def _matmul(self, node: Any) -> None:
        w = self.const(node, 1).astype(np.float32)
        if w.ndim != 2:
            raise self.fail(node, f"weights of shape {tuple(w.shape)}.")
        self.dense(node, w.T, None)

    def dense(self, node: Any, w: np.ndarray, bias: np.ndarray | None) -> None:
        v = self.tensor(node)
        if v.kind == "map" and v.shape[1:] == (1, 1):
            v = self.flatten(node, v)
        if v.kind not in ("vec", "flatin"):
            raise self.fail(node, "a dense layer on a map; flatten it first.")
        v = self.flatten(node, v)
        if w.shape[1] != v.shape[0]:
            raise self.fail(node, f"reads {w.shape[1]:,} features, but its input has "
                                  f"{v.shape[0]:,}.")
        if v.perm is not None:  # the ONNX vector is the records' in another order
            ours = np.empty_like(w)
            ours[:, v.perm] = w
            w = ours
        rec = {"name": self.name(node, node.input[1], "fc"), "type": "linear",
               "in": int(w.shape[1]), "out": int(w.shape[0]), "bias": bias is not None}
        tensors = {"weight": w, **({"bias": bias} if bias is not None else {})}
        name = self.emit(node, rec, [v], tensors)
        self.out(node, Val("vec", name, (int(w.shape[0]),)))

    def _last(self, v: Val, node: Any) -> dict[str, Any] | None:
        """The record making ``v`` when this node is the only reader of its output (a bias or
        scale folds into it)."""
        rec = next((r for r in reversed(self.records) if r["name"] == v.src), None)
        if rec is None:
            return None
        xs = [x for x in node.input if isinstance(self.values.get(x), Val)]
        chain = self.direct.get(rec["name"]) or [""]
        if len(xs) != 1 or xs[0] != chain[-1] or self.readers.get(xs[0], 0) != 1:
            return None
        return rec

    def arith(self, node: Any, kind: str = "add") -> None:
        op = node.op_type
        first, second = (self.values.get(x) for x in node.input[:2])
        if isinstance(first, Val) and isinstance(second, Val):
            if op != "Add":
                raise self.fail(node, f"{op} of two computed tensors; only Add joins them.")
            return self.join(node, kind, [first, second])
        if isinstance(first, np.ndarray) and op in ("Add", "Mul"):
            first, second = second, first
        if not isinstance(first, Val) or not isinstance(second, np.ndarray):
            raise self.fail(node, "a constant minus or over the network's data.")
        c = second.astype(np.float64)
        if op == "Sub":
            c, op = -c, "Add"
        elif op == "Div":
            if np.any(c == 0):
                raise self.fail(node, "division by zero.")
            c, op = 1.0 / c, "Mul"
        v = first
        if v.src == INPUT:  # the network's own input scaling
            if c.size != 1:
                raise self.fail(node, "a per-pixel scaling of the input is not supported.")
            k = float(c.reshape(-1)[0])
            a0, b0 = v.pre
            pre = (a0 * k, b0 * k) if op == "Mul" else (a0, b0 + k)
            if pre[0] == 0:
                raise self.fail(node, "an input scaled by zero.")
            return self.out(node, replace(v, pre=pre))
        if v.kind == "vec":  # a dense layer's bias, or a BatchNorm after it (Keras)
            rec = self._last(v, node)
            if (rec is not None and rec["type"] == "linear" and v.perm is None
                    and c.size in (1, rec["out"]) and c.size == math.prod(c.shape)):
                n, t = rec["out"], self.tensors
                ch = np.broadcast_to(c.reshape(-1), (n,))
                bias = t.get(f"{rec['name']}.bias", np.zeros(n, np.float32))
                if op == "Mul":
                    t[f"{rec['name']}.weight"] = (t[f"{rec['name']}.weight"]
                                                  * ch[:, None]).astype(np.float32)
                    bias = bias * ch
                else:
                    bias = bias + ch
                if rec["bias"] or op == "Add":
                    rec["bias"] = True
                    t[f"{rec['name']}.bias"] = np.asarray(bias, np.float32)
                return self.out(node, v)
            raise self.fail(node, f"{op} of a constant on a vector, other than a dense "
                                  f"layer's bias or scale.")
        ch = self._per_channel(node, v, c)
        rec = self._last(v, node)
        if rec is not None and rec["type"] == "conv" and op == "Add":
            # Keras's and TensorFlow's exports add a conv's bias after it (BiasAdd), in NHWC
            key = f"{rec['name']}.bias"
            rec["bias"] = True
            self.tensors[key] = (self.tensors.get(key, 0.0) + ch).astype(np.float32)
            return self.out(node, v)
        if rec is not None and rec["type"] == "bn":
            t = self.tensors
            name = rec["name"]
            if op == "Mul":
                t[f"{name}.weight"] = (t[f"{name}.weight"] * ch).astype(np.float32)
                t[f"{name}.bias"] = (t[f"{name}.bias"] * ch).astype(np.float32)
            else:
                t[f"{name}.bias"] = (t[f"{name}.bias"] + ch).astype(np.float32)
            return self.out(node, v)
        n = v.shape[0]
        one, zero = np.ones(n, np.float32), np.zeros(n, np.float32)
        scale, bias = (ch, zero) if op == "Mul" else (one, ch)
        self._bn(node, v, scale.astype(np.float32), bias.astype(np.float32), zero,
                 np.full(n, 1.0 - BN_EPS))

    def _per_channel(self, node: Any, v: Val, c: np.ndarray) -> np.ndarray:
        n = v.shape[0]
        if c.size == 1:
            return np.full(n, float(c.reshape(-1)[0]))
        shape = tuple(c.shape)
        while shape and shape[0] == 1 and len(shape) > (3 if v.layout == "NCHW" else 1):
            shape = shape[1:]
        ok = (shape == (n, 1, 1)) if v.layout == "NCHW" else (shape[-1:] == (n,)
                                                               and math.prod(shape) == n)
        if not ok:
            raise self.fail(node, f"a constant of shape {tuple(c.shape)} on a map of "
                                  f"{n} channels; per-channel numbers are read.")
        return c.reshape(-1)

