"""deploy/serve.py: nginx and two app processes on 127.0.0.1, sticky sessions, one runs folder.

A run trained into the shared runs folder (by the project's own job manager, as an app process
would) appears in the model list of both app processes, reached through the proxy. Browser ids
are signed: a made-up one is not honoured, an attacker's idle sockets behind a class's address
hold nothing the class needs, new ids are rate-limited, and the per-address limit admits a class
of 60 with 4 tabs each. One browser holding many idle websockets meets its limit; a session opened
while its process was down keeps its images and uploads once the process is back, and a session
whose process died goes on in another process. Every socket goes to 127.0.0.1 (another client
address is 127.0.0.2, also loopback; tests that mint many ids use an address of their own, as
new ids are counted per address); the deployment is started once for the module.
"""

from __future__ import annotations

import os
import re
import sys
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import pytest

from bench import nginx_limits as nl
from bench.server import CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
sys.path.insert(0, str(ROOT / "deploy"))
from serve import find_nginx  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("deploy")]  # one deployment


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


def _model_options(url: str, cookies: list[str]) -> list[list[str]]:
    """The sidebar's model list as a browser sees it through the proxy, one page per route
    cookie; the pages load side by side (a process's first page is its costliest)."""
    from bench.server import wait_idle
    from tests.app.browser.chromium import new_page
    with ExitStack() as pages_open:
        pages = [pages_open.enter_context(new_page(1280, 800)) for _ in cookies]
        for page, cookie in zip(pages, cookies, strict=True):
            page.context.add_cookies([{"name": "cnnlens_route", "value": cookie, "url": url}])
            page.goto(url + "/")
        lists = []
        for page in pages:
            box = page.locator(".st-key-model-choice input")
            try:
                box.wait_for(timeout=120_000)
                wait_idle(page, 120_000)
                box.click()
                options = page.get_by_role("option")
                options.first.wait_for(timeout=30_000)
                lists.append(options.all_inner_texts())
            except Exception:
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "deploy_failure.png"), full_page=True)
                raise
        return lists


def test_two_processes_behind_nginx_share_the_runs_folder(deployed) -> None:
    url, apps, runs, _ = deployed
    assert len(apps) == 2
    status, headers, body = _get(url + "/_stcore/health")  # a monitor: no cookie given
    assert status == 200 and body == "ok" and "cnnlens_route" not in headers.get(
        "set-cookie", "")
    # A first visit: a signed id (307 back to the page), then the process that answered.
    port = int(url.rsplit(":", 1)[1])
    first = nl.request(port, "GET", "/")
    assert first.status == 307 and first.headers["location"] == "/", first
    assert re.fullmatch(r"[0-9a-f]{32}\.[A-Za-z0-9_-]{22}", first.cookies["cnnlens_route"])
    jar = dict(first.cookies)
    page = nl.request(port, "GET", "/", jar)
    assert page.status == 200 and b'<div id="root">' in page.body
    assert jar["cnnlens_route"] in (f"{first.cookies['cnnlens_route']}.{k}" for k in (0, 1))

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
        for options in _model_options(url, [a, b]):
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

PER_BROWSER, PER_ADDRESS, MINT_BURST = 24, 640, 90  # deploy/nginx.conf.template


def _repeat(value):
    while True:
        yield value


def _deployment_secret(dep) -> str:
    """The browser-id secret the app processes were given (the file their environment names)."""
    from model.classroom.browser_id import SECRET_FILE_ENV, read_secret
    pid = next(iter(dep.apps.values()))
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    path = next(e.split(b"=", 1)[1].decode() for e in environ
                if e.startswith(SECRET_FILE_ENV.encode() + b"="))
    assert os.stat(path).st_mode & 0o777 == 0o600
    secret = read_secret(path)
    assert secret is not None
    return secret


def test_a_signed_id_is_honoured_and_a_forged_one_is_not(deployed) -> None:
    from model.classroom.browser_id import browser_id
    _, _, _, dep = deployed
    port, source = dep.port, "127.0.0.6"
    minted = nl.request(port, "GET", "/", source=source).cookies["cnnlens_route"]
    browser, sig = minted.split(".")
    # nginx and the app agree: the app, with the deployment's secret, reads the same id
    secret = _deployment_secret(dep)
    assert browser_id(minted, secret) == browser and browser_id(f"{minted}.1", secret) == browser

    # Signed: served, and the cookie keeps the id (with the process that answered).
    jar = {"cnnlens_route": minted}
    assert nl.request(port, "GET", "/", jar, source=source).status == 200
    assert jar["cnnlens_route"].rsplit(".", 1)[0] == minted

    # Forged (the old unsigned form, a made-up signature, another id with a real signature):
    # a new browser, given a new id; never served under the claimed one.
    other = ("0" if browser[0] != "0" else "1") + browser[1:]
    for forged in (f"{browser}.0", f"{browser}.{'A' * 22}.0", f"{other}.{sig}.0"):
        assert browser_id(forged, secret) is None
        r = nl.request(port, "GET", "/", {"cnnlens_route": forged}, source=source)
        assert r.status == 307, (forged, r.status)
        fresh = r.cookies["cnnlens_route"].split(".")[0]
        assert fresh not in (browser, other) and browser_id(r.cookies["cnnlens_route"], secret)
        status, s = nl.open_websocket(port, forged, source=source)
        s.close()
        assert status == 403, (forged, status)

    # The per-browser limit holds for a signed id: 24 websockets, then 429; the browser next to
    # it (same address) still gets the page.
    statuses, held = nl.hold_websockets(port, _repeat(minted), 3 * PER_BROWSER, source=source)
    try:
        assert len(held) == PER_BROWSER and set(statuses) == {101, 429}, statuses
        page = nl.visit(port, "/", {}, source=source)
        assert page.status == 200 and b'<div id="root">' in page.body
    finally:
        nl.close_all(held)


def test_an_attackers_idle_sockets_do_not_lock_out_real_cookies(deployed) -> None:
    _, _, _, dep = deployed
    port, source = dep.port, "127.0.0.7"
    students = [nl.new_browser(port, source) for _ in range(3)]
    assert all(s for s in students)
    # Made-up ids and no cookie: 10 times what once filled the address; nothing is held.
    made_up, held_a = nl.hold_websockets(port, nl.made_up_cookies(), 10 * 32, source=source)
    cookieless, held_b = nl.hold_websockets(port, _repeat(None), 10 * 32, source=source)
    try:
        assert not held_a and set(made_up) == {403}, made_up
        assert not held_b and set(cookieless) == {403}, cookieless
        for jar in students:  # real cookies: page and websocket
            assert nl.request(port, "GET", "/", dict(jar), source=source).status == 200
            status, s = nl.open_websocket(port, jar["cnnlens_route"], source=source)
            s.close()
            assert status == 101
        assert nl.visit(port, "/", {}, source=source).status == 200  # a new browser too
    finally:
        nl.close_all(held_a + held_b)


def test_minting_new_ids_is_rate_limited(deployed) -> None:
    _, _, _, dep = deployed
    port, source = dep.port, "127.0.0.8"
    t0 = time.monotonic()
    answers = [nl.request(port, "GET", "/", source=source) for _ in range(MINT_BURST + 110)]
    elapsed = time.monotonic() - t0
    minted = {r.cookies["cnnlens_route"] for r in answers if r.status == 307}
    refused = [r for r in answers if r.status == 429]
    # the burst, plus 1 a second while it ran (and one for the leaky bucket's rounding)
    assert MINT_BURST <= len(minted) <= MINT_BURST + elapsed + 2, (len(minted), elapsed)
    assert len(minted) + len(refused) == len(answers)
    busy = refused[0]
    assert busy.headers["retry-after"] == "3" and b'http-equiv="refresh"' in busy.body
    assert not any("cnnlens_route" in r.cookies for r in refused)
    # a browser with an id is not affected by its address's minting
    jar = {"cnnlens_route": next(iter(minted))}
    assert nl.request(port, "GET", "/", jar, source=source).status == 200


def test_the_per_address_limit_admits_a_class_of_60_with_4_tabs(deployed) -> None:
    _, _, _, dep = deployed
    got = nl.class_behind_one_address(dep.port, students=60, tabs=4, within_s=5.0,
                                      source="127.0.0.9", patience_s=30.0)
    try:
        assert [s.page for s in got] == [200] * 60
        assert sum(s.served(4) for s in got) == 60, [s.tabs for s in got]
        assert sum(len(s.held) for s in got) == 240 < PER_ADDRESS
    finally:
        for s in got:
            nl.close_all(s.held)


def test_uploads_are_rate_limited_per_browser(deployed) -> None:
    _, _, _, dep = deployed
    jar = nl.new_browser(dep.port)
    # An unknown session: Streamlit answers 400 (or 403 without the XSRF cookie); nginx 429 once
    # the burst (10 beyond the first) is spent.
    statuses = [nl.upload(dep.port, dict(jar), "no-such-session").status for _ in range(30)]
    assert all(s in (400, 403) for s in statuses[:11]), statuses
    assert 429 in statuses, statuses


def _wait_routed_again(port: int, route: dict[str, str], backend: int) -> None:
    """Until nginx sends a request on ``route`` (a jar whose cookie names the app process on
    port ``backend``) to that process again: it is back and its fail_timeout has passed (nginx
    has one worker, so one failure state), without a fixed wait's slack."""
    deadline = time.monotonic() + nl.FAIL_TIMEOUT + 60
    while True:
        answer = nl.request(port, "GET", "/_stcore/health", dict(route))
        if answer.status == 200 and answer.headers.get("x-cnn-lens-backend", "").endswith(
                f"127.0.0.1:{backend}"):
            return
        assert time.monotonic() < deadline, f"nginx never sent {route} to port {backend} again"
        time.sleep(0.1)


def _fetch(url: str, accept: str = "gzip") -> tuple[dict[str, str], bytes]:
    """(headers, body as sent) of a GET that accepts ``accept`` encodings."""
    req = urllib.request.Request(url, headers={"Accept-Encoding": accept})
    with urllib.request.urlopen(req, timeout=30) as r:
        return {k.lower(): v for k, v in r.headers.items()}, r.read()


def test_files_that_never_change_come_from_nginx_compressed_and_cached(deployed) -> None:
    """Streamlit's frontend and the components' scripts: read from disk by nginx (no app
    process answers), gzip-compressed, cached for good, byte for byte what the app serves."""
    import asyncio
    import gzip

    from serve import APP_ASSETS, streamlit_assets

    from bench.st_client import Session
    url, apps, _, _ = deployed
    app = f"http://127.0.0.1:{apps[0]}"

    async def open_saliency() -> None:  # the page publishes the saliency panel's script
        s = Session(apps[0], "model=seed&input=sample:3&view=saliency&method=saliency", 120)
        try:
            assert (await s.open()).finished
        finally:
            await s.close()
    asyncio.run(open_saliency())
    script = max(APP_ASSETS.glob("saliencymap-*.js"), key=lambda p: p.stat().st_mtime)
    frontend = next(streamlit_assets().glob("js/index.*.js"))
    for path in (f"/static/js/{frontend.name}", f"/app/static/cnnlens/{script.name}"):
        headers, body = _fetch(url + path)
        assert "x-cnn-lens-backend" not in headers, (path, headers)  # no app process answered
        assert headers["content-encoding"] == "gzip" and headers["vary"] == "Accept-Encoding"
        assert headers["cache-control"] == "public, max-age=31536000, immutable", headers
        assert headers["content-type"] == "application/javascript"
        assert headers["x-content-type-options"] == "nosniff"
        _, direct = _fetch(app + path, "identity")  # the same file from the app process
        assert gzip.decompress(body) == direct and len(body) < len(direct) / 2, path
    with pytest.raises(urllib.error.HTTPError) as missing:
        _fetch(url + "/static/js/no-such-file.js")
    assert missing.value.code == 404


def test_nginx_is_refused_a_folder_it_would_misread(tmp_path) -> None:
    from serve import APP_ASSETS, _conf_path

    from ui.components import assets
    assert APP_ASSETS == ROOT / "static" / assets.SUBFOLDER  # beside app.py, where it writes
    assert _conf_path(tmp_path) == f'"{tmp_path}/"'
    for bad in ("/srv/a;b", '/srv/a"b', "/srv/a{b}", "/srv/$x", "relative/folder"):
        with pytest.raises(ValueError, match="nginx cannot serve files from this folder"):
            _conf_path(Path(bad))


def test_sessions_survive_a_restarted_app_process(deployed) -> None:
    _, apps, _, dep = deployed
    port = dep.port
    a_port, b_port = apps

    # Process A dies; a browser whose route names A opens a session during the outage: nginx
    # fails over to B and moves the browser's route to B.
    jar = nl.route_cookie_for(port, a_port)
    to_a = dict(jar)  # a route to A that stays one
    nl.kill_app(a_port)
    with nl.Session(port, jar) as s:
        assert s.backend.endswith(f"127.0.0.1:{b_port}"), s.backend
        assert s.session_id and s.media, (s.session_id, s.media)
        # deploy/serve.py restarts A; nginx tries it again after fail_timeout
        nl.wait_health(a_port)
        _wait_routed_again(port, to_a, a_port)
        got = nl.session_requests(port, jar, s)
        assert got["media"] == [200] * len(s.media) and got["upload"] == [204] * 3, got
        assert jar["cnnlens_route"].endswith(f".{apps.index(b_port)}"), jar  # the route moved

    # The process holding a session dies (its sessions are gone): the browser reconnects with
    # the old session id, as Streamlit's client does; it gets a new session in the other
    # process, and that session's images and uploads work once the dead one is back.
    jar = nl.route_cookie_for(port, b_port)
    to_b = dict(jar)
    with nl.Session(port, jar) as s:
        assert nl.session_requests(port, jar, s)["upload"] == [204] * 3
        nl.kill_app(b_port)
    with nl.Session(port, jar, existing=s.session_id) as s2:
        assert s2.session_id != s.session_id and s2.backend.endswith(f":{a_port}"), s2.backend
        nl.wait_health(b_port)
        _wait_routed_again(port, to_b, b_port)
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
