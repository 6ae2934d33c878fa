"""deploy/serve.py: nginx and two app processes on 127.0.0.1, sticky sessions, one runs folder.

A run trained into the shared runs folder (by the project's own job manager, as an app process
would) appears in the model list of both app processes, reached through the proxy.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from bench.server import CHROMIUM, free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
sys.path.insert(0, str(ROOT / "deploy"))
from serve import find_nginx  # noqa: E402

pytestmark = [pytest.mark.slow]


def _get(url: str, cookie: str | None = None) -> tuple[int, dict[str, str], str]:
    req = urllib.request.Request(url, headers={"Cookie": f"cnnlens_route={cookie}"} if cookie
                                 else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode()


@contextlib.contextmanager
def deployment(runs: Path, processes: int = 2):
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "deploy/serve.py"), str(processes),
                             str(port), "--address", "127.0.0.1", "--runs", str(runs)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, start_new_session=True)
    try:
        apps = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"deploy/serve.py exited ({proc.wait()})")
            m = re.match(r"app process \d+ on 127.0.0.1:(\d+)", line)
            if m:
                apps.append(int(m.group(1)))
            if line.startswith("CNN lens on "):
                break
        yield f"http://127.0.0.1:{port}", apps
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _cookie_for(url: str, backend: int) -> str:
    """A route cookie that nginx sends to the app process on port ``backend``."""
    for _ in range(200):
        cookie = uuid.uuid4().hex
        if _get(url + "/_stcore/health", cookie)[1]["x-cnn-lens-backend"].endswith(
                f":{backend}"):
            return cookie
    raise AssertionError(f"no cookie reached port {backend}")


def _model_options(url: str, cookie: str) -> list[str]:
    """The sidebar's model list as a browser sees it through the proxy."""
    from bench.server import browser, wait_idle
    with browser(1280, 800) as page:
        page.context.add_cookies([{"name": "cnnlens_route", "value": cookie, "url": url}])
        page.goto(url + "/")
        box = page.locator(".st-key-model-choice input")
        try:
            box.wait_for(timeout=120_000)
            wait_idle(page, 120_000)
            box.click()
            options = page.get_by_role("option")
            options.first.wait_for(timeout=30_000)
            return options.all_inner_texts()
        except Exception:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "deploy_failure.png"), full_page=True)
            raise


def test_two_processes_behind_nginx_share_the_runs_folder(tmp_path) -> None:
    if find_nginx() is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx; .ci/run installs it)")
    runs = tmp_path / "runs"
    with deployment(runs) as (url, apps):
        assert len(apps) == 2
        status, headers, body = _get(url + "/_stcore/health")
        assert status == 200 and body == "ok"
        assert headers["set-cookie"].startswith("cnnlens_route=")  # the first visit's route
        status, _, page = _get(url + "/")
        assert status == 200 and '<div id="root">' in page

        # Sticky: one cookie, one process; different cookies spread over both.
        a, b = _cookie_for(url, apps[0]), _cookie_for(url, apps[1])
        for cookie, port in ((a, apps[0]), (b, apps[1])):
            seen = {_get(url + "/_stcore/health", cookie)[1]["x-cnn-lens-backend"]
                    for _ in range(5)}
            assert seen == {f"127.0.0.1:{port}"}

        # A run trained into the shared folder (what the Train page of one process does) ...
        from model.jobs import JobManager
        from tests.model.test_train import small_cfg, tiny_data
        manager = JobManager(runs)
        job = manager.start(small_cfg(max_steps=2), tiny_data(), owner="deploy-test")
        manager.wait(120)
        assert job.status == "done" and job.final.exists()

        # ... is in the model list of both processes (in a browser through the proxy; without
        # Chromium, in the sidebar both processes run, under AppTest on the same folder).
        if _have_browser():
            for cookie in (a, b):
                options = _model_options(url, cookie)
                assert any(o.startswith("trained here: compact") for o in options), options
        else:
            from streamlit.testing.v1 import AppTest
            os.environ["CNN_LENS_RUNS_DIR"] = str(runs)
            try:
                at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
            finally:
                del os.environ["CNN_LENS_RUNS_DIR"]
            labels = at.selectbox(key="model.choice").options  # as shown
            assert any(o.startswith("trained here: compact") for o in labels), labels


def _have_browser() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).exists()
