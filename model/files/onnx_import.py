"""ONNX files (``torch.onnx.export``, either exporter; Keras ``model.export``; tf2onnx) as layer
records: :func:`read_onnx` gives a :class:`model.files.imported.ImportedNetwork`.

The file is parsed with the ``onnx`` package (protobuf: nothing in it runs) and checked before
anything large is made: its size, the number of nodes, the op domains and types (an allowlist;
no control flow or subgraphs, no functions), every initializer's declared size against its data
(inside the file, or in an external data file uploaded with it and named by a plain file name),
the graph's order (no cycle), one input that is one 28x28 grayscale image (NCHW ``[N,1,28,28]``,
NHWC ``[N,28,28,1]``, ``[N,28,28]`` or flat ``[N,784]``) and one output.

Then the graph is walked in order. Constant subgraphs are folded (Constant, Shape of a constant,
Gather, Concat, Reshape, ...); the shape arithmetic of a dynamic flatten (Shape, Gather, Concat
into a Reshape) is recognised; every other node becomes a layer record or folds into one:
Conv; Gemm, or MatMul and the Add of its bias; BatchNormalization (its epsilon folded into the
variance), or per-channel Mul/Add (Keras's BatchNorm); Relu, LeakyRelu, Tanh, Sigmoid; MaxPool,
AveragePool, GlobalAveragePool, GlobalMaxPool (and ReduceMean/ReduceMax over the map); Add and
Concat (joins); Flatten, or Reshape/Squeeze to a vector, with the NHWC order of a transposed map
folded into the next dense layer's weights; Transpose (the map's layout); Dropout, Identity,
Cast; a final Softmax or LogSoftmax (the app takes the softmax of the logits). A scalar Mul,
Div, Add or Sub on the input becomes the network's own input scaling.

Every problem raises :class:`viz.network.card.CardError` with a one-line message.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from model.files.imported import ImportedNetwork
from viz.network import card as card_reader
from viz.network.layers import INPUT, describe
from viz.network.layertypes import BN_EPS
from viz.receptive_field import output_length

MAX_FILE_BYTES = 64 * 1024 * 1024  # 5,000,000 float32 parameters and their BatchNorm statistics
MAX_NODES = 2_000
MAX_VALUES = 2 * card_reader.MAX_PARAMS  # numbers in all initializers and constants together
MAX_DIMS = 8
_SIDE = 28

# op -> what it becomes; everything else is refused
LAYER_OPS = ("Conv", "Gemm", "MatMul", "BatchNormalization", "Relu", "LeakyRelu", "Tanh",
             "Sigmoid", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
             "ReduceMean", "ReduceMax", "Add", "Sub", "Mul", "Div", "Concat", "Flatten",
             "Reshape", "Squeeze", "Unsqueeze", "Transpose", "Dropout", "Identity", "Cast",
             "Softmax", "LogSoftmax", "Pad")
SHAPE_OPS = ("Constant", "Shape", "Gather", "Slice", "ConstantOfShape", "Neg", "Sqrt",
             "Reciprocal", "ReduceProd", "Range")
OPS = frozenset(LAYER_OPS + SHAPE_OPS)
CONTROL = ("If", "Loop", "Scan", "SequenceMap")

# onnx TensorProto data types we read: code -> (numpy dtype, the typed field holding the data)
_DTYPES = {1: ("<f4", "float_data"), 11: ("<f8", "double_data"), 10: ("<f2", "int32_data"),
           7: ("<i8", "int64_data"), 6: ("<i4", "int32_data"), 9: ("?", "int32_data")}
_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def _err(source: str, message: str) -> card_reader.CardError:
    return card_reader.CardError(f"{source}: {message}")


def _show(text: Any) -> str:
    return card_reader.show(text, 60)


# ---------------------------------------------------------------------------------------------
# Parsing and the checks on the whole file
# ---------------------------------------------------------------------------------------------

def parse(data: bytes, source: str) -> Any:
    """The ModelProto of ``data``, refused when it is not ONNX or cut short."""
    if len(data) > MAX_FILE_BYTES:
        raise _err(source, f"{len(data):,} bytes; this server takes ONNX files of up to "
                           f"{MAX_FILE_BYTES:,} bytes ({card_reader.LIMITS}).")
    import onnx
    from google.protobuf.message import DecodeError

    model = onnx.ModelProto()
    bad = ("not an ONNX model, or the file was cut short. Export it again with "
           "torch.onnx.export(...) and upload the .onnx file (and its .onnx.data).")
    if len(data) < 8 or data[:2] in (b"PK", b"\x89H", b"\x80\x02") or data[:1] == b"{":
        raise _err(source, bad)
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError, TypeError):
        raise _err(source, bad) from None
    if not model.HasField("graph") or model.ir_version <= 0 or not model.graph.output:
        raise _err(source, bad)
    return model


def _check_structure(model: Any, source: str) -> None:
    g = model.graph
    if len(g.node) > MAX_NODES:
        raise _err(source, f"{len(g.node):,} nodes; this server takes graphs of up to "
                           f"{MAX_NODES:,} nodes ({card_reader.LIMITS}).")
    if len(model.functions):
        raise _err(source, f"it defines its own functions ({_show(model.functions[0].name)}); "
                           f"export with inlined functions (the default of torch.onnx.export).")
    if len(g.sparse_initializer):
        raise _err(source, "sparse initializers are not supported.")
    for node in g.node:
        where = f"node {_show(node.name or node.op_type)}"
        if node.domain not in ("", "ai.onnx"):
            raise _err(source, f"{where} uses the custom op domain {_show(node.domain)} "
                               f"({_show(node.op_type)}); only standard ONNX ops are read.")
        if node.op_type in CONTROL or any(a.type in (5, 10) or a.HasField("g") or len(a.graphs)
                                          for a in node.attribute):
            raise _err(source, f"{where}: control flow or subgraphs ({_show(node.op_type)}) "
                               f"are not supported; a CNN needs none.")
        if node.op_type not in OPS:
            raise _err(source, f"{where}: op {_show(node.op_type)} is not supported; this "
                               f"app reads {', '.join(LAYER_OPS[:17])} and the shape "
                               f"arithmetic of a flatten.")


def _plain_name(location: str) -> bool:
    return (0 < len(location) <= 255 and "/" not in location and "\\" not in location
            and location not in (".", "..") and ":" not in location and "\x00" not in location)


def tensor_array(t: Any, files: Mapping[str, bytes], source: str, budget: list[int],
                 own: str = "") -> np.ndarray:
    """A TensorProto's numbers, its declared size checked against its data (and the budget of
    :data:`MAX_VALUES`) before they are read."""
    name = _show(t.name)
    if t.data_type not in _DTYPES:
        raise _err(source, f"initializer {name} has ONNX data type {t.data_type}; float32, "
                           f"float64, float16, int64, int32 and bool are read.")
    dims = list(t.dims)
    if len(dims) > MAX_DIMS or any(d < 0 or d > 2**31 for d in dims):
        raise _err(source, f"initializer {name} declares the shape {_show(dims)}.")
    count = math.prod(dims)
    budget[0] -= count
    if budget[0] < 0:
        raise _err(source, f"its initializers hold more than {MAX_VALUES:,} numbers "
                           f"(initializer {name} declares {count:,}); {card_reader.LIMITS}.")
    dtype, typed = _DTYPES[t.data_type]
    size = count * np.dtype(dtype).itemsize
    if t.data_location == 1:  # EXTERNAL
        info = {e.key: e.value for e in t.external_data}
        location = info.get("location", "")
        if not _plain_name(location) or location == own or location not in files:
            others = sorted(n for n in files if n != location)
            raise _err(source, f"initializer {name} keeps its data in {_show(location)}, which "
                               f"is not a file uploaded with it; upload the .onnx file and its "
                               f"data file (a plain name beside it) together"
                               + (f" (uploaded: {', '.join(map(_show, others))})." if others
                                  else "."))
        blob = files[location]
        try:
            offset = int(info.get("offset", "0"))
            length = int(info.get("length", str(size)))
        except ValueError:
            raise _err(source, f"initializer {name}: offset or length is not a number.") from None
        if length != size or offset < 0 or offset + length > len(blob):
            raise _err(source, f"initializer {name} declares shape {tuple(dims)} ({size:,} "
                               f"bytes) but its data in {_show(location)} is {length:,} bytes "
                               f"at offset {offset:,} of {len(blob):,}; the file does not fit "
                               f"its declaration.")
        a = np.frombuffer(blob, dtype=dtype, count=count, offset=offset)
    elif t.HasField("raw_data"):
        if len(t.raw_data) != size:
            raise _err(source, f"initializer {name} declares shape {tuple(dims)} ({size:,} "
                               f"bytes) but holds {len(t.raw_data):,} bytes.")
        a = np.frombuffer(t.raw_data, dtype=dtype, count=count)
    else:
        values = getattr(t, typed)
        if len(values) != count:
            raise _err(source, f"initializer {name} declares shape {tuple(dims)} ({count:,} "
                               f"numbers) but holds {len(values):,}.")
        if t.data_type == 10:  # float16 stored as the bits in int32_data
            a = np.asarray(values, dtype=np.uint16).view("<f2")
        else:
            a = np.asarray(values, dtype=dtype)
    out = a.reshape(dims)
    return out.astype(np.float32) if out.dtype.kind == "f" else out.astype(np.int64)


def _order(nodes: list[Any], known: set[str], output: str, source: str) -> list[Any]:
    """The nodes the output needs, in an order where each follows what it reads (Kahn);
    refuses cycles and values read before anything makes them."""
    made: dict[str, int] = {}
    for i, node in enumerate(nodes):
        for o in node.output:
            if o in made or o in known:
                raise _err(source, f"value {_show(o)} is made twice; the graph is malformed.")
            if o:
                made[o] = i
    for node in nodes:
        for x in node.input:
            if x and x not in made and x not in known:
                raise _err(source, f"node {_show(node.name or node.op_type)} reads "
                                   f"{_show(x)}, which nothing makes.")
    if output not in made and output not in known:
        raise _err(source, f"its output {_show(output)} is made by no node.")
    need: set[int] = set()
    stack = [made[output]] if output in made else []
    while stack:
        i = stack.pop()
        if i in need:
            continue
        need.add(i)
        stack.extend(made[x] for x in nodes[i].input if x in made)
    waiting = {i: sum(1 for x in set(nodes[i].input) if x in made and made[x] in need)
               for i in need}
    readers: dict[int, list[int]] = {}
    for i in need:
        for x in set(nodes[i].input):
            if x in made and made[x] in need:
                readers.setdefault(made[x], []).append(i)
    ready = sorted(i for i, n in waiting.items() if n == 0)
    order = []
    while ready:
        i = ready.pop(0)
        order.append(i)
        for j in sorted(readers.get(i, ())):
            waiting[j] -= 1
            if waiting[j] == 0:
                ready.append(j)
    if len(order) != len(need):
        raise _err(source, "its graph has a cycle (a node reads its own output); a network "
                           "runs from input to output.")
    return [nodes[i] for i in order]


# ---------------------------------------------------------------------------------------------
# Values while walking the graph
# ---------------------------------------------------------------------------------------------

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


def _attrs(node: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in node.attribute:
        if a.type == 1:
            out[a.name] = a.f
        elif a.type == 2:
            out[a.name] = a.i
        elif a.type == 3:
            out[a.name] = a.s.decode("utf-8", "replace")
        elif a.type == 6:
            out[a.name] = list(a.floats)
        elif a.type == 7:
            out[a.name] = list(a.ints)
        elif a.type == 4:
            out[a.name] = a.t
    return out


class _Walker:
    def __init__(self, files: Mapping[str, bytes], source: str) -> None:
        self.files, self.source = files, source
        self.budget = [MAX_VALUES]
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
        return _err(self.source, f"node {_show(node.name or node.op_type)} "
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
        if len(self.records) > card_reader.MAX_LAYERS:
            raise _err(self.source, f"more than {card_reader.MAX_LAYERS} layers; "
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
            a = _attrs(node)
            shape = shape[slice(a.get("start", 0), a.get("end"))]
            return self.out(node, np.asarray(shape, dtype=np.int64))
        if all(v is None or isinstance(v, np.ndarray) for v in ins) and ins:
            return self.out(node, np.asarray(self.fold(node, ins)))
        handler = getattr(self, f"op_{op}", None)
        if handler is None:
            raise self.fail(node, "is not supported on the network's data.")
        if op in ("Softmax", "LogSoftmax") and not final:
            raise self.fail(node, "a softmax is read only as the network's last step.")
        return handler(node)

    def onnx_shape(self, v: Val) -> tuple[int, ...]:
        """The ONNX shape of ``v`` (the batch as the input declares it, else 1: the shape
        arithmetic of Keras's and torch's exports then folds to constants)."""
        if v.pad is not None:
            raise _err(self.source, "the shape of a padded map is read; pad inside the Conv "
                                    "or pooling layer.")
        if v.kind == "map" and v.layout == "NHWC":
            return (self.batch, *v.shape[1:], v.shape[0])
        return (self.batch, *v.shape)

    def constant(self, node: Any) -> np.ndarray:
        a = _attrs(node)
        if "value" in a:
            return tensor_array(a["value"], {}, self.source, self.budget)
        for key, dtype in (("value_float", np.float32), ("value_int", np.int64),
                           ("value_floats", np.float32), ("value_ints", np.int64)):
            if key in a:
                return np.asarray(a[key], dtype=dtype)
        raise self.fail(node, "a constant of a kind this app does not read.")

    def fold(self, node: Any, ins: list[Any]) -> np.ndarray:
        """A node all of whose inputs are constants, computed (its result's size bounded)."""
        op, a = node.op_type, _attrs(node)
        x = ins[0]
        try:
            if op in ("Identity", "Dropout", "Cast"):
                if op == "Cast" and a.get("to") in (6, 7):
                    return x.astype(np.int64)
                return x.astype(np.float32) if op == "Cast" else x
            if op == "Reshape":
                shape = [int(d) for d in ins[1]]
                shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
                return x.reshape(shape)
            if op == "Transpose":
                return np.transpose(x, a.get("perm"))
            if op == "Unsqueeze":
                axes = a.get("axes") if len(ins) < 2 else [int(i) for i in ins[1]]
                for ax in sorted(int(i) % (x.ndim + len(axes)) for i in axes):
                    x = np.expand_dims(x, ax)
                return x
            if op == "Squeeze":
                axes = a.get("axes") if len(ins) < 2 or ins[1] is None else list(ins[1])
                return np.squeeze(x, tuple(int(i) for i in axes) if axes else None)
            if op == "Gather":
                return np.take(x, ins[1].astype(np.int64), axis=a.get("axis", 0))
            if op == "Concat":
                return np.concatenate([np.atleast_1d(v) for v in ins], axis=a.get("axis", 0))
            if op == "Flatten":
                ax = a.get("axis", 1)
                return x.reshape(math.prod(x.shape[:ax]), -1)
            if op in ("Add", "Sub", "Mul", "Div"):
                shape = np.broadcast_shapes(x.shape, ins[1].shape)
                self._spend(node, math.prod(shape))
                f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
                     "Div": np.divide}[op]
                if op == "Div" and x.dtype.kind == "i":
                    return x // ins[1]
                return f(x, ins[1])
            if op in ("Neg", "Sqrt", "Reciprocal"):
                return {"Neg": np.negative, "Sqrt": np.sqrt,
                        "Reciprocal": np.reciprocal}[op](x)
            if op == "ReduceProd":
                return np.asarray(np.prod(x, keepdims=bool(a.get("keepdims", 1))))
            if op == "Slice":
                starts, ends = ins[1].astype(int), ins[2].astype(int)
                axes = ins[3].astype(int) if len(ins) > 3 and ins[3] is not None \
                    else range(len(starts))
                steps = ins[4].astype(int) if len(ins) > 4 and ins[4] is not None \
                    else [1] * len(starts)
                index = [slice(None)] * x.ndim
                for s, e, ax, st in zip(starts, ends, axes, steps):
                    index[ax] = slice(int(s), int(max(min(e, 2**62), -2**62)), int(st))
                return x[tuple(index)]
            if op == "ConstantOfShape":
                shape = [int(d) for d in x]
                self._spend(node, math.prod(shape))
                value = tensor_array(a["value"], {}, self.source, self.budget) \
                    if "value" in a else np.zeros(1, np.float32)
                return np.full(shape, value.reshape(-1)[0], dtype=value.dtype)
            if op == "Range":
                n = int(max(math.ceil((float(ins[1]) - float(x)) / float(ins[2])), 0))
                self._spend(node, n)
                return np.arange(x, ins[1], ins[2])
        except card_reader.CardError:
            raise
        except (ValueError, TypeError, IndexError, ZeroDivisionError, OverflowError,
                KeyError, AttributeError) as exc:
            raise self.fail(node, f"its constants do not compute ({_show(str(exc))}).") \
                from None
        raise self.fail(node, "is not supported on constants.")

    def _spend(self, node: Any, count: int) -> None:
        self.budget[0] -= count
        if count < 0 or self.budget[0] < 0:
            raise self.fail(node, f"its constants would hold {count:,} numbers; more than "
                                  f"this server reads ({MAX_VALUES:,}).")

    def passthrough(self, node: Any) -> None:
        self.out(node, self.tensor(node))

    op_Identity = op_Dropout = op_Softmax = op_LogSoftmax = passthrough

    def op_Cast(self, node: Any) -> None:
        if _attrs(node).get("to", 1) not in (1, 10, 11):
            raise self.fail(node, "casts the network's data to a non-float type.")
        self.passthrough(node)

    def activation(self, node: Any, kind: str, extra: dict[str, Any] | None = None) -> None:
        v = self.tensor(node)
        if v.kind in ("img", "flatin"):
            raise self.fail(node, "an activation straight on the input is not supported.")
        rec = {"name": self.name(node, node.name or kind, kind), "type": kind, **(extra or {})}
        self.out(node, replace(v, src=self.emit(node, rec, [v])))

    def op_Relu(self, node: Any) -> None:
        self.activation(node, "relu")

    def op_Tanh(self, node: Any) -> None:
        self.activation(node, "tanh")

    def op_Sigmoid(self, node: Any) -> None:
        self.activation(node, "sigmoid")

    def op_LeakyRelu(self, node: Any) -> None:
        alpha = float(_attrs(node).get("alpha", 0.01))
        if not 0 <= alpha < 1:
            raise self.fail(node, f"a leaky ReLU slope of {alpha:g}; this app takes 0 to "
                                  f"below 1.")
        self.activation(node, "leakyrelu", {"negative_slope": alpha})

    def op_Conv(self, node: Any) -> None:
        a = _attrs(node)
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
        a = _attrs(node)
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
        a = _attrs(node)
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
            raise self.fail(node, f"pads {_show(pads)}; the same padding of height and width "
                                  f"is read.")
        if mode == "constant" and value in (0.0, -math.inf):
            kind = "zero" if value == 0 else "low"
        elif mode == "edge":
            kind = "edge"
        else:
            raise self.fail(node, f"padding mode {_show(mode)} (value {value:g}) is not read; "
                                  f"zeros, -inf or the edge are.")
        if v.pad is not None:
            raise self.fail(node, "two Pads in a row.")
        self.out(node, replace(v, pad=(pads[2], pads[6], kind)))

    def op_MaxPool(self, node: Any) -> None:
        self.pool(node, "maxpool")

    def op_AveragePool(self, node: Any) -> None:
        self.pool(node, "avgpool")

    def global_pool(self, node: Any, kind: str, keep: bool = True) -> None:
        v = self.image(node, self.tensor(node))
        if v.kind != "map":
            raise self.fail(node, "global pooling of a vector.")
        rec = {"name": self.name(node, node.name or kind, kind), "type": kind}
        name = self.emit(node, rec, [replace(v, layout="NCHW")])
        out = Val("map", name, (v.shape[0], 1, 1))
        self.out(node, out if keep else self.flatten(node, out))

    def op_GlobalAveragePool(self, node: Any) -> None:
        self.global_pool(node, "gap")

    def op_GlobalMaxPool(self, node: Any) -> None:
        self.global_pool(node, "gmp")

    def reduce(self, node: Any, kind: str) -> None:
        a = _attrs(node)
        v = self.tensor(node)
        axes = a.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = [int(i) for i in self.const(node, 1)]
        spatial = {2, 3} if v.layout == "NCHW" else {1, 2}
        if v.kind != "map" or axes is None or {int(i) % 4 for i in axes} != spatial:
            raise self.fail(node, "a reduction other than over the whole map.")
        self.global_pool(node, kind, bool(a.get("keepdims", 1)))

    def op_ReduceMean(self, node: Any) -> None:
        self.reduce(node, "gap")

    def op_ReduceMax(self, node: Any) -> None:
        self.reduce(node, "gmp")

    def op_BatchNormalization(self, node: Any) -> None:
        a = _attrs(node)
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

    def op_Gemm(self, node: Any) -> None:
        a = _attrs(node)
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

    def op_MatMul(self, node: Any) -> None:
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

    def arith(self, node: Any) -> None:
        op = node.op_type
        first, second = (self.values.get(x) for x in node.input[:2])
        if isinstance(first, Val) and isinstance(second, Val):
            if op != "Add":
                raise self.fail(node, f"{op} of two computed tensors; only Add joins them.")
            return self.join(node, "add", [first, second])
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
        if rec is not None and rec["type"] == "conv" and node.op_type == "Add" \
                and not rec["bias"]:
            rec["bias"] = True  # Keras's export adds a conv's bias after the transpose
            self.tensors[f"{rec['name']}.bias"] = ch.astype(np.float32)
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

    op_Add = op_Sub = op_Mul = op_Div = arith

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

    def op_Concat(self, node: Any) -> None:
        vs = [self.values.get(x) for x in node.input]
        if not all(isinstance(v, Val) for v in vs):
            raise self.fail(node, "a concat of computed tensors and constants.")
        axis = int(_attrs(node).get("axis", 1))
        want = 1 if vs[0].layout == "NCHW" else 3
        if axis % 4 != want:
            raise self.fail(node, "a concat along an axis other than the channels.")
        self.join(node, "concat", vs)

    def op_Transpose(self, node: Any) -> None:
        v = self.tensor(node)
        perm = list(_attrs(node).get("perm", []))
        if v.kind == "map" and perm == [0, 2, 3, 1] and v.layout == "NCHW":
            return self.out(node, replace(v, layout="NHWC"))
        if v.kind == "map" and perm == [0, 3, 1, 2] and v.layout == "NHWC":
            return self.out(node, replace(v, layout="NCHW"))
        if v.kind in ("vec", "flatin") and perm in ([0, 1], []):
            return self.out(node, v)
        raise self.fail(node, f"a transpose {perm} other than between NCHW and NHWC.")

    def op_Flatten(self, node: Any) -> None:
        if int(_attrs(node).get("axis", 1)) != 1:
            raise self.fail(node, "a flatten that keeps other than the batch axis.")
        self.out(node, self.flatten(node, self.tensor(node)))

    def op_Squeeze(self, node: Any) -> None:
        v = self.tensor(node)
        if v.kind == "map" and v.shape[1:] == (1, 1):
            return self.out(node, self.flatten(node, v))
        raise self.fail(node, "a squeeze other than of a 1x1 map.")

    def op_Unsqueeze(self, node: Any) -> None:
        v = self.tensor(node)
        axes = _attrs(node).get("axes")
        if axes is None:
            axes = [int(i) for i in self.const(node, 1)]
        if v.kind == "img" and len(axes) == 1 and int(axes[0]) % 4 in (1, 3):
            layout = "NCHW" if int(axes[0]) % 4 == 1 else "NHWC"
            return self.out(node, replace(v, kind="map", shape=(1, _SIDE, _SIDE), layout=layout))
        raise self.fail(node, "an unsqueeze other than a channel axis on the input.")

    def op_Reshape(self, node: Any) -> None:
        self.reshape(node, self.tensor(node), self.const(node, 1).astype(np.int64))

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
        if v.kind == "map" and tuple(rest) == (v.shape if v.layout == "NCHW"
                                               else (*v.shape[1:], v.shape[0])):
            return self.out(node, v)
        raise self.fail(node, f"a reshape to {dims} other than a flatten.")


# ---------------------------------------------------------------------------------------------
# The reader
# ---------------------------------------------------------------------------------------------

def _input_val(value: Any, source: str) -> tuple[Val, str]:
    t = value.type
    if not t.HasField("tensor_type") or t.tensor_type.elem_type not in (1, 10, 11):
        raise _err(source, f"its input {_show(value.name)} is not a float tensor; this app's "
                           f"networks read one 28x28 grayscale image.")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in t.tensor_type.shape.dim]
    rest = dims[1:]
    shown = "x".join("N" if d is None else str(d) for d in dims)
    if rest == [1, _SIDE, _SIDE]:
        return Val("map", INPUT, (1, _SIDE, _SIDE)), "NCHW"
    if rest == [_SIDE, _SIDE, 1]:
        return Val("map", INPUT, (1, _SIDE, _SIDE), layout="NHWC"), "NHWC"
    if rest == [_SIDE, _SIDE]:
        return Val("img", INPUT, (_SIDE, _SIDE)), "NHW"
    if rest == [_SIDE * _SIDE]:
        return Val("flatin", INPUT, (_SIDE * _SIDE,)), "flat"
    raise _err(source, f"its input {_show(value.name)} is {shown or 'a scalar'}; this app's "
                       f"networks read one 28x28 grayscale image: [N,1,28,28] (NCHW), "
                       f"[N,28,28,1] (NHWC), [N,28,28] or [N,784].")


def read_onnx(files: Mapping[str, bytes], name: str) -> ImportedNetwork:
    """The network of the ONNX file ``files[name]`` (the other files: its external data, by
    plain name). Raises :class:`viz.network.card.CardError` with a one-line message."""
    source = name
    model = parse(files[name], source)
    _check_structure(model, source)
    g = model.graph
    walker = _Walker(files, source)
    for t in g.initializer:
        walker.values[t.name] = tensor_array(t, files, source, walker.budget, name)
    inputs = [v for v in g.input if v.name not in walker.values]
    if len(inputs) != 1:
        raise _err(source, f"{len(inputs)} inputs; this app's networks read one image.")
    if len(g.output) != 1:
        raise _err(source, f"{len(g.output)} outputs; this app's networks give one set of "
                           f"10 class scores.")
    val, layout = _input_val(inputs[0], source)
    batch = inputs[0].type.tensor_type.shape.dim[0]
    walker.batch = max(1, min(int(batch.dim_value), 1 << 16)) if batch.HasField("dim_value") \
        else 1
    walker.values[inputs[0].name] = val
    output = g.output[0].name
    nodes = _order(list(g.node), set(walker.values), output, source)
    for node in nodes:
        for x in set(node.input):
            if x:
                walker.readers[x] = walker.readers.get(x, 0) + 1
    for node in nodes:
        walker.run(node, final=node is nodes[-1])
    result = walker.values.get(output)
    if not isinstance(result, Val) or result.src == INPUT or not walker.records:
        raise _err(source, "its output is not computed from the image by any layer.")
    if result.src != walker.records[-1]["name"]:
        raise _err(source, "its output is not the last layer computed.")
    shape = walker.shapes[result.src]
    if shape not in ((10,), (10, 1, 1)):
        shown = "x".join(map(str, shape))
        raise _err(source, f"its output has {shown} values; a digit classifier here gives 10, "
                           f"one per class.")
    if result.perm is not None:
        raise _err(source, "its output is in a transposed order.")
    card_reader.check_finite(walker.tensors, source)
    producer = f"{model.producer_name} {model.producer_version}".strip()
    inside = None
    if walker.inside is not None:  # x * a + b on 0..255 pixels: (x/255 - m)/s
        a, b = walker.inside
        inside = (-b / (255.0 * a), 1.0 / (255.0 * a))
    return ImportedNetwork(walker.records, walker.tensors, layout, source, "onnx",
                           inside, producer)


__all__ = ["MAX_FILE_BYTES", "MAX_NODES", "OPS", "read_onnx"]
