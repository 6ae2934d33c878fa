"""Serve CNN lens to a class: N app processes behind one nginx address, with sticky sessions.

    .venv/bin/python deploy/serve.py N PORT [--address 0.0.0.0] [--runs DIR]
    bash deploy/serve.sh N PORT            # the same

Starts N ``streamlit run app.py`` processes on free ports of 127.0.0.1, waits until each
answers, writes ``deploy/nginx.conf.template`` filled in to a temp folder and runs nginx in the
foreground from there (no root needed, no /etc edits). Every process shares one runs folder
(``--runs``, else ``$CNN_LENS_RUNS_DIR``, else ``runs/``), so a run trained through any of
them appears in every model list, and the lock in it lets one job train at a time. An app
process that dies is restarted. Ctrl+C (or SIGTERM) stops everything and removes the temp
folder.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.template"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_nginx() -> str | None:
    """The nginx binary (Debian puts it in /usr/sbin, often outside a user's PATH)."""
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None)


def nginx_config(app_ports: list[int], listen: str, tmp: Path) -> str:
    upstreams = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;"
                          for p in app_ports)
    return (TEMPLATE.read_text().replace("@UPSTREAMS@", upstreams)
            .replace("@LISTEN@", listen).replace("@TMP@", str(tmp)))


def start_app(port: int, env: dict[str, str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
           "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", "--global.developmentMode", "false"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)


def wait_health(port: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing answered on port {port} within {timeout:.0f} s")


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="deploy/serve.py", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Serve CNN lens with N app processes behind one nginx address.")
    parser.add_argument("processes", nargs="?", type=int, default=2,
                        help="app processes (about one per CPU core)")
    parser.add_argument("port", nargs="?", type=int, default=8080, help="the address's port")
    parser.add_argument("--address", default="0.0.0.0",
                        help="interface nginx listens on (127.0.0.1: this machine only)")
    parser.add_argument("--runs", default=os.environ.get("CNN_LENS_RUNS_DIR") or
                        str(ROOT / "runs"), help="the runs folder every process shares")
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error("at least one app process is needed")
    nginx = find_nginx()
    if nginx is None:
        print("error: nginx is not installed (Debian: apt-get install nginx)", file=sys.stderr)
        return 2

    runs = Path(args.runs).resolve()
    runs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CNN_LENS_RUNS_DIR": str(runs),
           # one secret for all: any process accepts the session cookies the others set
           "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(32)}
    tmp = Path(tempfile.mkdtemp(prefix="cnn-lens-nginx-"))
    tmp.chmod(0o755)  # nginx's workers may run as another user when started by root
    ports = [free_port() for _ in range(args.processes)]
    apps: dict[int, subprocess.Popen] = {}
    proxy: subprocess.Popen | None = None
    stopping = False

    def on_signal(signum, frame):  # noqa: ARG001
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        for port in ports:
            apps[port] = start_app(port, env)
        for port in ports:
            wait_health(port)
            print(f"app process {apps[port].pid} on 127.0.0.1:{port}", flush=True)
        conf = tmp / "nginx.conf"
        conf.write_text(nginx_config(ports, f"{args.address}:{args.port}", tmp))
        check = subprocess.run([nginx, "-t", "-q", "-p", str(tmp), "-c", str(conf),
                                "-e", str(tmp / "error.log")], capture_output=True, text=True)
        if check.returncode:
            print(f"error: nginx refused its configuration:\n{check.stderr}", file=sys.stderr)
            return 2
        proxy = subprocess.Popen([nginx, "-p", str(tmp), "-c", str(conf), "-e",
                                  str(tmp / "error.log"), "-g", "daemon off;"],
                                 start_new_session=True)
        wait_health(args.port)
        host = "127.0.0.1" if args.address in ("0.0.0.0", "::") else args.address
        print(f"CNN lens on http://{host}:{args.port}/ ({args.processes} app processes, runs "
              f"folder {runs}, nginx config {conf}); Ctrl+C stops it.", flush=True)
        while not stopping:
            time.sleep(0.5)
            if proxy.poll() is not None:
                print(f"error: nginx exited ({proxy.returncode}); see {tmp / 'error.log'}",
                      file=sys.stderr)
                return 1
            for port, proc in list(apps.items()):
                if proc.poll() is not None and not stopping:
                    print(f"app process on port {port} exited ({proc.returncode}); restarting",
                          file=sys.stderr, flush=True)
                    apps[port] = start_app(port, env)
        return 0
    finally:
        if proxy is not None:
            stop(proxy, signal.SIGQUIT)
        for proc in apps.values():
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
