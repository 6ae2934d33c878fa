"""One hostile file through one tree's reader, in this (fresh, memory-capped) process.

    python bench/hostile_case.py ROOT KIND PATH

``ROOT``: the source tree whose reader runs (this one, or an older checkout); ``KIND``:
``onnx`` (``read_onnx``), ``keras`` (``keras_import.read``), ``h5`` (``h5_import.read``) or ``cli`` (``model.importer``'s
command, ``main([PATH, --out ...])``). Prints one JSON line: the verdict, the call's time in ms
and the growth of the process's peak resident size during it (VmHWM). Run by
:mod:`bench.onnx_hostile` and :mod:`bench.keras_hostile` under ``prlimit --as``, so a reader
that would take the machine's memory is killed (or fails to allocate) instead.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path


def _hwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    root, kind, path = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    sys.path.insert(0, root)
    if kind == "keras":
        import h5py  # noqa: F401  (imported before the call, as the app has it)

        from model.files.keras_import import read

        def call() -> None:
            read(path.read_bytes(), "student.keras")
    elif kind == "h5":
        import h5py  # noqa: F401

        from model.files.h5_import import read as read_h5

        def call() -> None:
            read_h5(path.read_bytes(), "student.h5")
    elif kind == "onnx":
        import onnx  # noqa: F401

        from model.files.onnx_import import read_onnx

        def call() -> None:
            read_onnx({"a.onnx": path.read_bytes()}, "a.onnx")
    else:
        import onnx  # noqa: F401

        from model import importer

        def call() -> None:
            err = io.StringIO()
            with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stderr(err), \
                    contextlib.redirect_stdout(io.StringIO()):
                rc = importer.main([str(path), "--out", str(Path(tmp) / "x.safetensors")])
            if rc:
                raise ValueError(err.getvalue().strip().splitlines()[-1] if err.getvalue()
                                 else f"exit status {rc}")
    before = _hwm_kb()
    t = time.perf_counter()
    try:
        call()
        verdict = "ACCEPTED"
    except ValueError as exc:
        verdict = "refused: " + str(exc)
    except MemoryError:
        verdict = "MemoryError"
    ms = 1000 * (time.perf_counter() - t)
    peak = _hwm_kb()
    print(json.dumps({"verdict": verdict, "ms": ms, "rss_mb": (peak - before) / 1024,
                      "peak_mb": peak / 1024}))


if __name__ == "__main__":
    main()
