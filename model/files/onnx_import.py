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
variance), or per-channel Mul/Add (Keras's BatchNorm); Relu, LeakyRelu, PRelu (one slope, or one per
channel), Elu (alpha 1), Tanh, Sigmoid; MaxPool,
AveragePool, GlobalAveragePool, GlobalMaxPool (and ReduceMean/ReduceMax over the map); Add and
Concat (joins); Flatten, or Reshape/Squeeze to a vector, with the NHWC order of a transposed map
folded into the next dense layer's weights; Transpose (the map's layout), or a Reshape moving
only axes of length 1 (TensorFlow's [N,28,28,1] to [N,1,28,28]); Dropout, Identity, Cast; a
final Softmax or LogSoftmax, copies after it allowed (the app takes the softmax of the logits). A scalar Mul,
Div, Add or Sub on the input becomes the network's own input scaling.

The reader's modules, by job: :mod:`model.files.onnx_reader.wire` (the graph's counts on the wire
format, before parsing) and :mod:`model.files.onnx_reader.read` (the file, its checks and the tensors'
bounds), :mod:`model.files.onnx_reader.ops` (the op table, one record per op),
:mod:`model.files.onnx_reader.fold` (constants computed, each result's size charged first),
:mod:`model.files.onnx_reader.walk` and :mod:`model.files.onnx_reader.layers` (the layer records). Every
tensor made is charged to one :class:`model.files.budget.Budget` per file.

Every problem raises :class:`viz.network.card.CardError` with a one-line message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from model.files.budget import MAX_VALUES, Budget
from model.files.imported import ImportedNetwork
from model.files.onnx_reader.layers import Val
from model.files.onnx_reader.ops import LAYER_OPS, OPS, SHAPE_OPS, TABLE
from model.files.onnx_reader.read import (
    MAX_FILE_BYTES,
    MAX_INITIALIZERS,
    MAX_NODES,
    check_structure,
    err,
    order,
    parse,
    show,
    tensor_array,
)
from model.files.onnx_reader.walk import Walker
from viz.network import card as card_reader
from viz.network.layers import INPUT

_SIDE = 28
_COPIES = ("Identity", "Dropout")  # steps that pass their input on unchanged

def _input_val(value: Any, source: str) -> tuple[Val, str]:
    t = value.type
    if not t.HasField("tensor_type") or t.tensor_type.elem_type not in (1, 10, 11):
        raise err(source, f"its input {show(value.name)} is not a float tensor; this app's "
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
    raise err(source, f"its input {show(value.name)} is {shown or 'a scalar'}; this app's "
                       f"networks read one 28x28 grayscale image: [N,1,28,28] (NCHW), "
                       f"[N,28,28,1] (NHWC), [N,28,28] or [N,784].")


def read_onnx(files: Mapping[str, bytes], name: str, max_bytes: int = MAX_FILE_BYTES,
              max_values: int = MAX_VALUES) -> ImportedNetwork:
    """The network of the ONNX file ``files[name]``.

    Args:
        files: the file and those uploaded with it (its external data, by plain name).
        name: the ONNX file's name in ``files``.
        max_bytes: the largest .onnx file read (default: the upload box's limit).
        max_values: the numbers all tensors made from the file may hold (default: the
            checkpoints' limit, :data:`viz.limits.FILE_VALUES`).
    Returns:
        The layer records and tensors found.
    Raises:
        viz.network.card.CardError: with a one-line message, for any file refused.
    """
    source = name
    model = parse(files[name], source, max_bytes)
    check_structure(model, source)
    g = model.graph
    walker = Walker(files, source, Budget(source, max_values))
    for t in g.initializer:
        walker.values[t.name] = tensor_array(t, files, source, walker.budget, name)
    inputs = [v for v in g.input if v.name not in walker.values]
    if len(inputs) != 1:
        raise err(source, f"{len(inputs)} inputs; this app's networks read one image.")
    if len(g.output) != 1:
        raise err(source, f"{len(g.output)} outputs; this app's networks give one set of "
                           f"10 class scores.")
    val, layout = _input_val(inputs[0], source)
    batch = inputs[0].type.tensor_type.shape.dim[0]
    walker.batch = max(1, min(int(batch.dim_value), 1 << 16)) if batch.HasField("dim_value") \
        else 1
    walker.values[inputs[0].name] = val
    output = g.output[0].name
    nodes = order(list(g.node), set(walker.values), output, source)
    for node in nodes:
        for x in set(node.input):
            if x:
                walker.readers[x] = walker.readers.get(x, 0) + 1
    # the last step that computes: a softmax there may be followed by copies (tf2onnx's Identity)
    last = next((n for n in reversed(nodes) if n.op_type not in _COPIES), None)
    for node in nodes:
        walker.run(node, final=node is last)
    result = walker.values.get(output)
    if not isinstance(result, Val) or result.src == INPUT or not walker.records:
        raise err(source, "its output is not computed from the image by any layer.")
    if result.src != walker.records[-1]["name"]:
        raise err(source, "its output is not the last layer computed.")
    shape = walker.shapes[result.src]
    if shape not in ((10,), (10, 1, 1)):
        shown = "x".join(map(str, shape))
        raise err(source, f"its output has {shown} values; a digit classifier here gives 10, "
                           f"one per class.")
    if result.perm is not None:
        raise err(source, "its output is in a transposed order.")
    card_reader.check_finite(walker.tensors, source)
    producer = f"{model.producer_name} {model.producer_version}".strip()
    inside = None
    if walker.inside is not None:  # x * a + b on 0..255 pixels: (x/255 - m)/s
        a, b = walker.inside
        inside = (-b / (255.0 * a), 1.0 / (255.0 * a))
    return ImportedNetwork(walker.records, walker.tensors, layout, source, "onnx",
                           inside, producer)


__all__ = ["LAYER_OPS", "MAX_FILE_BYTES", "MAX_INITIALIZERS", "MAX_NODES", "MAX_VALUES", "OPS",
           "SHAPE_OPS", "TABLE", "parse", "read_onnx", "tensor_array"]
