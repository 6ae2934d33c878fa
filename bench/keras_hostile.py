"""Hostile Keras files through the .keras reader, before and after: each one's verdict, time and peak memory.

    KERAS_BACKEND=torch .venv/bin/python bench/keras_hostile.py [--before OLD_CHECKOUT] [--out bench/results/keras_hostile.txt]

Saves the Keras networks of tests/fixtures/keras/make_keras.py (Keras in a subprocess, as the
tests do), builds each hostile file of the tests' ``HOSTILE`` table from them, plus a Dense
bias written in one gzip chunk of 256M floats (1 GB once inflated) with unlimited maxshape.
Each case runs in a fresh process capped at 3 GB of address space (``bench/hostile_case.py``
under ``prlimit --as``), with this tree's reader and, with ``--before``, an older checkout's: a
reader that runs out of memory reports "killed" or MemoryError. Time: the one call; memory: the
process's peak resident size (imports included) and its growth during the call. Target: a
refusal takes at most 50 ms and 50 MB more.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.hostile_files import CAP_BYTES, HEADER, capped, table  # noqa: E402
from model.store import load_samples  # noqa: E402
from tests.model.files.test_keras_import import FIXTURES, HOSTILE, _restored  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--before", type=Path, default=None,
                        help="an older checkout whose reader runs each case too")
    args = parser.parse_args()
    roots = {"after": ROOT, **({"before": args.before} if args.before else {})}
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp)
        images, _ = load_samples()
        np.save(saved / "images.npy", images[:8])
        env = {**os.environ, "KERAS_BACKEND": "torch"}
        subprocess.run([sys.executable, str(FIXTURES), tmp], env=env, check=True,
                       capture_output=True)
        good = (saved / "sequential_cnn.keras").read_bytes()
        files = [("a good file (sequential_cnn.keras)", good),
                 ("a good file (prelu_elu.keras)", (saved / "prelu_elu.keras").read_bytes())]
        files += [(case, make(good, saved)) for case, (make, _) in HOSTILE.items()]
        files.append(("bias in one 256M-float gzip chunk", _restored(
            good, chunks=(1 << 28,), maxshape=(None,), compression="gzip")))
        rows = []
        for i, (case, data) in enumerate(files):
            path = saved / f"case{i}.keras"
            path.write_bytes(data)
            rows.append((case, len(data), {name: capped(root, "keras", path)
                                           for name, root in roots.items()}))
    print(table(rows, list(roots)))
    if args.out:
        args.out.write_text(HEADER.format(cap=CAP_BYTES, cmd=" ".join(sys.argv))
                            + table(rows, list(roots)) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
