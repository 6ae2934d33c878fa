"""Start the explorer (``streamlit run app.py``, or the launcher that warms the app before it
reports ready: ``python -m ui.launch``) and drive it with headless Debian Chromium.

Shared by the benchmarks (``bench/app_latency.py``, ``bench/classroom_views.py``) and the browser
test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


START_MODES = ("launcher", "streamlit")


def server_command(port: int, root: Path = ROOT, script: str = "app.py",
                   start: str = "streamlit") -> list[str]:
    """The command that serves ``root/script`` on 127.0.0.1:``port``.

    Args:
        start: ``launcher`` (``python -m ui.launch``: warms the app, then answers health) or
            ``streamlit`` (plain ``streamlit run``); the launcher only serves ``app.py``.
    Returns:
        The argument list, to run with ``root`` as the working folder.
    """
    if start not in START_MODES:
        raise ValueError(f"start is one of {', '.join(START_MODES)}, not {start!r}")
    options = ["--server.headless", "true", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none", "--global.developmentMode", "false"]
    if start == "launcher" and script == "app.py":
        return [sys.executable, "-m", "ui.launch", *options]
    return [sys.executable, "-m", "streamlit", "run", str(root / script), *options]


def start_server(port: int, env: dict[str, str] | None = None, log: Path | None = None,
                 script: str = "app.py", root: Path = ROOT, start: str = "streamlit"
                 ) -> subprocess.Popen:
    """:func:`server_command` in its own process group (kill with :func:`stop`); its stdout
    and stderr go to ``log`` when given."""
    cmd = server_command(port, root, script, start)
    full_env = {**os.environ, "PYTHONPATH": str(root), **(env or {})}
    out = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    try:
        return subprocess.Popen(cmd, cwd=root, env=full_env, stdout=out, stderr=out,
                                start_new_session=True)
    finally:
        if log is not None:
            out.close()  # the child holds its own copy


def wait_http(port: int, timeout: float = 60.0) -> None:
    """Until the server's health check answers 200 (the launcher's once the app is warm)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"streamlit did not answer on port {port} within {timeout:.0f} s")


def goto_when_up(page, url: str, t0: float, limit: float = 60.0) -> None:
    """Open ``url`` as soon as the server listens (retried every 20 ms, ``limit`` s after
    ``t0``, a ``time.perf_counter()`` reading): the start of every cold-start measurement."""
    while True:
        try:
            page.goto(url, timeout=2000)
            return
        except Exception:  # noqa: BLE001 - not listening yet
            if time.perf_counter() - t0 > limit:
                raise
            time.sleep(0.02)


def stop(proc: subprocess.Popen) -> None:
    """Kill the server and its children (its own process group)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@contextlib.contextmanager
def server(env: dict[str, str] | None = None, log: Path | None = None,
           script: str = "app.py") -> Iterator[str]:
    """A running app's URL; its output goes to ``log`` when given."""
    port = free_port()
    proc = start_server(port, env, log, script)
    try:
        wait_http(port)
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop(proc)


@contextlib.contextmanager
def browser(width: int = 1280, height: int = 800):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = b.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            b.close()


def wait_idle(page, timeout: float = 30_000) -> None:
    """Wait until Streamlit has finished running the script (no 'Running' status widget)."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)
