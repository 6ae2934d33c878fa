"""The ONNX ops this app reads, one record each: what the op is to the reader, the walker's
method that turns it into (or folds it into) a layer record, and, for an op that may compute on
constants, the pair of functions that gives its output shape (charged to the file's budget
first) and computes it (:mod:`model.files.onnx_fold`). Adding an op is one record in
:data:`TABLE`; the file check (:mod:`model.files.onnx_read`) and the walker read it from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from model.files import onnx_fold as f


@dataclass(frozen=True)
class Op:
    """One ONNX op. ``role``: "layer" (becomes or folds into a layer record) or "shape" (shape
    arithmetic on constants only); ``handler``: the walker's method for the op on the network's
    data (None: constants only); ``shape`` and ``compute``: its output shape from its inputs and
    its computation when all its inputs are constants (None: never folded)."""

    name: str
    role: str
    handler: str | None = None
    shape: Callable[[list[Any], dict[str, Any]], tuple[int, ...]] | None = None
    compute: Callable[[list[Any], dict[str, Any]], Any] | None = None


def _layer(name: str, handler: str, shape: Any = None, compute: Any = None) -> Op:
    return Op(name, "layer", handler, shape, compute)


def _shape(name: str, shape: Any, compute: Any) -> Op:
    return Op(name, "shape", None, shape, compute)


_ARITH = {"Add": f.c_add, "Sub": f.c_sub, "Mul": f.c_mul, "Div": f.c_div}
TABLE: dict[str, Op] = {op.name: op for op in (
    _layer("Conv", "op_Conv"),
    _layer("Gemm", "op_Gemm"),
    _layer("MatMul", "op_MatMul"),
    _layer("BatchNormalization", "op_BatchNormalization"),
    _layer("Relu", "op_Relu"),
    _layer("LeakyRelu", "op_LeakyRelu"),
    _layer("Tanh", "op_Tanh"),
    _layer("Sigmoid", "op_Sigmoid"),
    _layer("MaxPool", "op_MaxPool"),
    _layer("AveragePool", "op_AveragePool"),
    _layer("GlobalAveragePool", "op_GlobalAveragePool"),
    _layer("GlobalMaxPool", "op_GlobalMaxPool"),
    _layer("ReduceMean", "op_ReduceMean"),
    _layer("ReduceMax", "op_ReduceMax"),
    *(_layer(name, "arith", f.broadcast_shape, c) for name, c in _ARITH.items()),
    _layer("Concat", "op_Concat", f.concat_shape, f.c_concat),
    _layer("Flatten", "op_Flatten", f.flatten_shape, f.c_flatten),
    _layer("Reshape", "op_Reshape", f.reshape_shape, f.c_reshape),
    _layer("Squeeze", "op_Squeeze", f.squeeze_shape, f.c_squeeze),
    _layer("Unsqueeze", "op_Unsqueeze", f.unsqueeze_shape, f.c_unsqueeze),
    _layer("Transpose", "op_Transpose", f.transpose_shape, f.c_transpose),
    _layer("Dropout", "passthrough", f.same_shape, f.c_identity),
    _layer("Identity", "passthrough", f.same_shape, f.c_identity),
    _layer("Cast", "op_Cast", f.same_shape, f.c_cast),
    _layer("Softmax", "passthrough"),
    _layer("LogSoftmax", "passthrough"),
    _layer("Pad", "op_Pad"),
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
)}
LAYER_OPS = tuple(name for name, op in TABLE.items() if op.role == "layer")
SHAPE_OPS = tuple(name for name, op in TABLE.items() if op.role == "shape")
OPS = frozenset(TABLE)
CONTROL = ("If", "Loop", "Scan", "SequenceMap")

__all__ = ["CONTROL", "LAYER_OPS", "OPS", "Op", "SHAPE_OPS", "TABLE"]
