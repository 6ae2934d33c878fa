"""Walking an ONNX graph in order: each node becomes a layer record, folds into one, or (all
its inputs constants) is folded to a constant with its size charged first
(:mod:`model.files.onnx_reader.fold`); the op table (:mod:`model.files.onnx_reader.ops`) says which. The
shape ops on the network's data (Concat as a join, Transpose between NCHW and NHWC, Flatten,
Squeeze, Unsqueeze, Reshape as a flatten or as a change of layout that moves only axes of
length 1) are here; the layer ops in
:mod:`model.files.onnx_reader.layers`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from model.files.budget import Budget
from model.files.onnx_reader.fold import FoldError, fold
from model.files.onnx_reader.layers import LayerOps, Val
from model.files.onnx_reader.ops import TABLE
from model.files.onnx_reader.read import attrs, err, show, tensor_array
from viz import limits
from viz.network import card as card_reader
from viz.network.layers import INPUT, describe

_SIDE = 28
_NAME = re.compile(r"[^A-Za-z0-9_-]+")

class Walker(LayerOps):
    """The graph's values, the layer records made so far and their tensors."""

    def __init__(self, files: Mapping[str, bytes], source: str, budget: Budget) -> None:
        self.files, self.source = files, source
        self.budget = budget
        self.batch = 1  # the input's batch size when the file fixes it, else 1
        self.values: dict[str, Any] = {}
        self.records: list[dict[str, Any]] = []
        self.tensors: dict[str, np.ndarray] = {}
        self.readers: dict[str, int] = {}
        self.inside: tuple[float, float] | None = None
        self.names: set[str] = {INPUT}
        self.shapes: dict[str, tuple[int, ...]] = {}
        # record -> the ONNX values equal to its output, each but the last read by one node only
        # (through Cast, Transpose, Identity and the constants folded into it)
        self.direct: dict[str, list[str]] = {}

    # -- helpers -------------------------------------------------------------------------------
    def fail(self, node: Any, message: str) -> card_reader.CardError:
        return err(self.source, f"node {show(node.name or node.op_type)} "
                                 f"({node.op_type}): {message}")

    def const(self, node: Any, i: int, required: bool = True) -> Any:
        if i >= len(node.input) or not node.input[i]:
            if required:
                raise self.fail(node, f"input {i + 1} is missing.")
            return None
        v = self.values[node.input[i]]
        if not isinstance(v, np.ndarray):
            raise self.fail(node, "its weights are not constants (computed in the graph).")
        return v

    def tensor(self, node: Any, i: int = 0) -> Val:
        v = self.values[node.input[i]]
        if not isinstance(v, Val):
            raise self.fail(node, "reads a constant where the network's data should flow.")
        return v

    def name(self, node: Any, hint: str, kind: str) -> str:
        """A record name from the weights' name (``conv1.weight``: conv1), the node's path
        (``/conv1/Conv``: conv1), else the type; unique."""
        base = ""
        if hint and hint in self.values and "." in hint:  # an initializer: "conv1.weight"
            base = hint.rsplit(".", 1)[0]
        elif node.name.startswith("/") and node.name.count("/") >= 2:
            base = node.name.split("/")[-2]
        base = _NAME.sub("_", base).strip("_-")[:48] or kind
        name, k = base, 1
        while name in self.names:
            k += 1
            name = f"{base}{k}" if base == kind else f"{base}_{k}"
        self.names.add(name)
        return name

    def emit(self, node: Any, rec: dict[str, Any], srcs: list[Val],
             tensors: dict[str, np.ndarray] | None = None) -> str:
        for v in srcs:
            if v.src == INPUT:
                if self.inside is None and v.pre != (1.0, 0.0):
                    self.inside = v.pre
                if (self.inside or (1.0, 0.0)) != v.pre:
                    raise self.fail(node, "the input is scaled in two different ways.")
        names = [v.src for v in srcs]
        previous = self.records[-1]["name"] if self.records else INPUT
        if names != [previous]:
            rec["inputs"] = names
        self.records.append(rec)
        for suffix, a in (tensors or {}).items():
            self.tensors[f"{rec['name']}.{suffix}"] = np.ascontiguousarray(a, dtype=np.float32)
        if len(self.records) > limits.NETWORK_LAYERS:
            raise err(self.source, f"more than {limits.NETWORK_LAYERS} layers; "
                                    f"{card_reader.LIMITS}.")
        try:
            infos = describe(self.records)
        except ValueError as exc:
            raise self.fail(node, str(exc)) from None
        shape = infos[-1].shape
        self.shapes[rec["name"]] = shape
        return rec["name"]

    def out(self, node: Any, value: Any) -> None:
        self.values[node.output[0]] = value
        if not isinstance(value, Val) or value.src == INPUT:
            return
        chain = self.direct.get(value.src)
        if chain is None:
            if value.src == self.records[-1]["name"]:
                self.direct[value.src] = [node.output[0]]
            return
        xs = [x for x in node.input if isinstance(self.values.get(x), Val)]
        if len(xs) == 1 and xs[0] == chain[-1] and self.readers.get(xs[0], 0) == 1:
            chain.append(node.output[0])

    def map_of(self, node: Any, v: Val) -> Val:
        """``v`` as an NCHW map (the image inputs count), or a refusal."""
        if v.kind == "map" and v.layout == "NCHW":
            return v
        raise self.fail(node, f"expects an NCHW feature map, but reads "
                              f"{'an NHWC map' if v.kind == 'map' else 'a vector'}.")

    def flatten(self, node: Any, v: Val) -> Val:
        """A vector of ``v``: a flatten record (the NHWC order kept as the vector's perm)."""
        if v.kind == "vec":
            return v
        if v.kind == "flatin":
            name = self.emit(node, {"name": self.name(node, "flatten", "flatten"),
                                    "type": "flatten"}, [v])
            return Val("vec", name, (_SIDE * _SIDE,), pre=v.pre)
        if v.kind == "img":
            v = replace(v, kind="map", shape=(1, _SIDE, _SIDE), layout="NCHW")
        c, h, w = v.shape
        name = self.emit(node, {"name": self.name(node, "flatten", "flatten"),
                                "type": "flatten"}, [v])
        perm = None
        if v.layout == "NHWC" and c > 1 and h * w > 1:
            perm = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)
        return Val("vec", name, (c * h * w,), perm=perm)

    # -- the ops -------------------------------------------------------------------------------
    def run(self, node: Any, final: bool) -> None:
        op = node.op_type
        ins = [self.values.get(x) if x else None for x in node.input]
        if op == "Constant":
            return self.out(node, self.constant(node))
        if op not in ("Conv", "MaxPool", "AveragePool", "Cast", "Identity") and any(
                isinstance(v, Val) and v.pad is not None for v in ins):
            raise self.fail(node, "reads a padded map; a Pad is read only before a Conv or a "
                                  "pooling layer.")
        if op == "Shape":
            v = ins[0]
            shape = v.shape if isinstance(v, np.ndarray) else self.onnx_shape(v)
            a = attrs(node)
            shape = shape[slice(a.get("start", 0), a.get("end"))]
            return self.out(node, np.asarray(shape, dtype=np.int64))
        if all(v is None or isinstance(v, np.ndarray) for v in ins) and ins:
            return self.out(node, np.asarray(self.fold(node, ins)))
        spec = TABLE[op]
        handler = getattr(self, spec.handler) if spec.handler else None
        if handler is None:
            raise self.fail(node, "is not supported on the network's data.")
        if op in ("Softmax", "LogSoftmax") and not final:
            raise self.fail(node, "a softmax is read only as the network's last step.")
        return handler(node, spec.kind) if spec.kind else handler(node)

    def onnx_shape(self, v: Val) -> tuple[int, ...]:
        """The ONNX shape of ``v`` (the batch as the input declares it, else 1: the shape
        arithmetic of Keras's and torch's exports then folds to constants)."""
        if v.pad is not None:
            raise err(self.source, "the shape of a padded map is read; pad inside the Conv "
                                    "or pooling layer.")
        if v.kind == "map" and v.layout == "NHWC":
            return (self.batch, *v.shape[1:], v.shape[0])
        return (self.batch, *v.shape)

    def constant(self, node: Any) -> np.ndarray:
        """A Constant node's tensor, charged to the file's budget before it is made."""
        a = attrs(node)
        if "value" in a:
            return tensor_array(a["value"], {}, self.source, self.budget, kind="constant")
        for key, dtype in (("value_float", np.float32), ("value_int", np.int64),
                           ("value_floats", np.float32), ("value_ints", np.int64)):
            if key in a:
                value = a[key]
                self.budget.charge(len(value) if isinstance(value, list) else 1,
                                   f"constant {show(node.name or node.output[0])}")
                return np.asarray(value, dtype=dtype)
        raise self.fail(node, "a constant of a kind this app does not read.")

    def fold(self, node: Any, ins: list[Any]) -> np.ndarray:
        """A node all of whose inputs are constants, computed: its output's size from its
        inputs' shapes (the op table's shape function) charged to the budget first."""
        spec = TABLE[node.op_type]
        if spec.shape is None or spec.compute is None:
            raise self.fail(node, "is not supported on constants.")
        a = attrs(node)
        if node.op_type == "ConstantOfShape" and "value" in a:
            a["_value"] = tensor_array(a["value"], {}, self.source, self.budget,
                                       kind="constant")
        where = f"node {show(node.name or node.op_type)} ({node.op_type})"
        try:
            return fold(node.op_type, spec.shape, spec.compute, ins, a, self.budget, where)
        except FoldError as exc:
            raise self.fail(node, f"its constants do not compute ({show(str(exc))}).") \
                from None

    def passthrough(self, node: Any) -> None:
        self.out(node, self.tensor(node))

    def join(self, node: Any, kind: str, vs: list[Val]) -> None:
        vs = [self.image(node, v) for v in vs]
        if any(v.src == INPUT and v.pre != (1.0, 0.0) for v in vs):
            pass
        layouts = {(v.kind, v.layout, None if v.perm is None else v.perm.tobytes()) for v in vs}
        if len(layouts) != 1 or vs[0].kind != "map":
            raise self.fail(node, f"a {kind} of tensors in different layouts (or vectors).")
        rec = {"name": self.name(node, node.name or kind, kind), "type": kind}
        name = self.emit(node, rec, [replace(v, layout="NCHW") for v in vs])
        self.out(node, replace(vs[0], src=name, shape=self.shapes[name]))

    def op_Concat(self, node: Any, kind: str = "concat") -> None:
        vs = [self.values.get(x) for x in node.input]
        if not all(isinstance(v, Val) for v in vs):
            raise self.fail(node, "a concat of computed tensors and constants.")
        axis = int(attrs(node).get("axis", 1))
        want = 1 if vs[0].layout == "NCHW" else 3
        if axis % 4 != want:
            raise self.fail(node, "a concat along an axis other than the channels.")
        self.join(node, kind, vs)

    def op_Transpose(self, node: Any) -> None:
        v = self.tensor(node)
        perm = list(attrs(node).get("perm", []))
        if v.kind == "map" and perm == [0, 2, 3, 1] and v.layout == "NCHW":
            return self.out(node, replace(v, layout="NHWC"))
        if v.kind == "map" and perm == [0, 3, 1, 2] and v.layout == "NHWC":
            return self.out(node, replace(v, layout="NCHW"))
        if v.kind in ("vec", "flatin") and perm in ([0, 1], []):
            return self.out(node, v)
        raise self.fail(node, f"a transpose {perm} other than between NCHW and NHWC.")

    def flatten_op(self, node: Any, kind: str) -> None:
        """Flatten, or a Reshape that flattens (the type's two ops)."""
        if node.op_type == "Reshape":
            return self.reshape(node, self.tensor(node), self.const(node, 1).astype(np.int64))
        return self.flatten_node(node)

    def flatten_node(self, node: Any) -> None:
        if int(attrs(node).get("axis", 1)) != 1:
            raise self.fail(node, "a flatten that keeps other than the batch axis.")
        self.out(node, self.flatten(node, self.tensor(node)))

    def op_Squeeze(self, node: Any) -> None:
        v = self.tensor(node)
        if v.kind == "map" and v.shape[1:] == (1, 1):
            return self.out(node, self.flatten(node, v))
        raise self.fail(node, "a squeeze other than of a 1x1 map.")

    def op_Unsqueeze(self, node: Any) -> None:
        v = self.tensor(node)
        axes = attrs(node).get("axes")
        if axes is None:
            axes = [int(i) for i in self.const(node, 1)]
        if v.kind == "img" and len(axes) == 1 and int(axes[0]) % 4 in (1, 3):
            layout = "NCHW" if int(axes[0]) % 4 == 1 else "NHWC"
            return self.out(node, replace(v, kind="map", shape=(1, _SIDE, _SIDE), layout=layout))
        raise self.fail(node, "an unsqueeze other than a channel axis on the input.")

    def reshape(self, node: Any, v: Val, shape: np.ndarray) -> None:
        dims = [int(d) for d in shape.reshape(-1)]
        if not dims or len(dims) > 1 and dims[0] not in (-1, 0, self.batch):
            raise self.fail(node, f"a reshape to {dims} that mixes the batch with the data.")
        total = math.prod(v.shape) if v.kind != "img" else _SIDE * _SIDE
        rest = dims[1:]
        if -1 in rest and rest.count(-1) == 1 and total % max(1, -math.prod(rest)) == 0:
            rest = [total // -math.prod(rest) if d == -1 else d for d in rest]
        if dims[0] == -1 or len(dims) == 1:  # [-1, k]: the batch is the -1
            pass
        if len(rest) == 1 and rest[0] in (total, -1) or (len(dims) == 2 and dims[1] == total):
            if v.kind == "flatin":
                return self.out(node, v)
            return self.out(node, self.flatten(node, v))
        if v.kind in ("flatin", "img") and v.src == INPUT and rest in (
                [1, _SIDE, _SIDE], [_SIDE, _SIDE, 1], [_SIDE, _SIDE]):
            if rest == [_SIDE, _SIDE]:
                return self.out(node, replace(v, kind="img", shape=(_SIDE, _SIDE)))
            layout = "NCHW" if rest[0] == 1 else "NHWC"
            return self.out(node, replace(v, kind="map", shape=(1, _SIDE, _SIDE),
                                          layout=layout))
        if v.kind == "map":
            layout = self.relayout(v, tuple(rest))
            if layout is not None:
                return self.out(node, replace(v, layout=layout))
            raise self.fail(node, f"a reshape of a {self.shown(v)} map to {dims}, which "
                                  f"moves an axis longer than 1: only a flatten, or a change "
                                  f"between NCHW and NHWC where the axes moved are of length "
                                  f"1, keeps the map; transpose it instead.")
        raise self.fail(node, f"a reshape to {dims} other than a flatten.")

    @staticmethod
    def relayout(v: Val, rest: tuple[int, ...]) -> str | None:
        """The layout a reshape of the map ``v`` to [N, *rest] leaves it in, when it keeps the
        map: its own shape, or the other layout's where the axes it moves are of length 1 (the
        numbers then stay in the same order: TensorFlow's exports reshape [N, 28, 28, 1] to
        [N, 1, 28, 28] so); else None."""
        c, h, w = v.shape
        here = (c, h, w) if v.layout == "NCHW" else (h, w, c)
        if rest == here:
            return v.layout
        other = (h, w, c) if v.layout == "NCHW" else (c, h, w)
        if rest == other and [d for d in here if d != 1] == [d for d in other if d != 1]:
            return "NHWC" if v.layout == "NCHW" else "NCHW"
        return None

    @staticmethod
    def shown(v: Val) -> str:
        """The ONNX shape of a map, as a message writes it: "Nx28x28x1"."""
        c, h, w = v.shape
        return "x".join(map(str, ("N", c, h, w) if v.layout == "NCHW" else ("N", h, w, c)))

