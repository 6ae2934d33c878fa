"""Hostile ONNX files through the .onnx reader, before and after: each one's verdict, time and peak memory.

    .venv/bin/python bench/onnx_hostile.py [--before OLD_CHECKOUT] [--out bench/results/onnx_hostile.txt]

Builds each hostile file of the tests' tables (tests/model/files/test_onnx_import.py's
``_hostile``, tests/model/files/test_onnx_bounds.py's ``HOSTILE`` and ``FILES``), plus a Gather
of 500 zero indices and a Concat of one constant 500 times on a 1e6-float constant, and a 50 MB
file of 3,000,000 one-float initializers read by the command line (``python -m model.importer
PATH``). Each case runs in a fresh process capped at 3 GB of address space
(``bench/hostile_case.py`` under ``prlimit --as``), with this tree's reader and, with
``--before``, an older checkout's: a reader that runs out of memory reports "killed" or
MemoryError. Time: the one call; memory: the process's peak resident size (imports included)
and its growth during the call. Target: a refusal takes at most 50 ms and 50 MB more.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.hostile_files import CAP_BYTES, HEADER, capped, table  # noqa: E402
from tests.model.files.test_onnx_bounds import FILES, HOSTILE, N, _const, folded  # noqa: E402
from tests.model.files.test_onnx_import import (  # noqa: E402
    FlatCNN,
    _files,
    _hostile,
    export,
    tiny,
)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def many_initializers(count: int = 3_000_000) -> bytes:
    """The tiny network with ``count`` one-float initializers (about 17 bytes each), written
    on the protobuf wire format directly (the onnx package takes minutes for millions)."""
    import onnx

    model = onnx.load_from_string(tiny())
    graph = bytearray(model.graph.SerializeToString())
    for k in range(count):
        name = f"i{k}".encode()
        t = b"\x08\x01\x10\x01\x42" + _varint(len(name)) + name + b"\x4a\x04\0\0\0\0"
        graph += b"\x2a" + _varint(len(t)) + t
    model.ClearField("graph")
    return model.SerializeToString() + b"\x3a" + _varint(len(graph)) + bytes(graph)


def cases(tmp: Path) -> list[tuple[str, str, Path]]:
    """(case, reader kind, file) of every hostile case, written under ``tmp``."""
    import torch

    torch.manual_seed(0)
    model = FlatCNN().eval()
    exported = {("flat-cnn", e): export(model, (1, 28, 28), tmp / f"flat-{e}.onnx", e)
                for e in ("torchscript", "dynamo")}
    files: list[tuple[str, bytes]] = []
    good = _files(exported["flat-cnn", "torchscript"])
    files.append(("a good file (torchscript export)", good.popitem()[1]))
    for case, (fs, _) in _hostile(exported).items():
        if len(fs) == 1:
            files.append((case, next(iter(fs.values()))))
    for case, (chain, inits, _) in HOSTILE.items():
        files.append((case, folded(chain, inits)))
    big = np.zeros(1_000_000, np.float32)
    files.append(("gather 500 zero indices of 1e6 floats", folded(
        [N("Gather", ["big", "idx"], ["c"])],
        [_const("big", big.reshape(1, -1)), _const("idx", np.zeros(500, np.int64))])))
    files.append(("concat 1e6 floats 500 times", folded(
        [N("Concat", ["big"] * 500, ["c"], axis=0)], [_const("big", big)])))
    for case, (make, kwargs, _) in FILES.items():
        if not kwargs:
            files.append((case, make()))
    out = []
    for i, (case, data) in enumerate(files):
        path = tmp / f"case{i}.onnx"
        path.write_bytes(data)
        out.append((case, "onnx", path))
    path = tmp / "many.onnx"
    path.write_bytes(many_initializers())
    out.append(("CLI: 3M one-float initializers", "cli", path))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--before", type=Path, default=None,
                        help="an older checkout whose reader runs each case too")
    args = parser.parse_args()
    roots = {"after": ROOT, **({"before": args.before} if args.before else {})}
    with tempfile.TemporaryDirectory() as tmp:
        rows = [(case, path.stat().st_size, {name: capped(root, kind, path)
                                             for name, root in roots.items()})
                for case, kind, path in cases(Path(tmp))]
    print(table(rows, list(roots)))
    if args.out:
        args.out.write_text(HEADER.format(cap=CAP_BYTES, cmd=" ".join(sys.argv))
                            + table(rows, list(roots)) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
