"""Hostile Keras files through the .keras reader: each one's message, time and peak memory.

    KERAS_BACKEND=torch .venv/bin/python bench/keras_hostile.py [--out bench/results/keras_hostile.txt]

Saves the Keras networks of tests/model/files/keras_fixtures.py (Keras in a subprocess, as the
tests do), builds each hostile file of the tests' ``HOSTILE`` table from them, then times
``model.files.keras_import.read`` on it (best of 5, after a warm-up call, h5py imported).
Memory: the peak of Python allocations during the call (tracemalloc) and the growth of the
process's peak resident size (VmHWM, reset through /proc/self/clear_refs before the call, so
HDF5's and zlib's allocations in C count too). Target: a refusal takes at most 50 ms and 50 MB.
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

from bench.hostile_files import measure_call  # noqa: E402
from model.files import keras_import  # noqa: E402
from model.store import load_samples  # noqa: E402
from tests.model.files.test_keras_import import FIXTURES, HOSTILE  # noqa: E402


def _call(data: bytes) -> str:
    try:
        keras_import.read(data, "student.keras")
    except ValueError as exc:
        return "refused: " + str(exc).removeprefix("student.keras: ")
    return "ACCEPTED"


def measure(data: bytes) -> tuple[str, float, float, float]:
    """(verdict, best time in ms, tracemalloc peak in MB, peak RSS growth in MB), after a
    warm-up call."""
    return measure_call(lambda: _call(data), warm=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp)
        images, _ = load_samples()
        np.save(saved / "images.npy", images[:8])
        env = {**os.environ, "KERAS_BACKEND": "torch"}
        subprocess.run([sys.executable, str(FIXTURES), tmp], env=env, check=True,
                       capture_output=True)
        good = (saved / "sequential_cnn.keras").read_bytes()
        rows = [("a good file (sequential_cnn.keras, read in full)", len(good), *measure(good))]
        for case, (make, _) in HOSTILE.items():
            data = make(good, saved)
            rows.append((case, len(data), *measure(data)))
    lines = [f"{'case':<22} {'bytes':>9} {'ms':>7} {'traced MB':>9} {'RSS MB':>7}  verdict"]
    for case, size, verdict, ms, traced, rss in rows:
        lines.append(f"{case[:22]:<22} {size:>9,} {ms:>7.2f} {traced:>9.2f} {rss:>7.1f}  "
                     f"{verdict}")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
