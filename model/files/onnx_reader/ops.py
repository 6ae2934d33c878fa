"""The ONNX ops this app reads, one record each: what the op is to the reader, the walker's
method that turns it into (or folds it into) a layer record, and, for an op that may compute on
constants, the pair of functions that gives its output shape (charged to the file's budget
first) and computes it (:mod:`model.files.onnx_reader.fold`).

The ops read as a layer type come from the type's entry (``LayerType.onnx`` in
:mod:`viz.network.layertypes`): each is read by its type's handler (:data:`TYPE_HANDLERS`, the
walker's method named after the type; a type of no options and no weights, such as ReLU, needs
none). The rest are the reader's own: the ops of the network's structure (a transpose, a pad, a
bias or scale folded into the layer before) and the shape arithmetic on constants. The file
check (:mod:`model.files.onnx_reader.read`) and the walker read them from :data:`TABLE`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from model.files.onnx_reader import fold as f
from viz.network.layertypes import LAYER_TYPE_LIST

Fold = tuple[Callable[[list[Any], dict[str, Any]], tuple[int, ...]],
             Callable[[list[Any], dict[str, Any]], Any]]


@dataclass(frozen=True)
class Op:
    """One ONNX op. ``role``: "layer" (becomes or folds into a layer record) or "shape" (shape
    arithmetic on constants only); ``handler``: the walker's method for the op on the network's
    data (None: constants only), called with the node and, for an op of a layer type, the
    type's name (``kind``); ``shape`` and ``compute``: its output shape from its inputs and its
    computation when all its inputs are constants (None: never folded)."""

    name: str
    role: str
    handler: str | None = None
    shape: Callable[[list[Any], dict[str, Any]], tuple[int, ...]] | None = None
    compute: Callable[[list[Any], dict[str, Any]], Any] | None = None
    kind: str | None = None  # the layer type it is read as (None: the reader's own op)


# The walker's method reading each layer type's ops where the type has options or weights (or
# its ops more than one node shape); the others are read by "plain" (the record of the type
# alone). Adding a type: its entry, plus here its handler when it has options or weights.
TYPE_HANDLERS: dict[str, str] = {
    "conv": "conv", "bn": "batchnorm", "leakyrelu": "leakyrelu", "prelu": "prelu", "elu": "elu",
    "maxpool": "pool", "avgpool": "pool", "gap": "global_op", "gmp": "global_op",
    "flatten": "flatten_op", "linear": "linear", "add": "arith", "concat": "op_Concat"}
PLAIN = "plain"

# what an op computes on constants alone (None: its inputs must be the network's data)
_FOLDS: dict[str, Fold] = {
    "Add": (f.broadcast_shape, f.c_add), "Sub": (f.broadcast_shape, f.c_sub),
    "Mul": (f.broadcast_shape, f.c_mul), "Div": (f.broadcast_shape, f.c_div),
    "Concat": (f.concat_shape, f.c_concat), "Flatten": (f.flatten_shape, f.c_flatten),
    "Reshape": (f.reshape_shape, f.c_reshape), "Squeeze": (f.squeeze_shape, f.c_squeeze),
    "Unsqueeze": (f.unsqueeze_shape, f.c_unsqueeze),
    "Transpose": (f.transpose_shape, f.c_transpose),
    "Dropout": (f.same_shape, f.c_identity), "Identity": (f.same_shape, f.c_identity),
    "Cast": (f.same_shape, f.c_cast)}


def _typed(op: str, kind: str, plain: bool) -> Op:
    if kind not in TYPE_HANDLERS and not plain:
        raise RuntimeError(f"layer type {kind!r} has options or weights but no ONNX handler "
                           f"in TYPE_HANDLERS")
    return Op(op, "layer", TYPE_HANDLERS.get(kind, PLAIN), *_FOLDS.get(op, (None, None)),
              kind=kind)


def _own(name: str, handler: str) -> Op:
    return Op(name, "layer", handler, *_FOLDS.get(name, (None, None)))


def _shape(name: str, shape: Any, compute: Any) -> Op:
    return Op(name, "shape", None, shape, compute)


# the ops of the layer types, in the entries' order
TYPED: dict[str, Op] = {op: _typed(op, t.name, not t.options and t.role == "keep")
                        for t in LAYER_TYPE_LIST for op in t.onnx}
TABLE: dict[str, Op] = {**TYPED, **{op.name: op for op in (
    # the network's structure: a bias or scale folded into the layer before, the input's own
    # scaling, the layout, a pad taken in by the next layer, and steps that change nothing
    _own("Sub", "arith"), _own("Mul", "arith"), _own("Div", "arith"),
    _own("Squeeze", "op_Squeeze"), _own("Unsqueeze", "op_Unsqueeze"),
    _own("Transpose", "op_Transpose"), _own("Dropout", "passthrough"),
    _own("Identity", "passthrough"), _own("Cast", "op_Cast"), _own("Softmax", "passthrough"),
    _own("LogSoftmax", "passthrough"), _own("Pad", "op_Pad"),
    Op("Constant", "shape"),  # read by the walker (its tensor charged like an initializer)
    Op("Shape", "shape"),  # of the network's data or a constant: at most 9 numbers
    _shape("Gather", f.gather_shape, f.c_gather),
    _shape("Slice", f.slice_shape, f.c_slice),
    _shape("ConstantOfShape", f.constant_of_shape_shape, f.c_constant_of_shape),
    _shape("Neg", f.same_shape, f.c_neg),
    _shape("Sqrt", f.same_shape, f.c_sqrt),
    _shape("Reciprocal", f.same_shape, f.c_reciprocal),
    _shape("ReduceProd", f.reduce_shape, f.c_reduce_prod),
    _shape("Range", f.range_shape, f.c_range),
    _shape("Tile", f.tile_shape, f.c_tile),
    _shape("Expand", f.expand_shape, f.c_expand),
) if op.name not in TYPED}}
LAYER_OPS = tuple(name for name, op in TABLE.items() if op.role == "layer")
SHAPE_OPS = tuple(name for name, op in TABLE.items() if op.role == "shape")
OPS = frozenset(TABLE)
CONTROL = ("If", "Loop", "Scan", "SequenceMap")

__all__ = ["CONTROL", "LAYER_OPS", "OPS", "PLAIN", "SHAPE_OPS", "TABLE", "TYPED",
           "TYPE_HANDLERS", "Op"]
