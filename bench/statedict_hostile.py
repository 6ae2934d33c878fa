"""Hostile PyTorch files through the state-dict reader: each one's verdict, time and memory.

    .venv/bin/python bench/statedict_hostile.py [--out bench/results/statedict_hostile.txt]

Builds each file of the tests' ``HOSTILE`` table (tests/model/files/test_statedict_hostile.py:
forbidden globals, zips whose sizes lie, zip bombs, 10M tiny tensors, tensors past their
storage), plus the committed LeNet-5 state dict as a good file, and runs
``model.files.statedict_import.read`` on each in a fresh process (``--case``): time, best of 5
calls; memory, the peak of Python's allocations during one call (tracemalloc) and the growth of
the process's peak resident size during it (VmHWM, reset first through /proc/self/clear_refs, so
allocations in C count too). Target: a refusal takes at most 50 ms and 50 MB.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.hostile_files import hwm_kb  # noqa: E402

GOOD = "a good file (lenet5.pth)"


def _data(case: str) -> bytes:
    from tests.model.files.test_statedict_hostile import HOSTILE

    if case == GOOD:
        return (ROOT / "tests" / "fixtures" / "pytorch" / "lenet5.pth").read_bytes()
    return HOSTILE[case][0]()


def run_case(case: str) -> dict:
    """One case in this process: the verdict, best time of 5 and the memory of one call."""
    from model.files.statedict_import import read
    from model.files.torch_reader.statedict import read_state_dict

    # the good file is read as far as the hostile ones are (its tensors; matching it to the
    # zoo then runs the network on the samples, which is not the reader's cost)
    call = (lambda d: read_state_dict(d, "student.pt")) if case == GOOD else \
        (lambda d: read(d, "student.pt"))
    data = _data(case)
    verdict = "read"
    times = []
    for _ in range(5):
        start = time.perf_counter()
        try:
            call(data)
        except ValueError as exc:
            verdict = str(exc)
        times.append(time.perf_counter() - start)
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current size
    before = hwm_kb()
    tracemalloc.start()
    with contextlib.suppress(ValueError):
        call(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    grew = (hwm_kb() - before) / 1000
    return {"case": case, "bytes": len(data), "ms": 1000 * min(times), "py_mb": peak / 1e6,
            "rss_mb": grew, "verdict": verdict}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--case", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case is not None:
        print(json.dumps(run_case(args.case)))
        return
    from tests.model.files.test_statedict_hostile import HOSTILE

    lines = ["Each case in a fresh process; ms: best of 5 calls of the reader; py MB: peak of "
             "Python allocations in one call (tracemalloc); +RSS MB: growth of the peak "
             "resident size in that call. Target: a refusal within 50 ms and 50 MB.",
             "Command: .venv/bin/python bench/statedict_hostile.py --out "
             "bench/results/statedict_hostile.txt", "",
             f"{'case':40s} {'bytes':>10s} {'ms':>7s} {'py MB':>7s} {'+RSS MB':>8s}  verdict"]
    for case in [GOOD, *HOSTILE]:
        out = subprocess.run([sys.executable, __file__, "--case", case], capture_output=True,
                             text=True, timeout=600, cwd=ROOT)
        if out.returncode:
            lines.append(f"{case:40s} failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        lines.append(f"{case:40s} {r['bytes']:>10,} {r['ms']:7.2f} {r['py_mb']:7.2f} "
                     f"{r['rss_mb']:8.2f}  {r['verdict'][:110]}")
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
