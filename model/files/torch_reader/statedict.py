"""A PyTorch state dict's tensors from the bytes of a ``.pt`` / ``.pth`` file, without torch
and without running its pickle: the zip (:mod:`model.files.torch_reader.zip`), the pickle
(:mod:`model.files.torch_reader.unpickle`), then each tensor checked and copied out of its
storage's record.

Every tensor is checked before an array is made: its shape (at most
:data:`viz.limits.TENSOR_DIMS` dimensions), its storage's record (present, exactly ``numel``
items long), the last element its shape and strides reach (inside the storage), and its size
charged to the file's :class:`model.files.budget.Budget`. The legacy format (torch before 1.6,
or ``_use_new_zipfile_serialization=False``: pickles back to back, not a zip) is refused with
the line that saves it again.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from model.files.budget import Budget, shape_size
from model.files.torch_reader import unpickle
from model.files.torch_reader.unpickle import ADVICE, SAVE_LINE, TensorRef
from model.files.torch_reader.zip import ZIP_MAGIC, torch_records, unpack
from viz.limits import TORCH_FILE_BYTES
from viz.network.card import CardError, show

# the legacy format's first pickle: protocol 2, then LONG1 of torch's magic number
LEGACY_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"
STATE_KEYS = ("state_dict", "model_state_dict", "model", "net", "weights")  # a checkpoint's dict


def _itemsize(code: str) -> int:
    return 2 if code == "bf16" else np.dtype(code).itemsize


def _dtype(code: str, order: str) -> np.dtype:
    if code == "bf16":
        return np.dtype(f"{order}u2")
    return np.dtype(code).newbyteorder(order) if np.dtype(code).itemsize > 1 else np.dtype(code)


def _tensors(obj: Any, source: str) -> tuple[dict[str, TensorRef], str]:
    """The state dict in the pickle's object: the object itself, or the one dict of tensors in
    a training checkpoint's dict (``{"model_state_dict": ..., "epoch": 3}``); and a note."""
    if not isinstance(obj, dict):
        raise CardError(f"{source}: holds a {type(obj).__name__}, not a state dict; {ADVICE}")
    if obj and all(isinstance(v, TensorRef) for v in obj.values()):
        return obj, ""
    inner = [(k, v) for k, v in obj.items() if isinstance(v, dict) and v
             and all(isinstance(t, TensorRef) for t in v.values())]
    if len(inner) > 1:
        named = [kv for kv in inner if kv[0] in STATE_KEYS]
        inner = named[:1] if len(named) == 1 else inner
    if len(inner) != 1:
        raise CardError(f"{source}: holds no state dict (a dict of tensors, or one such dict "
                        f"inside a checkpoint's dict); {ADVICE}")
    return inner[0][1], f"the state dict under {show(inner[0][0])} of a checkpoint's dict"


def read_state_dict(data: bytes, source: str, max_bytes: int = TORCH_FILE_BYTES,
                    budget: Budget | None = None) -> tuple[dict[str, np.ndarray], list[str]]:
    """The tensors of a state dict saved by ``torch.save`` (in the file's order) and notes.

    Args:
        data: the file's bytes.
        source: its name, for messages.
        max_bytes: the largest file read.
        budget: the numbers this file may make (a fresh one by default).
    Returns:
        ({key: numpy array}, notes); floating tensors come as float32, integer ones as int64.
    Raises:
        CardError: with a one-line message, before anything large is allocated.
    """
    if len(data) > max_bytes:
        raise CardError(f"{source}: {len(data):,} bytes; a PyTorch file here is at most "
                        f"{max_bytes:,} bytes.")
    if not data.startswith(ZIP_MAGIC):
        if data.startswith(LEGACY_MAGIC):
            raise CardError(f"{source}: saved in torch's legacy format (torch before 1.6, or "
                            f"_use_new_zipfile_serialization=False), which this app does not "
                            f"read; load it and save it again with a current torch: {SAVE_LINE}.")
        if data[:1] == b"\x80":
            raise CardError(f"{source}: a bare Python pickle, not torch.save's zip; this app "
                            f"never runs code from a file; {ADVICE}")
        raise CardError(f"{source}: not a PyTorch file (torch.save writes a zip); {ADVICE}")
    folder, records = torch_records(data, source)
    order = "<"
    if f"{folder}byteorder" in records:
        mark = unpack(data, records[f"{folder}byteorder"], 16, source)
        if mark not in (b"little", b"big"):
            raise CardError(f"{source}: its byteorder record says {show(mark)}.")
        order = "<" if mark == b"little" else ">"
    pickled = unpack(data, records[f"{folder}data.pkl"], records[f"{folder}data.pkl"].size,
                     source)
    refs, note = _tensors(unpickle.load(pickled, source), source)
    budget = budget or Budget(source)
    plans = []
    for key, ref in refs.items():  # every check and charge before any array is made
        what = f"tensor {show(key)}"
        count = shape_size(ref.shape, source, what)
        st = ref.storage
        rec = records.get(f"{folder}data/{st.key}")
        if rec is None:
            raise CardError(f"{source}: the storage of {what} has no record "
                            f"data/{show(st.key)} in the zip.")
        if rec.size != st.numel * _itemsize(st.dtype):
            raise CardError(f"{source}: the storage of {what} declares {st.numel:,} items but its "
                            f"record holds {rec.size:,} bytes: its sizes lie.")
        last = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.stride)) \
            if count else -1
        if last >= st.numel:
            raise CardError(f"{source}: {what} of shape {ref.shape} needs {last + 1:,} items of "
                            f"its storage, which holds {st.numel:,}: the file is corrupt.")
        budget.charge(count, what)
        plans.append((key, ref, rec))
    raws: dict[str, bytes] = {}
    out: dict[str, np.ndarray] = {}
    for key, ref, rec in plans:
        st = ref.storage
        if st.key not in raws:
            raws[st.key] = unpack(data, rec, rec.size, source)
        flat = np.frombuffer(raws[st.key], dtype=_dtype(st.dtype, order))
        size = _itemsize(st.dtype)
        view = np.lib.stride_tricks.as_strided(
            flat[ref.offset:] if ref.offset < len(flat) else flat[:0], shape=ref.shape,
            strides=tuple(s * size for s in ref.stride), writeable=False)
        if st.dtype == "bf16":
            arr = (view.astype(np.uint32) << 16).view(np.float32)
        elif st.dtype[0] == "f":
            arr = np.array(view, dtype=np.float32)
        else:
            arr = np.array(view, dtype=np.int64)
        out[str(key)] = arr
    return out, [note] if note else []


__all__ = ["LEGACY_MAGIC", "read_state_dict"]
