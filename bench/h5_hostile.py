"""Hostile Keras ``.h5`` files through the HDF5 reader: each one's verdict, time and peak memory.

    .venv/bin/python bench/h5_hostile.py [--out bench/results/h5_hostile.txt]

Builds each hostile file of tests/model/files/test_h5_import.py's ``HOSTILE`` table from the
committed fixtures (tests/fixtures/tensorflow: networks saved by TensorFlow's Keras 3 and by
tf_keras; no TensorFlow needed here), plus a Dense bias in one gzip chunk of 256M floats
(1 GB once inflated) with unlimited maxshape. Each case runs in a fresh process capped at 3 GB of address space
(``bench/hostile_case.py`` under ``prlimit --as``; before this reader the importer refused
every ``.h5`` by its extension, so there is no older column). Time: the one call;
memory: the process's peak resident size (imports included) and its growth during the call.
A fresh process's one call pays first-use costs, so each case is also timed warm in this
process (after one call, best of 5: "warm ms"). Target: a refusal takes at most 50 ms and 50 MB more. Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.hostile_files import CAP_BYTES, HEADER, capped, table  # noqa: E402
from tests.model.files.test_h5_import import (  # noqa: E402
    BIAS,
    FIXTURES,
    HOSTILE,
    _rewrite,
    edited,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    roots = {"after": ROOT}
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp)
        files = [(f"a good file ({name}.h5)", (FIXTURES / f"{name}.h5").read_bytes())
                 for name in ("keras3_tutorial_cnn", "tf_keras_batchnorm")]
        files += [(case, make(saved)) for case, (make, _) in HOSTILE.items()]
        files.append(("bias in one 256M-float gzip chunk", edited(_rewrite(
            BIAS, chunks=(1 << 28,), maxshape=(None,), compression="gzip"))))
        rows, warm = [], []
        for i, (case, data) in enumerate(files):
            path = saved / f"case{i}.h5"
            path.write_bytes(data)
            rows.append((case, len(data), {name: capped(root, "h5", path)
                                           for name, root in roots.items()}))
            warm.append(f"{case[:40]:<40} {_warm_ms(data):>10.1f}")
    text = table(rows, list(roots)) + f"\n\n{'case':<40} {'warm ms':>10}\n" + "\n".join(warm)
    print(text)
    if args.out:
        args.out.write_text(HEADER.format(cap=CAP_BYTES, cmd=" ".join(sys.argv)) + text + "\n",
                            encoding="utf-8")


def _warm_ms(data: bytes, repeat: int = 5) -> float:
    """The reader's best time on ``data`` in this process, after one call (ms)."""
    from model.files.h5_import import read

    best = float("inf")
    for i in range(repeat + 1):
        t = time.perf_counter()
        with contextlib.suppress(ValueError):  # a refusal (CardError)
            read(data, "student.h5")
        if i:
            best = min(best, time.perf_counter() - t)
    return 1000 * best


if __name__ == "__main__":
    main()
