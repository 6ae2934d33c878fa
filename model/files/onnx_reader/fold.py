"""Folding the constant parts of an ONNX graph (the shape arithmetic of a flatten, Keras's
constants) with every result's size known first.

Each foldable op has two functions here: its output shape from its inputs' shapes (and the few
small values that set a shape: a Reshape's target, a Tile's repeats, a Range's bounds), and its
computation. :func:`fold` asks the first, charges the size to the file's
:class:`model.files.budget.Budget`, and only then runs the second, so a Gather of 500 zero
indices over a million numbers, or a Concat of one constant listed 500 times, is refused from
shapes alone. The op table (:mod:`model.files.onnx_reader.ops`) names each op's pair.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from model.files.budget import MAX_DIMS, Budget
from viz.network.card import CardError

Shape = tuple[int, ...]
Ins = list[Any]  # numpy arrays, or None for an input left out


class FoldError(ValueError):
    """The constants do not compute (a message for the node's refusal)."""


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise FoldError(message)


def _ints(a: Any, what: str, most: int = MAX_DIMS) -> list[int]:
    """A small integer tensor's values (a shape, axes, repeats), its length bounded first."""
    arr = np.asarray(a)
    _need(arr.size <= most, f"{what} holds {arr.size:,} numbers")
    return [int(v) for v in arr.reshape(-1)]


def _axis(axis: int, rank: int) -> int:
    _need(-rank <= axis < max(rank, 1), f"axis {axis} of a rank-{rank} tensor")
    return axis % max(rank, 1)


def _rank(shape: Shape) -> Shape:
    _need(len(shape) <= MAX_DIMS, f"rank {len(shape)} over {MAX_DIMS}")
    return shape


# -- output shapes, before anything is computed ---------------------------------------------

def same_shape(ins: Ins, a: dict[str, Any]) -> Shape:
    return tuple(ins[0].shape)


def reshape_shape(ins: Ins, a: dict[str, Any]) -> Shape:
    x = ins[0]
    dims = _ints(ins[1], "a reshape's target")
    dims = [x.shape[i] if d == 0 and i < x.ndim else d for i, d in enumerate(dims)]
    _need(dims.count(-1) <= 1 and all(d >= -1 for d in dims), f"a reshape to {dims}")
    known = math.prod(d for d in dims if d != -1)
    if -1 in dims:
        _need(known > 0 and x.size % known == 0, f"a reshape of {x.size} numbers to {dims}")
        dims = [x.size // known if d == -1 else d for d in dims]
    _need(math.prod(dims) == x.size, f"a reshape of {x.size} numbers to {dims}")
    return tuple(dims)


def transpose_shape(ins: Ins, a: dict[str, Any]) -> Shape:
    x = ins[0]
    perm = a.get("perm") or list(range(x.ndim))[::-1]
    _need(sorted(perm) == list(range(x.ndim)), f"a transpose {perm} of rank {x.ndim}")
    return tuple(x.shape[p] for p in perm)


def unsqueeze_shape(ins: Ins, a: dict[str, Any]) -> Shape:
    axes = a.get("axes") if len(ins) < 2 or ins[1] is None else _ints(ins[1], "axes")
    _need(axes is not None, "an unsqueeze without axes")
    return _rank((*ins[0].shape, *[1] * len(axes)))  # the count is unchanged


def squeeze_shape(ins: Ins, a: dict[str, Any]) -> Shape:
    return tuple(ins[0].shape)  # the count is unchanged (or smaller)


def gather_shape(ins: Ins, a: dict[str, Any]) -> Shape:
    x, idx = ins[0], ins[1]
    ax = _axis(int(a.get("axis", 0)), x.ndim)
    return _rank(tuple(x.shape[:ax]) + tuple(idx.shape) + tuple(x.shape[ax + 1:]))


def concat_shape(ins: Ins, a: dict[str, Any]) -> Shape:
    shapes = [np.shape(np.atleast_1d(v)) if v.ndim == 0 else v.shape for v in ins]
    rank = len(shapes[0])
    ax = _axis(int(a.get("axis", 0)), rank)
    _need(all(len(s) == rank and s[:ax] + s[ax + 1:] == shapes[0][:ax] + shapes[0][ax + 1:]
              for s in shapes), "a concat of tensors of different shapes")
    return (*shapes[0][:ax], sum(s[ax] for s in shapes), *shapes[0][ax + 1:])


def flatten_shape(ins: Ins, a: dict[str, Any]) -> Shape:
    x = ins[0]
    ax = int(a.get("axis", 1))
    _need(0 <= ax <= x.ndim, f"a flatten at axis {ax}")
    return (math.prod(x.shape[:ax]), math.prod(x.shape[ax:]))


def broadcast_shape(ins: Ins, a: dict[str, Any]) -> Shape:
    return _rank(tuple(np.broadcast_shapes(ins[0].shape, ins[1].shape)))


def reduce_shape(ins: Ins, a: dict[str, Any]) -> Shape:
    return (1,) * ins[0].ndim if a.get("keepdims", 1) else ()


def slice_shape(ins: Ins, a: dict[str, Any]) -> Shape:
    x = ins[0]
    starts, ends = _ints(ins[1], "starts"), _ints(ins[2], "ends")
    axes = _ints(ins[3], "axes") if len(ins) > 3 and ins[3] is not None \
        else list(range(len(starts)))
    steps = _ints(ins[4], "steps") if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    _need(len(starts) == len(ends) == len(axes) == len(steps), "slice inputs of unequal length")
    shape = list(x.shape)
    for s, e, ax, st in zip(starts, ends, axes, steps):
        _need(st != 0, "a slice step of 0")
        ax = _axis(ax, x.ndim)
        shape[ax] = len(range(*slice(s, max(min(e, 2**62), -2**62), st).indices(x.shape[ax])))
    return tuple(shape)


def constant_of_shape_shape(ins: Ins, a: dict[str, Any]) -> Shape:
    return _rank(tuple(_ints(ins[0], "a shape")))


def range_shape(ins: Ins, a: dict[str, Any]) -> Shape:
    start, limit, delta = (float(np.asarray(v).reshape(-1)[0]) for v in ins[:3])
    _need(delta != 0 and all(map(math.isfinite, (start, limit, delta))), "a range's bounds")
    return (max(math.ceil((limit - start) / delta), 0),)


def tile_shape(ins: Ins, a: dict[str, Any]) -> Shape:
    reps = _ints(ins[1], "repeats")
    _need(len(reps) == ins[0].ndim and min(reps, default=0) >= 0, f"repeats {reps}")
    return tuple(d * r for d, r in zip(ins[0].shape, reps))


def expand_shape(ins: Ins, a: dict[str, Any]) -> Shape:
    dims = _ints(ins[1], "a shape")
    _need(min(dims, default=0) >= 0, f"an expand to {dims}")
    return _rank(tuple(np.broadcast_shapes(ins[0].shape, tuple(dims))))


# -- computations ------------------------------------------------------------------------------

def c_identity(ins: Ins, a: dict[str, Any]) -> np.ndarray:
    return ins[0]


def c_cast(ins: Ins, a: dict[str, Any]) -> np.ndarray:
    return ins[0].astype(np.int64 if a.get("to") in (6, 7) else np.float32)


def c_reshape(ins: Ins, a: dict[str, Any]) -> np.ndarray:
    return ins[0].reshape(reshape_shape(ins, a))


def c_transpose(ins: Ins, a: dict[str, Any]) -> np.ndarray:
    return np.transpose(ins[0], a.get("perm"))


def c_unsqueeze(ins: Ins, a: dict[str, Any]) -> np.ndarray:
    x = ins[0]
    axes = a.get("axes") if len(ins) < 2 or ins[1] is None else _ints(ins[1], "axes")
    for ax in sorted(int(i) % (x.ndim + len(axes)) for i in axes):
        x = np.expand_dims(x, ax)
    return x


def c_squeeze(ins: Ins, a: dict[str, Any]) -> np.ndarray:
    axes = a.get("axes") if len(ins) < 2 or ins[1] is None else _ints(ins[1], "axes")
    return np.squeeze(ins[0], tuple(int(i) for i in axes) if axes else None)


def c_gather(ins: Ins, a: dict[str, Any]) -> np.ndarray:
    return np.take(ins[0], ins[1].astype(np.int64), axis=int(a.get("axis", 0)))


def c_concat(ins: Ins, a: dict[str, Any]) -> np.ndarray:
    return np.concatenate([np.atleast_1d(v) for v in ins], axis=int(a.get("axis", 0)))


def c_flatten(ins: Ins, a: dict[str, Any]) -> np.ndarray:
    return ins[0].reshape(flatten_shape(ins, a))


def _arith(f: Callable[..., np.ndarray], integer: Callable[..., np.ndarray] | None = None
           ) -> Callable[[Ins, dict[str, Any]], np.ndarray]:
    def compute(ins: Ins, a: dict[str, Any]) -> np.ndarray:
        x, y = ins[0], ins[1]
        if integer is not None and x.dtype.kind == "i":
            _need(not np.any(y == 0), "an integer division by zero")
            return integer(x, y)
        return f(x, y)
    return compute


c_add, c_sub, c_mul = _arith(np.add), _arith(np.subtract), _arith(np.multiply)
c_div = _arith(np.divide, np.floor_divide)


def c_neg(ins: Ins, a: dict[str, Any]) -> np.ndarray:
    return np.negative(ins[0])


def c_sqrt(ins: Ins, a: dict[str, Any]) -> np.ndarray:
    return np.sqrt(ins[0])


def c_reciprocal(ins: Ins, a: dict[str, Any]) -> np.ndarray:
    return np.reciprocal(ins[0])


def c_reduce_prod(ins: Ins, a: dict[str, Any]) -> np.ndarray:
    return np.asarray(np.prod(ins[0], keepdims=bool(a.get("keepdims", 1))))


def c_slice(ins: Ins, a: dict[str, Any]) -> np.ndarray:
    x = ins[0]
    starts, ends = _ints(ins[1], "starts"), _ints(ins[2], "ends")
    axes = _ints(ins[3], "axes") if len(ins) > 3 and ins[3] is not None \
        else list(range(len(starts)))
    steps = _ints(ins[4], "steps") if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    index = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        index[_axis(ax, x.ndim)] = slice(s, max(min(e, 2**62), -2**62), st)
    return x[tuple(index)]


def c_constant_of_shape(ins: Ins, a: dict[str, Any]) -> np.ndarray:
    value = a.get("_value")  # the walker reads the "value" tensor (charged) into "_value"
    value = np.zeros(1, np.float32) if value is None else value
    return np.full(constant_of_shape_shape(ins, a), value.reshape(-1)[0], dtype=value.dtype)


def c_range(ins: Ins, a: dict[str, Any]) -> np.ndarray:
    return np.arange(ins[0], ins[1], ins[2])


def c_tile(ins: Ins, a: dict[str, Any]) -> np.ndarray:
    return np.tile(ins[0], _ints(ins[1], "repeats"))


def c_expand(ins: Ins, a: dict[str, Any]) -> np.ndarray:
    return np.broadcast_to(ins[0], expand_shape(ins, a)).copy()


def fold(op: str, shape_of: Callable[[Ins, dict[str, Any]], Shape],
         compute: Callable[[Ins, dict[str, Any]], np.ndarray], ins: Ins, a: dict[str, Any],
         budget: Budget, where: str) -> np.ndarray:
    """One op on constants: its output shape first, charged to ``budget``, then computed.

    Args:
        op: the op's type (for messages).
        shape_of, compute: the op's pair from the op table.
        ins: its inputs (numpy arrays; None for one left out).
        a: its attributes.
        budget: the file's budget.
        where: the node, as a message names it.
    Returns:
        The result (its shape checked against the one charged).
    Raises:
        FoldError: the constants do not compute; CardError: over the budget.
    """
    _need(bool(ins) and ins[0] is not None, "its first input is missing")
    try:
        shape = shape_of(ins, a)
        count = math.prod(shape)
        budget.charge(count, f"{where}, folded to shape {tuple(shape)},")
        out = np.asarray(compute(ins, a))
    except (FoldError, CardError):
        raise
    except (ValueError, TypeError, IndexError, ZeroDivisionError, OverflowError, KeyError,
            AttributeError) as exc:
        raise FoldError(str(exc)) from None
    _need(out.size <= count, f"{op} made {out.size:,} numbers where {count:,} were charged")
    return out


__all__ = ["FoldError", "fold"]
