"""Hostile ONNX files through the .onnx reader: each one's message, time and peak memory.

    .venv/bin/python bench/onnx_hostile.py [--out bench/results/onnx_hostile.txt]

Exports the tests' small CNN (tests/model/files/test_onnx_import.py's ``FlatCNN``) with both
torch exporters, builds each hostile file of the tests' ``_hostile`` table from them (not ONNX,
truncated, external data missing or pointing elsewhere, control flow, a custom op domain, an op
outside the list, a cycle, 100,000 nodes, 3,000 one-number initializers, constants folded past
the file's budget (tests/model/files/test_onnx_bounds.py: a Gather of 500 zero indices, a
Concat of one constant 500 times, Tile, Expand, ConstantOfShape, Range, a broadcast Add), initializers whose declared size disagrees with their
data or exceeds the limits, a 3x32x32 input, 5 outputs, NaN weights), then times
``model.files.onnx_import.read_onnx`` on it (best of 5, after a warm-up call, onnx imported).
Memory: the peak of Python allocations during the call (tracemalloc) and the growth of the
process's peak resident size (VmHWM, reset through /proc/self/clear_refs before the call, so
protobuf's allocations in C count too). Target: a refusal takes at most 50 ms and 50 MB.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.hostile_files import measure_call  # noqa: E402
from model.files.onnx_import import read_onnx  # noqa: E402
from tests.model.files.test_onnx_bounds import FILES, HOSTILE, folded  # noqa: E402
from tests.model.files.test_onnx_import import FlatCNN, _files, _hostile, export  # noqa: E402


def _call(files: dict[str, bytes]) -> str:
    try:
        read_onnx(files, "a.onnx")
    except ValueError as exc:
        return "refused: " + str(exc).removeprefix("a.onnx: ")
    return "ACCEPTED"


def measure(files: dict[str, bytes]) -> tuple[str, float, float, float]:
    """(verdict, best time in ms, tracemalloc peak in MB, peak RSS growth in MB), after a
    warm-up call."""
    return measure_call(lambda: _call(files), warm=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        model = FlatCNN().eval()
        exported = {("flat-cnn", e): export(model, (1, 28, 28), Path(tmp) / f"flat-{e}.onnx", e)
                    for e in ("torchscript", "dynamo")}
        good = _files(exported["flat-cnn", "dynamo"])
        good = {"a.onnx": good.pop("flat-dynamo.onnx"), **good}
        rows = [("a good file (dynamo export + .onnx.data, read in full)",
                 sum(map(len, good.values())), *measure(good))]
        for case, (files, _) in _hostile(exported).items():
            rows.append((case, sum(map(len, files.values())), *measure(files)))
        for case, (chain, inits, _) in HOSTILE.items():  # constants folded past the budget
            files = {"a.onnx": folded(chain, inits)}
            rows.append((case, len(files["a.onnx"]), *measure(files)))
        for case, (make, kwargs, _) in FILES.items():  # refused before parsing
            if not kwargs:
                files = {"a.onnx": make()}
                rows.append((case, len(files["a.onnx"]), *measure(files)))
    lines = [f"{'case':<26} {'bytes':>10} {'ms':>7} {'traced MB':>9} {'RSS MB':>7}  verdict"]
    for case, size, verdict, ms, traced, rss in rows:
        lines.append(f"{case[:26]:<26} {size:>10,} {ms:>7.2f} {traced:>9.2f} {rss:>7.1f}  "
                     f"{verdict}")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
