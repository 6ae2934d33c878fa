"""Hostile PyTorch files: each refused with its one-line message before anything large is made.

The files are written by hand (a pickle's opcodes, a zip's records), torch-free, so each lies in
exactly one way: a global no state dict holds, a zip whose sizes lie, a zip bomb, millions of
tiny tensors, a tensor past its storage. :data:`HOSTILE` is also what
``bench/statedict_hostile.py`` times (the targets, 50 ms and 50 MB, are the bench's). Here the
Python allocations during each refusal are checked against 50 MB (tracemalloc).
"""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
from collections.abc import Callable

import numpy as np
import pytest

from model.files.statedict_import import read
from model.files.torch_reader.statedict import read_state_dict
from viz.limits import TORCH_PICKLE_BYTES, TORCH_PICKLE_OPS, TORCH_TENSORS, TORCH_ZIP_ENTRIES
from viz.network.card import CardError

MB = 1_000_000


# ---------------------------------------------------------------------------------------------
# Writing torch.save's format by hand
# ---------------------------------------------------------------------------------------------

def text(s: str) -> bytes:
    raw = s.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def integer(n: int) -> bytes:
    return b"J" + struct.pack("<i", n)


def tup(*items: bytes) -> bytes:
    return b"(" + b"".join(items) + b"t"


def glob(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def tensor(key: str, numel: int, shape: tuple[int, ...], stride: tuple[int, ...],
           offset: int = 0, storage: str = "FloatStorage") -> bytes:
    """The opcodes torch writes for one tensor: _rebuild_tensor_v2 of a persistent storage."""
    pid = tup(text("storage"), glob("torch", storage), text(key), text("cpu"),
              integer(numel)) + b"Q"
    args = tup(pid, integer(offset), tup(*map(integer, shape)), tup(*map(integer, stride)),
               b"\x89", glob("collections", "OrderedDict") + b")R")
    return glob("torch._utils", "_rebuild_tensor_v2") + args + b"R"


def state_pickle(entries: list[tuple[str, bytes]]) -> bytes:
    """An OrderedDict of the given (name, tensor opcodes), as torch.save pickles a state dict."""
    body = b"".join(text(name) + op for name, op in entries)
    return b"\x80\x02" + glob("collections", "OrderedDict") + b")R(" + body + b"u."


def torch_zip(pickled: bytes, records: dict[str, bytes], deflate_pickle: bool = False) -> bytes:
    """torch.save's zip: archive/data.pkl, archive/byteorder, archive/data/KEY."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(zipfile.ZipInfo("archive/data.pkl"), pickled,
                   zipfile.ZIP_DEFLATED if deflate_pickle else zipfile.ZIP_STORED)
        z.writestr("archive/byteorder", b"little")
        for key, raw in records.items():
            z.writestr(f"archive/data/{key}", raw)
        z.writestr("archive/version", b"3\n")
    return buf.getvalue()


def good_file() -> bytes:
    """A real-looking state dict: one linear layer of 784 -> 10."""
    w = np.arange(7840, dtype=np.float32) / 7840
    return torch_zip(state_pickle([("fc.weight", tensor("0", 7840, (10, 784), (784, 1))),
                                   ("fc.bias", tensor("1", 10, (10,), (1,)))]),
                     {"0": w.tobytes(), "1": np.ones(10, np.float32).tobytes()})


def _patch_central(data: bytes, name: str, packed: int | None, size: int | None) -> bytes:
    """The zip with one directory entry's declared sizes changed (its data left as it is)."""
    at = data.index(b"PK\x01\x02")
    out = bytearray(data)
    while True:
        at = data.index(b"PK\x01\x02", at)
        n = struct.unpack("<H", data[at + 28:at + 30])[0]
        if data[at + 46:at + 46 + n] == name.encode():
            break
        at += 4
    if packed is not None:
        out[at + 20:at + 24] = struct.pack("<I", packed)
    if size is not None:
        out[at + 24:at + 28] = struct.pack("<I", size)
    return bytes(out)


def forbidden(module: str, name: str) -> bytes:
    return torch_zip(b"\x80\x02" + glob(module, name) + tup(text("echo owned")) + b"R.", {})


def sizes_lie() -> bytes:
    """A record declaring 2 GB where the file holds 40 bytes."""
    return _patch_central(good_file(), "archive/data/1", 2_000_000_000, 2_000_000_000)


def stored_sizes_disagree() -> bytes:
    """A stored record whose packed and unpacked sizes differ."""
    return _patch_central(good_file(), "archive/data/1", None, 4_000_000)


def zip_bomb() -> bytes:
    """data.pkl deflated: 100 MB of one byte, in about 100 kB, its size declared honestly."""
    return torch_zip(b"\x80\x02" + b"N" * 100_000_000, {}, deflate_pickle=True)


def zip_bomb_lying() -> bytes:
    """The same bomb declaring 1,000 bytes unpacked."""
    data = torch_zip(b"\x80\x02" + b"N" * 100_000_000, {}, deflate_pickle=True)
    return _patch_central(data, "archive/data.pkl", None, 1_000)


def _many(count: int) -> bytes:
    """A pickle building ``count`` tensors of one storage: the opcodes memoized once, then
    5 bytes a tensor (get the function, get the arguments, call)."""
    fn = glob("torch._utils", "_rebuild_tensor_v2") + b"q\x00"
    pid = tup(text("storage"), glob("torch", "FloatStorage"), text("0"), text("cpu"),
              integer(1)) + b"Q"
    args = tup(pid, integer(0), tup(integer(1)), tup(integer(1)), b"\x89",
               glob("collections", "OrderedDict") + b")R") + b"q\x01"
    return b"\x80\x02" + fn + args + b"0" + b"(" + b"h\x00h\x01R" * count + b"l."


def ten_million_tensors() -> bytes:
    """10M tensors: a 50 MB pickle, deflated to a small file."""
    return torch_zip(_many(10_000_000), {"0": b"\0\0\0\0"}, deflate_pickle=True)


def tensors_within_pickle_bound() -> bytes:
    """As many tiny tensors as the pickle's size bound allows (stored): the tensor count stops
    them."""
    return torch_zip(_many((TORCH_PICKLE_BYTES - 400) // 5), {"0": b"\0\0\0\0"})


def opcode_flood() -> bytes:
    """Empty dicts, each memoized under a new index, as many as the pickle's size bound holds
    (two opcodes in 6 bytes each: about the most objects a pickle can ask for)."""
    count = (TORCH_PICKLE_BYTES - 100) // 6
    body = b"".join(b"}r" + struct.pack("<I", i) for i in range(count))
    return torch_zip(b"\x80\x02" + body + b".", {})


def too_many_records() -> bytes:
    """A zip of one more (empty) record than a state dict's may hold."""
    return torch_zip(state_pickle([]), {str(i): b"" for i in range(TORCH_ZIP_ENTRIES)})


def directory_count_lies() -> bytes:
    """A good file whose end-of-directory record claims 65,535 records."""
    data = bytearray(good_file())
    at = data.rindex(b"PK\x05\x06")
    data[at + 8:at + 12] = struct.pack("<HH", 0xFFFE, 0xFFFE)
    return bytes(data)


def storage_short() -> bytes:
    """A tensor of shape 1000 x 1000 over a storage of 10 floats."""
    return torch_zip(state_pickle([("w", tensor("0", 10, (1000, 1000), (1000, 1)))]),
                     {"0": bytes(40)})


def storage_numel_lies() -> bytes:
    """A storage declaring 1M floats whose record holds 10."""
    return torch_zip(state_pickle([("w", tensor("0", 1_000_000, (1000, 1000), (1000, 1)))]),
                     {"0": bytes(40)})


def broadcast_over_budget() -> bytes:
    """A 100,000 x 100,000 view of one float (strides 0): inside its storage, over the budget."""
    return torch_zip(state_pickle([("w", tensor("0", 1, (100_000, 100_000), (0, 0)))]),
                     {"0": bytes(4)})


# name -> (maker, what the message says)
HOSTILE: dict[str, tuple[Callable[[], bytes], str]] = {
    "global os.system": (lambda: forbidden("os", "system"), r"names os\.system.*never runs code"),
    "global builtins.eval": (lambda: forbidden("builtins", "eval"), r"names builtins\.eval"),
    "global __main__.X": (lambda: forbidden("__main__", "X"),
                          r"whole pickled model \(class __main__\.X\).*state_dict\(\).*onnx"),
    "too many records": (too_many_records, rf"{TORCH_ZIP_ENTRIES + 3:,} records in the zip"),
    "directory count lies": (directory_count_lies, r"65,534 records in the zip"),
    "record sizes lie": (sizes_lie, r"declares 2,000,000,000 bytes, past the end"),
    "stored sizes disagree": (stored_sizes_disagree, r"stored, yet declares 4,000,000 bytes"),
    "zip bomb": (zip_bomb, r"data\.pkl declares 100,000,002 bytes"),
    "zip bomb, size lies": (zip_bomb_lying, r"unpacks to another size than it declares"),
    "10M tiny tensors": (ten_million_tensors, r"data\.pkl declares 50,000,\d+ bytes"),
    "tiny tensors within the pickle bound": (tensors_within_pickle_bound,
                                             rf"more than {TORCH_TENSORS:,} tensors"),
    "opcode flood": (opcode_flood, rf"runs more than {TORCH_PICKLE_OPS:,} opcodes"),
    "storage shorter than shape": (storage_short, r"needs 1,000,000 items of its storage, which "
                                                  r"holds 10"),
    "storage numel lies": (storage_numel_lies, r"the storage of tensor .w. declares 1,000,000 "
                                               r"items but its record holds 40 bytes"),
    "view over the budget": (broadcast_over_budget, r"10,000,000,000 numbers"),
}


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return {name: make() for name, (make, _) in HOSTILE.items()}


def test_the_hand_written_format_reads() -> None:
    """The writer above makes files the reader takes (so each hostile one lies in one way)."""
    tensors, _ = read_state_dict(good_file(), "good.pt")
    assert list(tensors) == ["fc.weight", "fc.bias"]
    assert tensors["fc.weight"].shape == (10, 784)
    assert tensors["fc.weight"][1, 2] == pytest.approx(786 / 7840)
    assert np.array_equal(tensors["fc.bias"], np.ones(10))


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_file_refused_before_allocating(case: str, files: dict[str, bytes]) -> None:
    data = files[case]
    tracemalloc.start()
    try:
        with pytest.raises(CardError, match=HOSTILE[case][1]) as err:
            read(data, "student.pt")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "\n" not in str(err.value) and str(err.value).startswith("student.pt: ")
    assert peak < 50 * MB, f"{case}: {peak / MB:.1f} MB allocated before the refusal"


def test_every_file_is_small(files: dict[str, bytes]) -> None:
    """Each hostile file is small: its threat is what it would make, not its bytes."""
    assert max(len(d) for d in files.values()) < 3 * MB
