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
import zlib
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


def torch_zip(pickled: bytes, records: dict[str, bytes]) -> bytes:
    """torch.save's zip: archive/data.pkl, archive/byteorder, archive/data/KEY, stored."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickled)
        z.writestr("archive/byteorder", b"little")
        for key, raw in records.items():
            z.writestr(f"archive/data/{key}", raw)
        z.writestr("archive/version", b"3\n")
    return buf.getvalue()


def deflated_repeat(head: bytes, chunk: bytes, times: int, tail: bytes
                    ) -> tuple[bytes, int, int]:
    """(raw deflate stream, size, CRC-32) of ``head + chunk * times + tail``, without making
    it: each part is compressed once after a full flush (no reference to earlier bytes), so
    the chunk's blocks may repeat."""
    def part(data: bytes, last: bool) -> bytes:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush(zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(head)
    for _ in range(times):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(tail, crc)
    stream = part(head, False) + part(chunk, False) * times + part(tail, True)
    return stream, len(head) + len(chunk) * times + len(tail), crc


def raw_zip(entries: list[tuple[str, int, bytes, int, int]]) -> bytes:
    """A zip of (name, method, packed bytes, size, CRC) records, written field by field."""
    body, central = bytearray(), bytearray()
    for name, method, packed, size, crc in entries:
        raw = name.encode()
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21,
                               crc, len(packed), size, len(raw), 0, 0, 0, 0, 0, len(body)) + raw
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc,
                            len(packed), size, len(raw), 0) + raw + packed
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central),
                      len(body), 0)
    return bytes(body + central + end)


def bomb_zip(head: bytes, chunk: bytes, times: int, tail: bytes,
             records: dict[str, bytes]) -> bytes:
    """torch.save's zip whose data.pkl, ``head + chunk * times + tail``, is deflated."""
    stream, size, crc = deflated_repeat(head, chunk, times, tail)
    stored = [(f"archive/data/{k}", 0, v, len(v), zlib.crc32(v)) for k, v in records.items()]
    return raw_zip([("archive/data.pkl", 8, stream, size, crc),
                    ("archive/byteorder", 0, b"little", 6, zlib.crc32(b"little")), *stored])


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
    """data.pkl deflated: 200 MB of one opcode in about 200 kB, its size declared honestly."""
    return bomb_zip(b"\x80\x02", b"N" * 1_000_000, 200, b".", {})


def zip_bomb_lying() -> bytes:
    """The same bomb declaring 1,000 bytes unpacked."""
    return _patch_central(zip_bomb(), "archive/data.pkl", None, 1_000)


MANY_HEAD = (b"\x80\x02" + glob("torch._utils", "_rebuild_tensor_v2") + b"q\x00"
             + tup(tup(text("storage"), glob("torch", "FloatStorage"), text("0"), text("cpu"),
                       integer(1)) + b"Q", integer(0), tup(integer(1)), tup(integer(1)),
                   b"\x89", glob("collections", "OrderedDict") + b")R") + b"q\x010(")
MANY_EACH = b"h\x00h\x01R"  # 5 bytes a tensor: get the function, get its arguments, call


def ten_million_tensors() -> bytes:
    """A pickle building 10M tensors of one storage (their opcodes memoized once, then 5 bytes
    a tensor): 50 MB, deflated to a small file."""
    return bomb_zip(MANY_HEAD, MANY_EACH * 100_000, 100, b"l.", {"0": bytes(4)})


def tensors_within_pickle_bound() -> bytes:
    """As many tiny tensors as the pickle's size bound allows (stored): the tensor count stops
    them."""
    count = (TORCH_PICKLE_BYTES - len(MANY_HEAD) - 2) // len(MANY_EACH)
    return torch_zip(MANY_HEAD + MANY_EACH * count + b"l.", {"0": bytes(4)})


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
    "zip bomb": (zip_bomb, r"data\.pkl declares 200,000,003 bytes"),
    "zip bomb, size lies": (zip_bomb_lying, r"unpacks to another size than it declares"),
    "10M tiny tensors": (ten_million_tensors, r"data\.pkl declares 50,000,\d\d\d bytes"),
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
