"""A state dict's ``data.pkl`` read by a small pickle machine of its own: no code from the file
runs, and nothing but dicts, tensors and their storages is made.

Python's pickle calls whatever a file names; this machine knows the opcodes a state dict's pickle
uses and five kinds of global (:data:`ALLOWED`): ``collections.OrderedDict``,
``torch._utils._rebuild_tensor_v2`` and ``_rebuild_parameter``, and torch's storage types of
floats and integers (:data:`STORAGES`). Any other global is refused by name before anything is
made from it: a whole pickled model (``__main__.Net``, ``torch.nn.modules...``) with the lines
that save a state dict or an ONNX file instead, anything else (``os.system``,
``builtins.eval``) as a global no state dict holds. A tensor is a :class:`TensorRef` (storage,
offset, shape, strides), checked and copied out of its zip record later; storages come from
persistent ids ``('storage', torch.FloatStorage, key, location, numel)``. The pickle's length,
its opcodes run and the tensors it builds are bounded (:data:`viz.limits.TORCH_PICKLE_OPS`,
:data:`viz.limits.TORCH_TENSORS`) as they are read, so a pickle building millions of tensors
stops at the first one over the limit. Standard library only.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from viz.limits import TORCH_INT_BYTES, TORCH_PICKLE_OPS, TORCH_TENSORS
from viz.network.card import CardError, show

# torch's storage type -> numpy dtype code ("bf16": bfloat16, widened to float32 when read)
STORAGES = {"FloatStorage": "f4", "DoubleStorage": "f8", "HalfStorage": "f2",
            "BFloat16Storage": "bf16", "LongStorage": "i8", "IntStorage": "i4",
            "ShortStorage": "i2", "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "b1"}
ORDERED_DICT = ("collections", "OrderedDict")
REBUILD_TENSOR = ("torch._utils", "_rebuild_tensor_v2")
REBUILD_PARAMETER = ("torch._utils", "_rebuild_parameter")
ALLOWED = (ORDERED_DICT, REBUILD_TENSOR, REBUILD_PARAMETER, *(("torch", s) for s in STORAGES))
SAVE_LINE = 'torch.save(model.state_dict(), "net.pt")'
ONNX_LINE = 'torch.onnx.export(model, torch.zeros(1, 1, 28, 28), "net.onnx")'
ADVICE = f"save the weights alone with {SAVE_LINE}, or export the network with {ONNX_LINE}."


@dataclass(frozen=True)
class StorageRef:
    """A storage the pickle names: its record's key, numpy dtype code and element count."""

    key: str
    dtype: str
    numel: int


@dataclass(frozen=True)
class TensorRef:
    """A tensor the pickle builds: a view of a storage (offset, shape and strides in elements)."""

    storage: StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


@dataclass(frozen=True)
class _Global:
    module: str
    name: str


class _Mark:
    pass


_MARK = _Mark()


def refused_global(module: str, name: str, source: str) -> CardError:
    """The message for a global no state dict holds: a whole model, or code."""
    what = show(f"{module}.{name}", 60).strip("'")
    if module == "__main__" or module.startswith("torch.nn") or (
            name[:1].isupper() and not module.startswith(("builtins", "os", "sys", "subprocess",
                                                          "posix", "nt", "io", "shutil"))):
        return CardError(f"{source}: a whole pickled model (class {what}), not a state "
                         f"dict: loading it would run the file's code, which this app never "
                         f"does; {ADVICE}")
    return CardError(f"{source}: its pickle names {what}, which no state dict holds: "
                     f"refused (this app never runs code from a file); {ADVICE}")


def _fail(source: str, why: str) -> CardError:
    return CardError(f"{source}: its data.pkl is not a state dict's pickle ({why}); {ADVICE}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class Machine:
    """Runs one pickle (see the module docstring); :meth:`run` returns its object."""

    def __init__(self, data: bytes, source: str, max_ops: int = TORCH_PICKLE_OPS,
                 max_tensors: int = TORCH_TENSORS) -> None:
        self.data, self.source = data, source
        self.max_ops, self.max_tensors = max_ops, max_tensors
        self.pos = 0
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.memo: dict[int, Any] = {}
        self.storages: dict[str, StorageRef] = {}
        self.tensors = 0

    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise _fail(self.source, "it ends inside an opcode")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def _int(self, fmt: str) -> int:
        packing = _STRUCTS[fmt]
        if self.pos + packing.size > len(self.data):
            raise _fail(self.source, "it ends inside an opcode")
        value = packing.unpack_from(self.data, self.pos)[0]
        self.pos += packing.size
        return value

    def _pop_mark(self) -> list[Any]:
        if not self.marks:
            raise _fail(self.source, "a mark is missing")
        at = self.marks.pop()
        items = self.stack[at:]
        del self.stack[at:]
        return items

    def _pop(self) -> Any:
        if not self.stack or self.stack[-1] is _MARK:
            raise _fail(self.source, "its stack runs empty")
        return self.stack.pop()

    def _top(self) -> Any:
        if not self.stack:
            raise _fail(self.source, "its stack runs empty")
        return self.stack[-1]

    def run(self) -> Any:
        """The pickle's object. Raises CardError naming what is refused."""
        data, table, end = self.data, _TABLE, len(self.data)
        for _ in range(self.max_ops):
            if self.pos >= end:
                raise _fail(self.source, "it ends without its STOP opcode")
            op = data[self.pos]
            self.pos += 1
            handler = table[op]
            if handler is None:
                raise _fail(self.source, f"opcode {bytes([op])!r}, which a state dict's pickle "
                                         f"does not use")
            if handler is _stop:
                return self._pop()
            handler(self)
        raise CardError(f"{self.source}: its data.pkl runs more than {self.max_ops:,} opcodes; "
                        f"a state dict's needs far fewer.")

    # the objects a state dict's pickle may make ----------------------------------------------

    def global_(self, module: str, name: str) -> _Global:
        if (module, name) not in ALLOWED:
            raise refused_global(module, name, self.source)
        return _Global(module, name)

    def persistent(self, pid: Any) -> StorageRef:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _Global) and pid[1].module == "torch"
                and isinstance(pid[2], str) and _is_int(pid[4]) and pid[4] >= 0):
            raise _fail(self.source, f"a persistent id {show(pid, 60)} that is not a storage")
        ref = StorageRef(pid[2], STORAGES[pid[1].name], pid[4])
        if self.storages.setdefault(ref.key, ref) != ref:
            raise _fail(self.source, f"storage {show(ref.key)} declared twice, differently")
        return ref

    def call(self, fn: Any, args: Any) -> Any:
        if not isinstance(fn, _Global) or not isinstance(args, tuple):
            raise _fail(self.source, "a call of something that is not a global")
        key = (fn.module, fn.name)
        if key == ORDERED_DICT:
            if args:
                raise _fail(self.source, "an OrderedDict made with arguments")
            return {}
        if key == REBUILD_PARAMETER:
            if not args or not isinstance(args[0], TensorRef):
                raise _fail(self.source, "a parameter without a tensor")
            return args[0]
        if key == REBUILD_TENSOR:
            return self.tensor(args)
        raise _fail(self.source, f"a call of {fn.module}.{fn.name}")

    def tensor(self, args: tuple[Any, ...]) -> TensorRef:
        self.tensors += 1
        if self.tensors > self.max_tensors:  # counted from the wire, before it is made
            raise CardError(f"{self.source}: more than {self.max_tensors:,} tensors; a network "
                            f"here has at most a few per layer.")
        if len(args) not in (6, 7):
            raise _fail(self.source, "a tensor rebuilt with other arguments than torch's")
        storage, offset, shape, stride = args[:4]
        ok = (isinstance(storage, StorageRef) and _is_int(offset) and offset >= 0
              and isinstance(shape, tuple) and isinstance(stride, tuple)
              and len(shape) == len(stride) and all(_is_int(v) and v >= 0 for v in shape + stride))
        if not ok:
            raise _fail(self.source, "a tensor whose storage, offset, shape or strides are not "
                                     "torch's")
        return TensorRef(storage, offset, shape, stride)

    def build(self, obj: Any, state: Any) -> None:
        if not isinstance(obj, dict) or not isinstance(state, (dict, type(None))):
            raise _fail(self.source, "state set on something other than a dict")
        # a state dict's own state is its ``_metadata`` (module versions): not needed


def _stop(m: Machine) -> None:  # pragma: no cover - run() returns on it
    pass


def _push(value: Any) -> Any:
    return lambda m: m.stack.append(value)


def _tuple_of(n: int) -> Any:
    def op(m: Machine) -> None:
        items = [m._pop() for _ in range(n)][::-1]
        m.stack.append(tuple(items))
    return op


def _mark(m: Machine) -> None:
    m.marks.append(len(m.stack))
    m.stack.append(_MARK)


def _tuple(m: Machine) -> None:
    items = m._pop_mark()
    m.stack.append(tuple(items[1:]))


def _list(m: Machine) -> None:
    m.stack.append(m._pop_mark()[1:])


def _dict(m: Machine) -> None:
    items = m._pop_mark()[1:]
    m.stack.append(_pairs({}, items, m.source))


def _pairs(d: Any, items: list[Any], source: str) -> dict[Any, Any]:
    if not isinstance(d, dict) or len(items) % 2:
        raise _fail(source, "items set on something other than a dict")
    for k, v in zip(items[::2], items[1::2]):
        if not isinstance(k, (str, int)):
            raise _fail(source, f"a key {show(k)}")
        d[k] = v
    return d


def _setitem(m: Machine) -> None:
    v, k = m._pop(), m._pop()
    _pairs(m._top(), [k, v], m.source)


def _setitems(m: Machine) -> None:
    items = m._pop_mark()[1:]
    _pairs(m._top(), items, m.source)


def _append(m: Machine) -> None:
    v = m._pop()
    if not isinstance(m._top(), list):
        raise _fail(m.source, "an append to something other than a list")
    m._top().append(v)


def _appends(m: Machine) -> None:
    items = m._pop_mark()[1:]
    if not isinstance(m._top(), list):
        raise _fail(m.source, "an append to something other than a list")
    m._top().extend(items)


def _text(n_fmt: str, encoding: str, as_bytes: bool = False) -> Any:
    def op(m: Machine) -> None:
        raw = m._take(m._int(n_fmt))
        if as_bytes:
            m.stack.append(bytes(raw))
            return
        try:
            m.stack.append(raw.decode(encoding))
        except UnicodeDecodeError:
            raise _fail(m.source, "a string that is not UTF-8") from None
    return op


def _long1(m: Machine) -> None:
    n = m._int("<B")
    if n > TORCH_INT_BYTES:
        raise _fail(m.source, f"an integer of {n} bytes")
    m.stack.append(int.from_bytes(m._take(n), "little", signed=True))


def _global(m: Machine) -> None:
    def line() -> str:
        end = m.data.find(b"\n", m.pos, m.pos + 256)
        if end < 0:
            raise _fail(m.source, "a global's name is cut short")
        text = m.data[m.pos:end].decode("utf-8", "replace")
        m.pos = end + 1
        return text
    module = line()
    m.stack.append(m.global_(module, line()))


def _stack_global(m: Machine) -> None:
    name, module = m._pop(), m._pop()
    if not isinstance(name, str) or not isinstance(module, str):
        raise _fail(m.source, "a global named by something other than text")
    m.stack.append(m.global_(module, name))


def _reduce(m: Machine) -> None:
    args, fn = m._pop(), m._pop()
    m.stack.append(m.call(fn, args))


def _build(m: Machine) -> None:
    state = m._pop()
    m.build(m._top(), state)


def _binpersid(m: Machine) -> None:
    m.stack.append(m.persistent(m._pop()))


def _put(fmt: str) -> Any:
    def op(m: Machine) -> None:
        index = m._int(fmt)
        if len(m.memo) >= m.max_ops:  # pragma: no cover - ops bound it first
            raise _fail(m.source, "too many memo entries")
        m.memo[index] = m._top()
    return op


def _memoize(m: Machine) -> None:
    m.memo[len(m.memo)] = m._top()


def _get(fmt: str) -> Any:
    def op(m: Machine) -> None:
        index = m._int(fmt)
        if index not in m.memo:
            raise _fail(m.source, f"memo entry {index} read before it is written")
        m.stack.append(m.memo[index])
    return op


def _proto(m: Machine) -> None:
    if m._int("<B") > 5:
        raise _fail(m.source, "a pickle protocol above 5")


def _frame(m: Machine) -> None:
    m._int("<Q")  # a frame's length: the opcodes inside are read as they come


def _pop_op(m: Machine) -> None:
    if m.stack and m.stack[-1] is _MARK:
        m._pop_mark()
    else:
        m._pop()


_OPS: dict[bytes, Any] = {
    b"\x80": _proto, b"\x95": _frame, b".": _stop, b"(": _mark, b"0": _pop_op,
    b"1": lambda m: m._pop_mark(), b"N": _push(None), b"\x88": _push(True), b"\x89": _push(False),
    b"J": lambda m: m.stack.append(m._int("<i")), b"K": lambda m: m.stack.append(m._int("<B")),
    b"M": lambda m: m.stack.append(m._int("<H")), b"\x8a": _long1,
    b"G": lambda m: m.stack.append(struct.unpack(">d", m._take(8))[0]),
    b"X": _text("<I", "utf-8"), b"\x8c": _text("<B", "utf-8"), b"T": _text("<I", "latin-1"),
    b"U": _text("<B", "latin-1"), b"B": _text("<I", "", True), b"C": _text("<B", "", True),
    b")": _push(()),
    b"t": _tuple, b"\x85": _tuple_of(1), b"\x86": _tuple_of(2), b"\x87": _tuple_of(3),
    b"]": lambda m: m.stack.append([]), b"a": _append, b"e": _appends, b"l": _list,
    b"}": lambda m: m.stack.append({}), b"d": _dict, b"s": _setitem, b"u": _setitems,
    b"c": _global, b"\x93": _stack_global, b"R": _reduce, b"b": _build, b"Q": _binpersid,
    b"q": _put("<B"), b"r": _put("<I"), b"\x94": _memoize, b"h": _get("<B"), b"j": _get("<I"),
}


_TABLE: list[Any] = [None] * 256  # _OPS by the opcode's byte, for the machine's loop
for _code, _handler in _OPS.items():
    _TABLE[_code[0]] = _handler
_STRUCTS = {fmt: struct.Struct(fmt) for fmt in ("<B", "<H", "<i", "<I", "<Q")}


def load(data: bytes, source: str) -> Any:
    """The object of a state dict's pickle (dicts, lists, numbers, text, :class:`TensorRef`).

    Args:
        data: data.pkl's bytes (bounded by the caller).
        source: the file's name, for messages.
    Raises:
        CardError: a global outside :data:`ALLOWED`, an opcode or object no state dict's pickle
            has, or a bound passed.
    """
    return Machine(data, source).run()


__all__ = ["ADVICE", "ALLOWED", "Machine", "ONNX_LINE", "SAVE_LINE", "STORAGES", "StorageRef",
           "TensorRef", "load", "refused_global"]
