"""A script against a class: 60 scripted seats then a real student; 300 scripted digits then a
real send. Run it on a checkout before and after seats that belong to someone:

    python bench/class_seats.py [--root /path/to/checkout] [--out bench/results/class_seats]

Seats: starts ``streamlit run app.py`` of ``--root`` on 127.0.0.1, a teacher starts a class, 60
scripted sessions open the join link (a fresh Streamlit session each, as a script does) and
leave; then a real student opens the link every 5 s (up to 60 s): the time until it is seated.
Gallery: the class store of ``--root`` directly (its public interface): 60 scripted seats send
300 digits as fast as the limits let them, then a real student's send: refused or shown.
Peak memory: the server's and this process's max RSS. Loopback only, bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


async def seats_phase(root: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    from bench import server as srv
    from bench.class_follow import start_teaching
    from bench.st_client import Session
    srv.ROOT = root  # the checkout under test
    port = srv.free_port()
    runs = Path(tempfile.mkdtemp(prefix="class_seats_"))
    proc = srv.start_server(port, {"CNN_LENS_RUNS_DIR": str(runs)}, log=runs / "server.log")
    try:
        srv.wait_http(port, 180)
        teacher, code = await start_teaching(port, "Feature maps", 120)
        t0, refused = time.perf_counter(), 0
        for _ in range(6):  # 60 join links, 10 at a time
            batch = [Session(port, f"class={code}", 120) for _ in range(10)]
            replies = await asyncio.gather(*(s.open() for s in batch))
            refused += sum("full" in " ".join(r.texts + r.warnings) or
                           "wait" in " ".join(r.warnings) for r in replies)
            await asyncio.gather(*(s.close() for s in batch))
        script_s = time.perf_counter() - t0
        t1, seated, tries = time.perf_counter(), False, 0
        while time.perf_counter() - t1 < 60 and not seated:
            tries += 1
            real = Session(port, f"class={code}", 120)
            reply = await real.open()
            words = " ".join(reply.warnings + reply.texts)
            seated = "is full" not in words and f"class={code}" in real.query and \
                "wait" not in words
            await real.close()
            if not seated:
                await asyncio.sleep(5)
        real_s = time.perf_counter() - t1
        await teacher.close()
        status = Path(f"/proc/{proc.pid}/status").read_text()
        rss = int(status.split("VmHWM:")[1].split()[0])
        return {"script_60_joins_s": round(script_s, 2), "script_refused": refused,
                "real_student_seated": seated, "real_student_after_s": round(real_s, 1),
                "tries": tries, "server_peak_rss_mb": round(rss / 1024, 1)}
    finally:
        srv.stop(proc)


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
    ap.add_argument("--skip-seats", action="store_true")
    args = ap.parse_args(argv)
    result = {"root": str(args.root), "gallery": gallery_phase(args.root.resolve())}
    if not args.skip_seats:
        result["seats"] = asyncio.run(seats_phase(args.root.resolve()))
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.with_suffix(".json").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
