"""What a new browser's first page load costs the app processes, with and without nginx serving
the files that never change (deploy/nginx.conf.template: Streamlit's frontend and the
components' scripts).

    python bench/page_files.py [--browsers 6] [--out bench/results/page_files]

Starts ``deploy/serve.py`` with 2 app processes on 127.0.0.1 and opens, in Debian's headless
Chromium, one view link (Saliency of ``seed``, a different digit each time) per browser with an
empty cache, alternately through nginx and straight to an app process (as without deploy/),
each until the page is drawn and idle. For each load: the CPU the app processes spent (from
/proc), nginx's, the bytes the browser received (its responses' encoded lengths) and the
seconds until the page was idle. Results go to ``OUT.json`` and ``OUT.txt``. Loopback only;
at most 20 browsers, each load bounded by 120 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import nginx_limits as nl  # noqa: E402
from bench.classroom_load import _uptime, cpu_seconds  # noqa: E402
from bench.server import CHROMIUM, CHROMIUM_ARGS, wait_idle  # noqa: E402

MAX_BROWSERS = 20
LINK = "?model=seed&input=sample:{digit}&layer=relu2&view=saliency&method=saliency"


def _nginx_pids(deploy_pid: int) -> list[int]:
    """nginx's processes (its master and worker) started by deploy/serve.py."""
    parent, name = {}, {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
                name[int(d)] = Path(f"/proc/{d}/cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue
            parent[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])

    def under(pid: int) -> bool:
        while pid > 1:
            pid = parent.get(pid, 0)
            if pid == deploy_pid:
                return True
        return False
    return [p for p, cmd in name.items() if b"nginx" in cmd and under(p)]


def load(browser, url: str) -> tuple[float, int]:
    """Open ``url`` in a fresh context (an empty cache); (seconds until idle, bytes received)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    received = []
    page.on("requestfinished", lambda r: received.append(r.sizes()["responseBodySize"]))
    t0 = time.perf_counter()
    try:
        page.goto(url, timeout=120_000)
        page.locator("[data-testid=saliency-map] canvas").first.wait_for(timeout=120_000)
        wait_idle(page, 120_000)
        return time.perf_counter() - t0, sum(received)
    finally:
        context.close()


def run(browsers: int) -> dict:
    if not 1 <= browsers <= MAX_BROWSERS:
        raise ValueError(f"browsers must be 1..{MAX_BROWSERS}, got {browsers}")
    from playwright.sync_api import sync_playwright
    out: dict = {"meta": {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cpus": os.cpu_count(),
                          "uptime_before": _uptime(), "browsers": browsers}, "loads": []}
    with nl.deployment(Path(tempfile.mkdtemp(prefix="page-files-")) / "runs") as dep, \
            sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        apps = list(dep.apps.values())
        nginx = _nginx_pids(dep.proc.pid)
        direct = f"http://127.0.0.1:{next(iter(dep.apps))}/"
        proxied = f"http://127.0.0.1:{dep.port}/"
        load(browser, proxied + LINK.format(digit=0))  # each process's first page: imports
        load(browser, direct + LINK.format(digit=1))
        for i in range(2 * browsers):
            via = "nginx" if i % 2 == 0 else "app process"
            url = (proxied if via == "nginx" else direct) + LINK.format(digit=10 + i)
            app0, ng0 = sum(map(cpu_seconds, apps)), sum(map(cpu_seconds, nginx))
            seconds, size = load(browser, url)
            out["loads"].append({"via": via, "seconds": seconds, "bytes": size,
                                 "app_cpu_s": sum(map(cpu_seconds, apps)) - app0,
                                 "nginx_cpu_s": sum(map(cpu_seconds, nginx)) - ng0})
        browser.close()
    out["meta"]["uptime_after"] = _uptime()
    return out


def table(result: dict) -> str:
    m = result["meta"]
    lines = [f"{m['date']} · {m['cpus']} CPUs · {m['browsers']} fresh browsers each way",
             f"uptime before: {m['uptime_before']}", f"uptime after:  {m['uptime_after']}", "",
             f"{'first page load via':<20} {'app CPU ms':>10} {'nginx CPU ms':>12} "
             f"{'received kB':>11} {'idle after s':>12}   (medians)"]
    for via in ("app process", "nginx"):
        rs = [r for r in result["loads"] if r["via"] == via]
        lines.append(f"{via:<20} {1000 * statistics.median(r['app_cpu_s'] for r in rs):10.0f} "
                     f"{1000 * statistics.median(r['nginx_cpu_s'] for r in rs):12.0f} "
                     f"{statistics.median(r['bytes'] for r in rs) / 1e3:11.0f} "
                     f"{statistics.median(r['seconds'] for r in rs):12.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--browsers", type=int, default=6)
    ap.add_argument("--out", type=Path, default=Path("bench/results/page_files"))
    args = ap.parse_args(argv)
    result = run(args.browsers)
    text = table(result)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1))
    args.out.with_suffix(".txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
