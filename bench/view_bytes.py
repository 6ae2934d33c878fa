"""What one student's new digit costs in a view: the bytes the server sends and its CPU time.

    python bench/view_bytes.py [--root DIR] [--views saliency compare maps] [--digits 20]

Starts the app of the checkout ``--root`` on 127.0.0.1 (``python -m ui.launch``) and, for each
view, opens ``?model=seed&input=sample:3&layer=relu5&view=V`` with one session of Streamlit's own
websocket protocol (``bench/st_client.py``, no browser), then moves the Sample slider to
``--digits`` new digits one after another: per digit, the mean bytes of the run's messages and
the server's CPU time (Linux /proc). An idle second session stays open throughout, so that the
app's compiled script stays cached as it does while a class is connected. Compare two checkouts
back to back (``--root``). Bounded: at most 100 digits, each request times out after 120 s.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.classroom_load import cpu_seconds  # noqa: E402
from bench.server import ROOT, free_port, start_server, stop, wait_http  # noqa: E402
from bench.server_memory import sample_state  # noqa: E402
from bench.st_client import Session  # noqa: E402

MAX_DIGITS = 100
FIRST_DIGIT = 20  # the new digits are samples 20, 21, ... (the link opens sample 3)


async def measure(port: int, pid: int, views: list[str], digits: int) -> list[dict]:
    keep = Session(port, "", 120)
    await keep.open()
    rows = []
    try:
        for view in views:
            s = Session(port, f"model=seed&input=sample:3&layer=relu5&view={view}", 120)
            await s.open()
            c0, t0, sent = cpu_seconds(pid), time.perf_counter(), 0
            for k in range(FIRST_DIGIT, FIRST_DIGIT + digits):
                reply = await s.set(*sample_state(s, k))
                if not reply.finished or reply.errors:
                    raise RuntimeError(f"{view}, sample {k}: {reply.errors or reply.status}")
                sent += reply.bytes
            rows.append({"view": view, "digits": digits, "kb": sent / digits / 1e3,
                         "cpu_ms": 1e3 * (cpu_seconds(pid) - c0) / digits,
                         "wall_ms": 1e3 * (time.perf_counter() - t0) / digits})
            await s.close()
    finally:
        await keep.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=ROOT, help="the app checkout to serve")
    ap.add_argument("--views", nargs="+", default=["saliency", "compare", "maps"])
    ap.add_argument("--digits", type=int, default=20)
    args = ap.parse_args(argv)
    if not 1 <= args.digits <= MAX_DIGITS:
        ap.error(f"--digits is 1..{MAX_DIGITS}")
    port = free_port()
    server = start_server(port, {}, root=args.root.resolve(), start="launcher")
    try:
        wait_http(port, timeout=300)
        rows = asyncio.run(measure(port, server.pid, args.views, args.digits))
    finally:
        stop(server)
    print(f"{args.root.resolve()}: a new digit in each view, mean of {args.digits}")
    for r in rows:
        print(f"  {r['view']:<10} {r['kb']:7.1f} kB sent   server CPU {r['cpu_ms']:5.1f} ms   "
              f"wall {r['wall_ms']:4.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
