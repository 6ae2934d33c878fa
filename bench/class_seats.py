"""A script against a class's gallery: 60 scripted seats send 300 digits as fast as the limits
let them, then a real student's send: refused or shown. Run it on a checkout before and after:

    python bench/class_seats.py [--root /path/to/checkout] [--out bench/results/class_seats]

It drives the class store of ``--root`` directly (its public interface), on a temporary SQLite
file. Peak memory: this process's max RSS. (Seats themselves are checked by the store's tests:
tests/app/classroom/test_seats.py.)
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def gallery_phase(root: Path) -> dict:
    sys.path.insert(0, str(root))
    for name in [m for m in sys.modules if m.split(".")[0] in ("ui", "model", "viz")]:
        del sys.modules[name]
    try:
        store_mod = importlib.import_module("model.classroom.backends")
        rules = importlib.import_module("model.classroom.rules")
    except ImportError:  # before: the store lived under ui/
        store_mod = importlib.import_module("ui.classroom.store")
        rules = importlib.import_module("ui.classroom.rules")
    folder = Path(tempfile.mkdtemp(prefix="class_gallery_"))
    s = store_mod.open_store(folder)
    now = time.time()
    secret = rules.secret_hash("bench")
    s.create("BEN234", secret, now)
    real = "f" * 16  # the real student, seated before the script
    seats = [real] + [f"{i:016x}" for i in range(59)]
    for i, seat in enumerate(seats):
        try:
            s.join("BEN234", seat, now, f"b{i}", f"10.0.{i // 30}.1")
        except TypeError:
            s.join("BEN234", seat, now)
    digit = bytes(784)
    t0, sent, t = time.perf_counter(), 0, now
    while sent < 300 and t - now < 600:  # the script's clock, as fast as the limits allow
        for seat in seats[1:]:
            try:
                s.send("BEN234", seat, digit, 1, 1, "", t)
                sent += 1
            except rules.ClassError:
                pass
            s.seen("BEN234", seat, True, t)
        t += 2.0
    script_s = t - now
    s.seen("BEN234", real, True, t)
    try:
        ident = s.send("BEN234", real, digit, 7, 7, "", t + 1)
        shown = any(d.id == ident for d in s.digits("BEN234"))
        result = "shown" if shown else "stored"
    except rules.ClassError as exc:
        result = f"refused: {exc}"
    return {"script_digits_sent": sent, "script_clock_s": round(script_s, 1),
            "wall_s": round(time.perf_counter() - t0, 2), "real_send": result,
            "gallery_size": len(s.digits("BEN234")),
            "bench_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                       / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=ROOT)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    result = {"root": str(args.root), "gallery": gallery_phase(args.root.resolve())}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.with_suffix(".json").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
