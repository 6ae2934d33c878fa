"""Hostile checkpoints through the upload path: each one's verdict, time and peak memory.

    .venv/bin/python bench/hostile_files.py [--out bench/results/hostile_files.txt]

Builds each hostile file in memory, then times ``model.files.checkpoint.load_checkpoint_bytes`` (what
the sidebar's upload calls) on it, best of 5, with torch already imported. Memory: the peak of
Python allocations during the call (tracemalloc, a separate run) and the growth of the process's
peak resident size (VmHWM, reset before the call through /proc/self/clear_refs, so allocations
made by torch in C count too), each file in a fresh process. Target: a refusal takes at most 50 ms and 50 MB.
"""

from __future__ import annotations

import argparse
import gc
import json
import pickle
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from viz.network.card import expected_tensors  # noqa: E402
from viz.teaching.lab import rows_to_layers  # noqa: E402

SMALL_ROWS = [{"type": "conv", "kernel": 3, "channels": 4}, {"type": "relu"},
              {"type": "maxpool"}, {"type": "flatten"}, {"type": "linear"}]


def raw(header: dict, body: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + body


def pack(layers: list[dict], arch: str = "mine", tensors: dict | None = None) -> bytes:
    if tensors is None:
        tensors = {name: np.zeros(shape, np.float32 if dtype == "F32" else np.int64)
                   for name, (dtype, shape) in expected_tensors(layers).items()}
    header: dict = {"__metadata__": {"model_card": json.dumps({"arch": arch, "layers": layers})}}
    body, pos = [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        dtype = {"float32": "F32", "int64": "I64", "float64": "F64"}[str(a.dtype)]
        header[name] = {"dtype": dtype, "shape": list(a.shape),
                        "data_offsets": [pos, pos + a.nbytes]}
        body.append(a.tobytes())
        pos += a.nbytes
    return raw(header, b"".join(body))


def small(**change) -> list[dict]:
    layers = rows_to_layers(SMALL_ROWS)
    layers[0] = dict(layers[0], **change)
    return layers


def huge_card() -> bytes:
    """A card of a few hundred bytes: convs of 60,000 channels (131 GB of weights if believed)."""
    layers = [{"name": "conv1", "type": "conv", "in": 1, "out": 60000, "kernel": 3},
              {"name": "conv2", "type": "conv", "in": 60000, "out": 60000, "kernel": 3},
              {"name": "head", "type": "conv", "in": 60000, "out": 10, "kernel": 24},
              {"name": "flatten", "type": "flatten"}]
    return raw({"__metadata__": {"model_card": json.dumps({"arch": "x", "layers": layers})}})


def two_6000() -> bytes:
    layers = rows_to_layers([{"type": "conv", "padding": 1, "channels": 6000},
                             {"type": "conv", "padding": 1, "channels": 6000},
                             {"type": "gap"}, {"type": "conv", "kernel": 1, "channels": 10},
                             {"type": "flatten"}])
    return pack(layers, tensors={})


def deep(n: int) -> Callable[[], bytes]:
    return lambda: pack(rows_to_layers([{"type": "relu"}] * n + [{"type": "flatten"},
                                                                  {"type": "linear"}]))


def disagree() -> bytes:
    tensors = {name: np.zeros(shape, np.float32 if d == "F32" else np.int64)
               for name, (d, shape) in expected_tensors(small()).items()}
    tensors["conv1.weight"] = np.zeros((4, 1, 5, 5), np.float32)
    return pack(small(), tensors=tensors)


def wrong_dtype() -> bytes:
    tensors = {name: np.zeros(shape, np.float64) for name, (_, shape) in
               expected_tensors(small()).items()}
    return pack(small(), tensors=tensors)


def nan_weights() -> bytes:
    """seed-original's size (16.6 MB) with one NaN: refused after the weights are read."""
    from model.architectures import seed_original_layers
    layers = seed_original_layers()
    tensors = {name: np.zeros(shape, np.float32) for name, (_, shape) in
               expected_tensors(layers).items()}
    tensors["conv10.weight"][0, 0, 0, 0] = np.nan
    return pack(layers, "seed-original", tensors)


def non_utf8() -> bytes:
    text = b'{"__metadata__": {"model_card": "{}"}, "conv\xff\xfe.weight": {}}'
    return len(text).to_bytes(8, "little") + text


def cut_short() -> bytes:
    return pack(small())[:-100]


def offsets_lie() -> bytes:
    good = pack(small())
    n = int.from_bytes(good[:8], "little")
    header = json.loads(good[8:8 + n])
    header["fc1.weight"]["data_offsets"][1] += 10**12
    return raw(header, good[8 + n:])


CASES: dict[str, Callable[[], bytes]] = {
    "huge card: 60,000-channel convs (383 bytes; 131 GB if believed)": huge_card,
    "huge card: two 6,000-channel convs": two_6000,
    "deep card: 1,000 layers": deep(1000),
    "deep card: 101 layers": deep(99),
    "shapes disagree with the card (5x5 weights, 3x3 card)": disagree,
    "dtypes disagree with the card (F64)": wrong_dtype,
    "lying arch name ('seed', other layers)": lambda: pack(small(), "seed"),
    "arch name of 10,000 characters": lambda: pack(small(), "a" * 10_000),
    "zero channels": lambda: pack(small(out=0), tensors={}),
    "negative kernel": lambda: pack(small(kernel=-3), tensors={}),
    "kernel of 10**30": lambda: pack(small(kernel=10**30), tensors={}),
    "non-UTF-8 header": non_utf8,
    "layer name of 100,000 characters": lambda: pack(small(name="x" * 100_000), tensors={}),
    "layer name of 2,000,000 characters (header over 1 MB)":
        lambda: pack(small(name="x" * 2_000_000), tensors={}),
    "tensor name of 100,000 characters": lambda: pack(small(), tensors={"t" * 100_000:
                                                                         np.zeros(1, np.float32)}),
    "header length claims 1 TB": lambda: (10**12).to_bytes(8, "little") + b"{}",
    "card nested 100,000 deep": lambda: raw({"__metadata__": {"model_card": "[" * 100_000}}),
    "tensor offsets beyond the file": offsets_lie,
    "file cut short": cut_short,
    "Python pickle renamed .safetensors": lambda: pickle.dumps({"conv1.weight": [0.0] * 1000}),
    "NaN weight in a seed-original-sized file (16.6 MB)": nan_weights,
}


def hwm_kb() -> int:
    """This process's peak resident size so far (VmHWM), in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _call(load, data: bytes) -> str:
    try:
        load(data, "upload.safetensors")
    except ValueError as exc:
        return "refused: " + str(exc).removeprefix("upload.safetensors: ")
    return "ACCEPTED"


def measure_call(call: Callable[[], str], warm: bool = False) -> tuple[str, float, float, float]:
    """(verdict, best time in ms, tracemalloc peak in MB, peak RSS growth in MB) of ``call``
    (which reads one file and returns its verdict): the RSS growth of its first call (after one
    warm-up call when ``warm``), then its traced peak, then the best of five timed calls."""
    if warm:
        call()
    gc.collect()
    rss = float("nan")
    if _reset_hwm():
        before = hwm_kb()
        call()
        rss = (hwm_kb() - before) / 1024
    gc.collect()
    tracemalloc.start()
    verdict = call()
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    times = []
    for _ in range(5):
        gc.collect()
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return verdict, 1000 * min(times), traced / 2**20, rss


def measure(data: bytes, load) -> tuple[str, float, float, float]:
    """:func:`measure_call` of reading ``data`` with ``load``, in a process that has made only
    the warm-up call: the RSS growth of the first call first."""
    return measure_call(lambda: _call(load, data))


GOOD = "a good checkpoint (checkpoints/seed.safetensors)"


def one(name: str) -> dict:
    """Measure one case in this (fresh) process."""
    import torch
    torch.set_num_threads(1)
    from model.files.checkpoint import load_checkpoint_bytes
    good = (ROOT / "checkpoints/seed.safetensors").read_bytes()
    load_checkpoint_bytes(good, "warm-up")
    data = good if name == GOOD else CASES[name]()
    verdict, ms, traced, rss = measure(data, load_checkpoint_bytes)
    return {"name": name, "bytes": len(data), "ms": ms, "traced_mb": traced, "rss_mb": rss,
            "verdict": verdict}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "bench/results/hostile_files.txt"))
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one)))
        return 0
    import subprocess
    lines = [f"# bench/hostile_files.py on {platform.node()} ({platform.machine()}), "
             f"python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}",
             "# each file in a fresh process through model.files.checkpoint.load_checkpoint_bytes "
             "(the upload path), torch imported and one good file loaded first;",
             "# ms: best of 5; py MB: tracemalloc peak; RSS MB: growth of the peak resident "
             "size during the first call",
             f"{'file':<55} {'bytes':>11} {'ms':>6} {'py MB':>6} {'RSS MB':>6}  verdict"]
    worst_ms = worst_mb = 0.0
    for name in [GOOD, *CASES]:
        out = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True,
                             text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        if not r["verdict"].startswith("ACCEPTED"):
            worst_ms = max(worst_ms, r["ms"])
            worst_mb = max(worst_mb, r["traced_mb"], r["rss_mb"])
        v = r["verdict"]
        short = v if len(v) <= 150 else v[:147] + "..."
        lines.append(f"{name:<55} {r['bytes']:>11,} {r['ms']:>6.2f} {r['traced_mb']:>6.2f} "
                     f"{r['rss_mb']:>6.1f}  {short}")
        print(lines[-1], flush=True)
    lines.append(f"# worst refusal: {worst_ms:.1f} ms, {worst_mb:.1f} MB "
                 f"(target: at most 50 ms and 50 MB)")
    print(lines[-1])
    Path(args.out).write_text("\n".join(lines) + "\n")
    return 0 if worst_ms <= 50 and worst_mb <= 50 else 1


if __name__ == "__main__":
    raise SystemExit(main())


CAP_BYTES = 3_000_000_000  # the address-space cap of each case's process (prlimit --as)


def capped(root: Path, kind: str, path: Path, timeout: float = 300) -> dict:
    """Run ``bench/hostile_case.py`` on ``path`` with ``root``'s reader in a fresh process
    capped at :data:`CAP_BYTES` of address space: its JSON line (``peak_mb``: the whole
    process's peak resident size, imports included), or the verdict "killed"."""
    import os
    import subprocess

    cmd = ["prlimit", f"--as={CAP_BYTES}", sys.executable,
           str(ROOT / "bench" / "hostile_case.py"), str(root), kind, str(path)]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=root,
                            env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    lines = [line for line in out.decode(errors="replace").splitlines() if line.startswith("{")]
    if proc.returncode == 0 and lines:
        doc = json.loads(lines[-1])
    else:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
        doc = {"verdict": f"killed (exit {proc.returncode}: {tail[0][:80]})",
               "ms": float("nan"), "rss_mb": float("nan"), "peak_mb": float("nan")}
    doc["wall_s"] = time.perf_counter() - t
    return doc


HEADER = ("Each case in a fresh process capped at {cap:,} bytes of address space "
          "(prlimit --as); ms: the reader's call; peak MB: the process's peak resident size "
          "(imports included); +MB: its growth during the call.\nCommand: {cmd}\n\n")


def table(rows: list, names: list[str]) -> str:
    """The before/after table of ``rows`` ((case, bytes, {tree: capped() result}))."""
    head = f"{'case':<40} {'bytes':>11}"
    for name in names:
        head += f" | {name + ' ms':>10} {'peak MB':>8} {'+MB':>7}"
    lines = [head]
    verdicts = []
    for case, size, results in rows:
        line = f"{case[:40]:<40} {size:>11,}"
        for name in names:
            r = results[name]
            line += f" | {r['ms']:>10.1f} {r['peak_mb']:>8.1f} {r['rss_mb']:>7.1f}"
            verdicts.append(f"  {case[:40]} [{name}]: {r['verdict'][:160]}")
        lines.append(line)
    return "\n".join(lines) + "\n\nVerdicts:\n" + "\n".join(verdicts)
