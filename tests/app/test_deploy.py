"""deploy/serve.py: nginx and two app processes on 127.0.0.1, sticky sessions, one runs folder.

A run trained into the shared runs folder (by the project's own job manager, as an app process
would) appears in the model list of both app processes, reached through the proxy. One client
holding many idle websockets meets its limit and others still get the page; a session opened
while its process was down keeps its images and uploads once the process is back, and a session
whose process died goes on in another process. Every socket goes to 127.0.0.1 (another client
address is 127.0.0.2, also loopback); the deployment is started once for the module.
"""

from __future__ import annotations

import os
import re
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bench import nginx_limits as nl
from bench.server import CHROMIUM

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


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """deploy/serve.py with 2 app processes on 127.0.0.1: (url, [app ports], runs, deployment)."""
    if find_nginx() is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx; .ci/run installs it)")
    runs = tmp_path_factory.mktemp("deploy") / "runs"
    with nl.deployment(runs) as dep:
        yield f"http://127.0.0.1:{dep.port}", list(dep.apps), runs, dep


def _cookie_for(url: str, backend: int) -> str:
    """A route cookie that nginx sends to the app process on port ``backend``: the one a first
    visit answered by that process got."""
    return nl.route_cookie_for(int(url.rsplit(":", 1)[1]), backend)["cnnlens_route"]


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


def test_two_processes_behind_nginx_share_the_runs_folder(deployed) -> None:
    url, apps, runs, _ = deployed
    assert len(apps) == 2
    status, headers, body = _get(url + "/_stcore/health")
    assert status == 200 and body == "ok"
    # the first visit's route: the browser's id and the process that answered
    assert re.match(r"cnnlens_route=[0-9a-f]{32}\.[01]; Path=/", headers["set-cookie"])
    status, _, page = _get(url + "/")
    assert status == 200 and '<div id="root">' in page

    # Sticky: one cookie, one process; different cookies spread over both.
    a, b = _cookie_for(url, apps[0]), _cookie_for(url, apps[1])
    for cookie, port in ((a, apps[0]), (b, apps[1])):
        seen = {_get(url + "/_stcore/health", cookie)[1]["x-cnn-lens-backend"]
                for _ in range(5)}
        assert seen == {f"127.0.0.1:{port}"}

    # A run trained into the shared folder (what the Train page of one process does) ...
    from model.training.jobs import JobManager
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


# ---------------------------------------------------------------------------------------------
# One client cannot take the connections; a restarted process keeps the sessions working
# ---------------------------------------------------------------------------------------------

PER_BROWSER, PER_COOKIELESS_ADDRESS, PER_ADDRESS = 24, 32, 300  # deploy/nginx.conf.template


def _repeat(value):
    while True:
        yield value


def test_one_client_holding_idle_websockets_meets_its_limit(deployed) -> None:
    url, _, _, dep = deployed
    port = dep.port
    mine = nl.request(port, "GET", "/_stcore/health").cookies["cnnlens_route"]
    theirs = {"cnnlens_route": nl.request(port, "GET", "/_stcore/health").cookies[
        "cnnlens_route"]}
    assert mine != theirs["cnnlens_route"]

    # One browser (one cookie): 24 websockets held, then 429; nginx is not exhausted.
    statuses, held = nl.hold_websockets(port, _repeat(mine), 3 * PER_BROWSER)
    try:
        assert len(held) == PER_BROWSER and statuses[101] == PER_BROWSER, statuses
        assert statuses.get(429, 0) >= 20 and set(statuses) == {101, 429}, statuses
        page = nl.request(port, "GET", "/", dict(theirs))  # another student, same address
        assert page.status == 200 and b'<div id="root">' in page.body
        assert nl.request(port, "GET", "/").status == 200  # a first visit
    finally:
        nl.close_all(held)

    # No cookie at all: 32 per address, then 429; a browser with its cookie still gets in.
    statuses, held = nl.hold_websockets(port, _repeat(None), 2 * PER_COOKIELESS_ADDRESS)
    try:
        assert len(held) == PER_COOKIELESS_ADDRESS and set(statuses) == {101, 429}, statuses
        assert nl.request(port, "GET", "/", dict(theirs)).status == 200
        assert nl.request(port, "GET", "/", source=nl.OTHER_ADDRESS).status == 200
    finally:
        nl.close_all(held)

    # A new made-up cookie on every websocket: 300 per address, then 429; that address is
    # full (the price of a per-address cap), another address gets the page.
    made_up = (f"{os.urandom(16).hex()}.{i % 2}" for i in range(10 * PER_ADDRESS))
    statuses, held = nl.hold_websockets(port, made_up, PER_ADDRESS + 40)
    try:
        assert len(held) == PER_ADDRESS and set(statuses) == {101, 429}, statuses
        assert nl.request(port, "GET", "/", dict(theirs)).status == 429
        page = nl.request(port, "GET", "/", source=nl.OTHER_ADDRESS)
        assert page.status == 200 and b'<div id="root">' in page.body
    finally:
        nl.close_all(held)


def test_uploads_are_rate_limited_per_browser(deployed) -> None:
    _, _, _, dep = deployed
    jar = {"cnnlens_route": nl.request(dep.port, "GET", "/_stcore/health").cookies[
        "cnnlens_route"]}
    # An unknown session: Streamlit answers 400 (or 403 without the XSRF cookie); nginx 429 once
    # the burst (10 beyond the first) is spent.
    statuses = [nl.upload(dep.port, dict(jar), "no-such-session").status for _ in range(30)]
    assert all(s in (400, 403) for s in statuses[:11]), statuses
    assert 429 in statuses, statuses


def test_sessions_survive_a_restarted_app_process(deployed) -> None:
    _, apps, _, dep = deployed
    port = dep.port
    a_port, b_port = apps

    # Process A dies; a browser whose route names A opens a session during the outage: nginx
    # fails over to B and moves the browser's route to B.
    jar = nl.route_cookie_for(port, a_port)
    nl.kill_app(a_port)
    with nl.Session(port, jar) as s:
        assert s.backend.endswith(f"127.0.0.1:{b_port}"), s.backend
        assert s.session_id and s.media, (s.session_id, s.media)
        # deploy/serve.py restarts A; nginx tries it again after fail_timeout
        nl.wait_health(a_port)
        time.sleep(nl.FAIL_TIMEOUT + 1)
        got = nl.session_requests(port, jar, s)
        assert got["media"] == [200] * len(s.media) and got["upload"] == [204] * 3, got
        assert jar["cnnlens_route"].endswith(f".{apps.index(b_port)}"), jar  # the route moved

    # The process holding a session dies (its sessions are gone): the browser reconnects with
    # the old session id, as Streamlit's client does; it gets a new session in the other
    # process, and that session's images and uploads work once the dead one is back.
    jar = nl.route_cookie_for(port, b_port)
    with nl.Session(port, jar) as s:
        assert nl.session_requests(port, jar, s)["upload"] == [204] * 3
        nl.kill_app(b_port)
    with nl.Session(port, jar, existing=s.session_id) as s2:
        assert s2.session_id != s.session_id and s2.backend.endswith(f":{a_port}"), s2.backend
        nl.wait_health(b_port)
        time.sleep(nl.FAIL_TIMEOUT + 1)
        got = nl.session_requests(port, jar, s2)
        assert got["media"] == [200] * len(s2.media) and got["upload"] == [204] * 3, got


def test_listening_on_every_address_prints_the_addresses_students_can_open() -> None:
    from serve import announce
    lines = announce("0.0.0.0", 8080, ["192.168.1.20", "fd00::2"], "2 app processes")
    assert lines[0].startswith("CNN lens is listening on every address of this machine, port "
                               "8080 (2 app processes)")
    assert lines[1] == "students open: http://192.168.1.20:8080/, http://[fd00::2]:8080/"
    assert lines[2] == "on this machine only: http://127.0.0.1:8080/"
    assert "127.0.0.1" not in lines[0] + lines[1]
    assert "no address other than this machine's own" in announce("::", 80, [], "x")[1]
    assert announce("10.0.0.5", 8080, [], "x") == [
        "CNN lens on http://10.0.0.5:8080/ (x); Ctrl+C stops it."]
