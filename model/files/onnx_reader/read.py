"""Reading an ONNX file and its bounds: the size and the graph's counts before parsing (a scan
of the protobuf wire format, :mod:`model.files.onnx_reader.wire`), then the parse, the checks on the
whole file (op domains and types against :mod:`model.files.onnx_reader.ops`, no control flow, subgraphs
or functions), every initializer's declared size against its data and against the file's one
:class:`model.files.budget.Budget` before it is read, and the graph's order (no cycle).

Every problem raises :class:`viz.network.card.CardError` with a one-line message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from model.files.budget import MAX_DIMS, Budget, shape_size
from model.files.onnx_reader.ops import CONTROL, OPS, TYPED
from model.files.onnx_reader.wire import WireError, count_graph
from viz.limits import ONNX_FILE_BYTES, ONNX_INITIALIZERS, ONNX_NODES, ONNX_VALUE_INFOS
from viz.network import card as card_reader

MAX_FILE_BYTES = ONNX_FILE_BYTES  # the names the ONNX reader's callers import
MAX_NODES = ONNX_NODES
MAX_INITIALIZERS = ONNX_INITIALIZERS

# onnx TensorProto data types we read: code -> (numpy dtype, the typed field holding the data)
_DTYPES = {1: ("<f4", "float_data"), 11: ("<f8", "double_data"), 10: ("<f2", "int32_data"),
           7: ("<i8", "int64_data"), 6: ("<i4", "int32_data"), 9: ("?", "int32_data")}
_BAD = ("not an ONNX model, or the file was cut short. Export it again with "
        "torch.onnx.export(...) and upload the .onnx file (and its .onnx.data).")


def err(source: str, message: str) -> card_reader.CardError:
    """The reader's error: ``source: message``."""
    return card_reader.CardError(f"{source}: {message}")


def show(text: Any) -> str:
    """A hostile name, cut short for a message."""
    return card_reader.show(text, 60)


def parse(data: bytes, source: str, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """The ModelProto of ``data``, refused when it is not ONNX, cut short, over ``max_bytes``,
    or holds more nodes or initializers than this server reads (counted on the wire format,
    before anything is parsed).

    Args:
        data: the file's bytes.
        source: its name, for messages.
        max_bytes: the largest file read (default: the upload box's limit).
    Returns:
        The parsed ``onnx.ModelProto``.
    """
    if len(data) > max_bytes:
        raise err(source, f"{len(data):,} bytes; this server takes ONNX files of up to "
                          f"{max_bytes:,} bytes ({card_reader.LIMITS}). Keep the weights in an "
                          f".onnx.data file uploaded with it.")
    if len(data) < 8 or data[:2] in (b"PK", b"\x89H", b"\x80\x02") or data[:1] == b"{":
        raise err(source, _BAD)
    limits = {"nodes": MAX_NODES, "initializers": MAX_INITIALIZERS, "sparse initializers": 0,
              "inputs": ONNX_VALUE_INFOS, "outputs": ONNX_VALUE_INFOS,
              "value declarations": ONNX_VALUE_INFOS}
    try:
        counts = count_graph(data, limits)
    except WireError:
        raise err(source, _BAD) from None
    for what, most in limits.items():
        if counts[what] > most:
            if what == "sparse initializers":
                raise err(source, "sparse initializers are not supported.")
            raise err(source, f"more than {most:,} {what} in its graph; this server takes "
                              f"graphs of up to {MAX_NODES:,} nodes and {MAX_INITIALIZERS:,} "
                              f"initializers ({card_reader.LIMITS}). Export the network "
                              f"alone, with its weights as a few initializers per layer.")
    import onnx
    from google.protobuf.message import DecodeError

    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError, TypeError):
        raise err(source, _BAD) from None
    if not model.HasField("graph") or model.ir_version <= 0 or not model.graph.output:
        raise err(source, _BAD)
    return model


def check_structure(model: Any, source: str) -> None:
    g = model.graph
    if len(g.node) > MAX_NODES:
        raise err(source, f"{len(g.node):,} nodes; this server takes graphs of up to "
                           f"{MAX_NODES:,} nodes ({card_reader.LIMITS}).")
    if len(model.functions):
        raise err(source, f"it defines its own functions ({show(model.functions[0].name)}); "
                           f"export with inlined functions (the default of torch.onnx.export).")
    if len(g.sparse_initializer):
        raise err(source, "sparse initializers are not supported.")
    for node in g.node:
        where = f"node {show(node.name or node.op_type)}"
        if node.domain not in ("", "ai.onnx"):
            raise err(source, f"{where} uses the custom op domain {show(node.domain)} "
                               f"({show(node.op_type)}); only standard ONNX ops are read.")
        if node.op_type in CONTROL or any(a.type in (5, 10) or a.HasField("g") or len(a.graphs)
                                          for a in node.attribute):
            raise err(source, f"{where}: control flow or subgraphs ({show(node.op_type)}) "
                               f"are not supported; a CNN needs none.")
        if node.op_type not in OPS:
            raise err(source, f"{where}: op {show(node.op_type)} is not supported; this "
                               f"app reads {', '.join(TYPED)}, Sub, Mul, Div and the "
                               f"shape arithmetic of a flatten.")


def _plain_name(location: str) -> bool:
    return (0 < len(location) <= 255 and "/" not in location and "\\" not in location
            and location not in (".", "..") and ":" not in location and "\x00" not in location)


def tensor_array(t: Any, files: Mapping[str, bytes], source: str, budget: Budget,
                 own: str = "", kind: str = "initializer") -> np.ndarray:
    """A TensorProto's numbers, its declared size checked against its data and charged to the
    file's budget before they are read.

    Args:
        t: the TensorProto.
        files: the files uploaded with it (external data by plain name).
        source: the file's name.
        budget: the file's budget, charged the tensor's declared size.
        own: the .onnx file's own name (never its own external data).
        kind: what the message calls it ("initializer", "constant").
    Returns:
        float32 (any float) or int64 (any integer, bool) array of the declared shape.
    """
    name = show(t.name)
    if t.data_type not in _DTYPES:
        raise err(source, f"{kind} {name} has ONNX data type {t.data_type}; float32, "
                          f"float64, float16, int64, int32 and bool are read.")
    dims = list(t.dims)
    if len(dims) > MAX_DIMS or any(d < 0 or d > 2**31 for d in dims):
        raise err(source, f"{kind} {name} declares the shape {show(dims)}.")
    count = shape_size(dims, source, f"{kind} {name}")
    budget.charge(count, f"{kind} {name}")
    dtype, typed = _DTYPES[t.data_type]
    size = count * np.dtype(dtype).itemsize
    if t.data_location == 1:  # EXTERNAL
        info = {e.key: e.value for e in t.external_data}
        location = info.get("location", "")
        if not _plain_name(location) or location == own or location not in files:
            others = sorted(n for n in files if n != location)
            raise err(source, f"initializer {name} keeps its data in {show(location)}, which "
                               f"is not a file uploaded with it; upload the .onnx file and its "
                               f"data file (a plain name beside it) together"
                               + (f" (uploaded: {', '.join(map(show, others))})." if others
                                  else "."))
        blob = files[location]
        try:
            offset = int(info.get("offset", "0"))
            length = int(info.get("length", str(size)))
        except ValueError:
            raise err(source, f"initializer {name}: offset or length is not a number.") from None
        if length != size or offset < 0 or offset + length > len(blob):
            raise err(source, f"initializer {name} declares shape {tuple(dims)} ({size:,} "
                               f"bytes) but its data in {show(location)} is {length:,} bytes "
                               f"at offset {offset:,} of {len(blob):,}; the file does not fit "
                               f"its declaration.")
        a = np.frombuffer(blob, dtype=dtype, count=count, offset=offset)
    elif t.HasField("raw_data"):
        if len(t.raw_data) != size:
            raise err(source, f"initializer {name} declares shape {tuple(dims)} ({size:,} "
                               f"bytes) but holds {len(t.raw_data):,} bytes.")
        a = np.frombuffer(t.raw_data, dtype=dtype, count=count)
    else:
        values = getattr(t, typed)
        if len(values) != count:
            raise err(source, f"initializer {name} declares shape {tuple(dims)} ({count:,} "
                               f"numbers) but holds {len(values):,}.")
        if t.data_type == 10:  # float16 stored as the bits in int32_data
            a = np.asarray(values, dtype=np.uint16).view("<f2")
        else:
            a = np.asarray(values, dtype=dtype)
    out = a.reshape(dims)
    return out.astype(np.float32) if out.dtype.kind == "f" else out.astype(np.int64)


def order(nodes: list[Any], known: set[str], output: str, source: str) -> list[Any]:
    """The nodes the output needs, in an order where each follows what it reads (Kahn);
    refuses cycles and values read before anything makes them."""
    made: dict[str, int] = {}
    for i, node in enumerate(nodes):
        for o in node.output:
            if o in made or o in known:
                raise err(source, f"value {show(o)} is made twice; the graph is malformed.")
            if o:
                made[o] = i
    for node in nodes:
        for x in node.input:
            if x and x not in made and x not in known:
                raise err(source, f"node {show(node.name or node.op_type)} reads "
                                   f"{show(x)}, which nothing makes.")
    if output not in made and output not in known:
        raise err(source, f"its output {show(output)} is made by no node.")
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
        raise err(source, "its graph has a cycle (a node reads its own output); a network "
                           "runs from input to output.")
    return [nodes[i] for i in order]



def attrs(node: Any) -> dict[str, Any]:
    """A node's attributes as {name: float, int, str, list or TensorProto}."""
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


__all__ = ["MAX_FILE_BYTES", "MAX_INITIALIZERS", "MAX_NODES", "attrs", "check_structure", "err",
           "order", "parse", "show", "tensor_array"]
