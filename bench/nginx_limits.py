"""The class deployment (nginx in front of N app processes) under three faults, on loopback only.

    .venv/bin/python bench/nginx_limits.py [--root DIR] [--sockets 600] [--skip class ...]

One client exhausting connections, an app process restarted under a browser's sessions, and a
class of 60 behind one NAT address with an attacker among them: each prints what was held and
who was served (how each is measured: docs/benchmarks.md). ``--root`` picks the checkout whose
deploy/ runs, to compare before and after a change. Also the toolkit of the deploy tests.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # loopback only
OTHER_ADDRESS = "127.0.0.2"  # another client address, still loopback
VERBOSE = True
FAIL_TIMEOUT = 5  # s: deploy/serve.py's fail_timeout for an app process


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Deployment:
    """A running deploy/serve.py: its address, its process group and its app processes."""

    port: int
    proc: subprocess.Popen
    apps: dict[int, int] = field(default_factory=dict)  # app port -> pid at start


@contextlib.contextmanager
def deployment(runs: Path, processes: int = 2, root: Path = ROOT,
               extra: tuple[str, ...] = (), timeout: float = 180.0) -> Iterator[Deployment]:
    """Run ``ROOT/deploy/serve.py processes PORT`` on 127.0.0.1 until it says it is up."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(root / "deploy/serve.py"), str(processes),
                             str(port), "--address", HOST, "--runs", str(runs), *extra],
                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, start_new_session=True)
    dep = Deployment(port, proc)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"deploy/serve.py exited ({proc.wait()})")
            m = re.match(r"app process (\d+) on 127\.0\.0\.1:(\d+)", line)
            if m:
                dep.apps[int(m.group(2))] = int(m.group(1))
            if line.startswith("CNN lens on "):
                break
        else:
            raise TimeoutError(f"deploy/serve.py was not up within {timeout:.0f} s")
        yield dep
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


# ---------------------------------------------------------------------------------------------
# HTTP with a cookie jar, as a browser
# ---------------------------------------------------------------------------------------------

def parse_set_cookies(values: list[str]) -> dict[str, str]:
    out = {}
    for v in values:
        name, _, rest = v.partition("=")
        out[name.strip()] = rest.split(";", 1)[0].strip()
    return out


@dataclass
class Response:
    status: int  # 0: the connection was reset or refused
    headers: dict[str, str]
    cookies: dict[str, str]
    body: bytes


def request(port: int, method: str, path: str, jar: dict[str, str] | None = None,
            headers: dict[str, str] | None = None, body: bytes | None = None,
            timeout: float = 20.0, source: str | None = None) -> Response:
    """One request through nginx; the cookies it sets go into ``jar`` (as a browser keeps them).
    ``source``: the client's own address (another loopback one, 127.0.0.2, is another client
    address to nginx)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    hdrs = dict(headers or {})
    if jar:
        hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        set_cookies = parse_set_cookies(r.headers.get_all("Set-Cookie") or [])
        if jar is not None:
            jar.update(set_cookies)
        return Response(r.status, {k.lower(): v for k, v in r.headers.items()}, set_cookies,
                        data)
    except (OSError, http.client.HTTPException):
        return Response(0, {}, {}, b"")
    finally:
        conn.close()


def visit(port: int, path: str, jar: dict[str, str], source: str | None = None,
          redirects: int = 3) -> Response:
    """A browser's request: redirects (the minter's 307 that hands out a browser id) are
    followed with the cookies they set, at most ``redirects``."""
    r = request(port, "GET", path, jar, source=source)
    while r.status in (301, 302, 303, 307, 308) and redirects > 0:
        r = request(port, "GET", r.headers.get("location", "/"), jar, source=source)
        redirects -= 1
    return r


def route_cookie_for(port: int, backend: int, tries: int = 20,
                     source: str | None = None) -> dict[str, str]:
    """A jar whose route cookie nginx gives to the app process on port ``backend``: the cookie
    of a first visit that this process answered."""
    for _ in range(tries):
        jar: dict[str, str] = {}
        r = visit(port, "/", jar, source)
        if r.headers.get("x-cnn-lens-backend", "").endswith(f":{backend}"):
            return {"cnnlens_route": jar["cnnlens_route"]}
    raise AssertionError(f"no first visit reached port {backend}")


def new_browser(port: int, source: str | None = None) -> dict[str, str]:
    """The cookie jar of a browser after its first page (empty: no id was given)."""
    jar: dict[str, str] = {}
    visit(port, "/", jar, source)
    return {k: v for k, v in jar.items() if k == "cnnlens_route"}


def health(port: int) -> bool:
    return request(port, "GET", "/_stcore/health", timeout=2).status == 200


def wait_health(port: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not health(port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing answered on port {port} within {timeout:.0f} s")
        time.sleep(0.1)


# ---------------------------------------------------------------------------------------------
# 1. Idle websockets
# ---------------------------------------------------------------------------------------------

def open_websocket(port: int, cookie: str | None, timeout: float = 5.0,
                   source: str | None = None) -> tuple[int, socket.socket]:
    """A websocket handshake on ``/_stcore/stream``, left open and idle. Returns the status
    (101: held; 0: reset, refused or no answer) and the socket (the caller closes it).
    ``source``: the client's own address (see ``request``)."""
    s = socket.create_connection((HOST, port), timeout=timeout,
                                 source_address=(source, 0) if source else None)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = ["GET /_stcore/stream HTTP/1.1", f"Host: {HOST}:{port}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
             "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: streamlit"]
    if cookie is not None:
        lines.append(f"Cookie: cnnlens_route={cookie}")
    try:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:  # the whole head: what follows are frames
            chunk = s.recv(1024)
            if not chunk:
                break
            head += chunk
        m = re.match(rb"HTTP/1\.1 (\d{3})", head)
        return (int(m.group(1)) if m else 0), s
    except OSError:
        return 0, s


def hold_websockets(port: int, cookies: Iterator[str | None], count: int,
                    stop_after_refusals: int = 20, source: str | None = None
                    ) -> tuple[dict[int, int], list[socket.socket]]:
    """Open up to ``count`` idle websockets (cookie from ``cookies``, one each) and keep the
    ones nginx held. Stops early after ``stop_after_refusals`` refusals in a row (capped).
    Returns {status: how many} and the open sockets."""
    statuses: dict[int, int] = {}
    held: list[socket.socket] = []
    refused_in_a_row = 0
    for _ in range(count):
        try:
            status, s = open_websocket(port, next(cookies), source=source)
        except OSError:
            status, s = 0, None
        statuses[status] = statuses.get(status, 0) + 1
        if status == 101:
            held.append(s)
            refused_in_a_row = 0
        else:
            if s is not None:
                s.close()
            refused_in_a_row += 1
            if refused_in_a_row >= stop_after_refusals:
                break
    return statuses, held


class Keepalive:
    """Answers the server's websocket pings on held idle sockets, as a live tab (or an attacker
    who wants to keep them) does: Streamlit drops a websocket that leaves pings unanswered."""

    def __init__(self) -> None:
        self._socks: dict[socket.socket, bytearray] = {}
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()

    def add(self, sockets: list[socket.socket]) -> None:
        with self._lock:
            for s in sockets:
                self._socks[s] = bytearray()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _main(self) -> None:
        import select
        while not self._stop.is_set():
            with self._lock:
                socks = list(self._socks)
            if not socks:
                time.sleep(0.2)
                continue
            for i in range(0, len(socks), 500):  # select() takes at most 1024 descriptors
                try:
                    ready = select.select(socks[i:i + 500], [], [], 0.2)[0]
                except (OSError, ValueError):
                    ready = []
                for s in ready:
                    self._read(s)

    def _read(self, s: socket.socket) -> None:
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        with self._lock:
            if not data:
                self._socks.pop(s, None)
                return
            buf = self._socks[s]
        buf += data
        while len(buf) >= 2:  # server frames: not masked
            opcode, n, at = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    return
                n, at = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n, at = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < at + n:
                return
            payload = bytes(buf[at:at + n])
            del buf[:at + n]
            if opcode == 0x9 and n <= 125:  # ping: a masked pong with its payload
                mask = os.urandom(4)
                with contextlib.suppress(OSError):
                    s.sendall(bytes([0x8A, 0x80 | n]) + mask +
                              bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def close_all(sockets: list[socket.socket]) -> None:
    for s in sockets:
        with contextlib.suppress(OSError):
            s.close()


# ---------------------------------------------------------------------------------------------
# 2. A browser session through nginx: page, websocket, one script run
# ---------------------------------------------------------------------------------------------

MEDIA = re.compile(rb"/media/[0-9a-f]{8,}\.(?:png|jpg|jpeg|gif)")


class Session:
    """A browser tab's session through nginx: the page, the websocket (held open in a thread, as
    the tab holds it) and one script run. ``session_id``: the id Streamlit gave it; ``media``:
    the image URLs it showed; ``backend``: the process(es) that answered the page."""

    def __init__(self, port: int, jar: dict[str, str], existing: str = "",
                 timeout: float = 120.0) -> None:
        self.port, self.jar, self.existing, self.timeout = port, jar, existing, timeout
        self.session_id, self.media, self.backend = "", [], ""
        self.error: BaseException | None = None
        self._ready, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)

    def open(self) -> Session:
        """As a browser: load the page (cookies into the jar), ask for /_stcore/health (the XSRF
        cookie), open the websocket (its cookies too; ``existing``: the session id to reconnect
        to, as Streamlit's client sends after a dropped connection), run the script once."""
        page = visit(self.port, "/", self.jar)
        if page.status != 200:
            raise RuntimeError(f"the page answered {page.status}")
        self.backend = page.headers.get("x-cnn-lens-backend", "")
        request(self.port, "GET", "/_stcore/health", self.jar)
        self._thread.start()
        if not self._ready.wait(self.timeout + 10) or self.error is not None:
            self.close()
            raise RuntimeError(f"the session did not run: {self.error!r}")
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def __enter__(self) -> Session:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # noqa: BLE001 - reported to open()
            self.error = exc
        finally:
            self._ready.set()

    async def _run(self) -> None:
        import websockets
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        jar = self.jar
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}
        protocols = ["streamlit", jar.get("_streamlit_xsrf") or "x"] + (
            [self.existing] if self.existing else [])
        async with websockets.connect(f"ws://{HOST}:{self.port}/_stcore/stream",
                                      subprotocols=protocols, additional_headers=headers,
                                      origin=f"http://{HOST}:{self.port}", max_size=None,
                                      open_timeout=self.timeout) as ws:
            jar.update(parse_set_cookies(ws.response.headers.get_all("Set-Cookie")))
            msg = BackMsg()
            msg.rerun_script.query_string = ""
            msg.rerun_script.context_info.timezone = "UTC"
            await ws.send(msg.SerializeToString())

            async def read() -> None:
                while True:
                    data = await ws.recv()
                    self.media.extend(m.decode() for m in MEDIA.findall(data))
                    fm = ForwardMsg()
                    fm.ParseFromString(data)
                    kind = fm.WhichOneof("type")
                    if kind == "new_session":
                        self.session_id = fm.new_session.initialize.session_id
                    elif kind == "script_finished" and (
                            fm.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN):
                        return

            await asyncio.wait_for(read(), self.timeout)
            self.media = sorted(set(self.media))
            self._ready.set()
            while not self._stop.is_set():  # the tab stays open; pings are answered
                try:
                    await asyncio.wait_for(ws.recv(), 0.1)
                except asyncio.TimeoutError:
                    continue


def upload(port: int, jar: dict[str, str], session_id: str) -> Response:
    """A file upload for ``session_id``, as the file uploader sends it (multipart PUT with the
    XSRF token from the cookie)."""
    boundary = uuid.uuid4().hex
    png = b"\x89PNG\r\n\x1a\n" + bytes(64)
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"digit.png\"\r\nContent-Type: image/png\r\n\r\n").encode() + png + \
        f"\r\n--{boundary}--\r\n".encode()
    return request(port, "PUT", f"/_stcore/upload_file/{session_id}/{uuid.uuid4()}", jar,
                   {"Content-Type": f"multipart/form-data; boundary={boundary}",
                    "X-Xsrftoken": jar.get("_streamlit_xsrf", ""),
                    "Origin": f"http://{HOST}:{port}"}, body)


def session_requests(port: int, jar: dict[str, str], session: Session) -> dict[str, list[int]]:
    """The statuses of the session's media (every image it showed) and of 3 uploads."""
    ups = [upload(port, jar, session.session_id) for _ in range(3)]
    out = {"media": [request(port, "GET", m, jar).status for m in session.media],
           "upload": [u.status for u in ups]}
    if VERBOSE and ups[0].status not in (200, 204):
        out["upload answer"] = ups[0].body[:80].decode(errors="replace")
    return out


def kill_app(app_port: int) -> None:
    """SIGKILL the process listening on 127.0.0.1:app_port (its memory, sessions, are gone)."""
    out = subprocess.run(["ss", "-Hltnp", f"sport = :{app_port}"], capture_output=True,
                         text=True).stdout
    pids = {int(p) for p in re.findall(r"pid=(\d+)", out)}
    if not pids:
        raise RuntimeError(f"no process listens on port {app_port}")
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while health(app_port) and time.monotonic() < deadline:
        time.sleep(0.02)


# ---------------------------------------------------------------------------------------------

def measure_connections(dep: Deployment, sockets: int) -> None:
    port = dep.port
    print(f"== 1. idle websockets (up to {sockets} each), then another client asks for the page")
    one = new_browser(port).get("cnnlens_route", "")
    other_jar = new_browser(port)
    variants = {
        "one cookie": iter(lambda: one, object()),
        "no cookie": iter(lambda: None, object()),
        "a new cookie each": (new_browser(port).get("cnnlens_route", uuid.uuid4().hex)
                              for _ in iter(int, 1)),
    }
    for name, cookies in variants.items():
        t0 = time.monotonic()
        statuses, held = hold_websockets(port, cookies, sockets)
        other = visit(port, "/", dict(other_jar))
        fresh = visit(port, "/", {})
        elsewhere = visit(port, "/", {}, source=OTHER_ADDRESS)
        print(f"   {name:18s}: held {len(held):4d} websockets, statuses {statuses}; the same "
              f"address: another browser's page {other.status or 'reset'}, a first visit "
              f"{fresh.status or 'reset'}; a first visit from {OTHER_ADDRESS}: "
              f"{elsewhere.status or 'reset'} ({time.monotonic() - t0:.1f} s)", flush=True)
        close_all(held)
        time.sleep(2)


# ---------------------------------------------------------------------------------------------
# 3. A class behind one school address (NAT) and an attacker behind the same address
# ---------------------------------------------------------------------------------------------

CLASS_ADDRESS = "127.0.0.5"  # the school's address (loopback)


def made_up_cookies(processes: int = 2) -> Iterator[str]:
    """Route cookies a client invents: the unsigned form, and the signed form with a made-up
    signature."""
    i = 0
    while True:
        sig = "" if i % 2 else "." + base64.urlsafe_b64encode(os.urandom(16)).decode()[:22]
        yield f"{os.urandom(16).hex()}{sig}.{i % processes}"
        i += 1


@dataclass
class Attacker:
    """What one client behind the class's address holds: idle websockets with made-up ids and
    without a cookie, ids it minted (each holding ``per_id`` idle websockets)."""

    made_up: dict[int, int] = field(default_factory=dict)
    cookieless: dict[int, int] = field(default_factory=dict)
    mint_statuses: dict[int, int] = field(default_factory=dict)
    minted: list[str] = field(default_factory=list)
    on_minted: dict[int, int] = field(default_factory=dict)
    held: list[socket.socket] = field(default_factory=list)
    keepalive: Keepalive = field(default_factory=Keepalive)

    def close(self) -> None:
        self.keepalive.close()
        close_all(self.held)


def attack(port: int, source: str, sockets: int = 600, mint_tries: int = 1000,
           mint_seconds: float = 20.0, per_id: int = 1) -> Attacker:
    """Hold up to ``sockets`` idle websockets with made-up ids and as many without a cookie,
    try to mint ``mint_tries`` ids (within ``mint_seconds``), then hold ``per_id`` idle
    websockets on each id minted; the server's pings are answered, so that they stay open.
    The caller closes what is held."""
    a = Attacker()
    a.made_up, held = hold_websockets(port, made_up_cookies(), sockets, source=source)
    a.held += held
    a.keepalive.add(held)
    a.cookieless, held = hold_websockets(port, iter(lambda: None, object()), sockets,
                                         source=source)
    a.held += held
    a.keepalive.add(held)
    deadline = time.monotonic() + mint_seconds
    for _ in range(mint_tries):
        if time.monotonic() > deadline:
            break
        r = request(port, "GET", "/", source=source)
        a.mint_statuses[r.status] = a.mint_statuses.get(r.status, 0) + 1
        if "cnnlens_route" in r.cookies:
            a.minted.append(r.cookies["cnnlens_route"])
    for cookie in a.minted:
        statuses, held = hold_websockets(port, iter(lambda c=cookie: c, object()), per_id,
                                         source=source)
        a.held += held
        a.keepalive.add(held)
        for k, v in statuses.items():
            a.on_minted[k] = a.on_minted.get(k, 0) + v
    return a


@dataclass
class Student:
    """A student's browser behind the class's address: its page and ``tabs`` websockets."""

    page: int = 0
    tabs: list[int] = field(default_factory=list)
    tries: int = 0
    joined_s: float = 0.0
    held: list[socket.socket] = field(default_factory=list)

    def served(self, tabs: int) -> bool:
        return self.page == 200 and self.tabs == [101] * tabs


def join(port: int, source: str, tabs: int, deadline: float) -> Student:
    """A student opens the app and ``tabs`` tabs of it (idle websockets with the browser's
    cookie); a page answered 429 is loaded again after its Retry-After (as the busy page does by
    itself), until ``deadline``."""
    st, t0 = Student(), time.monotonic()
    jar: dict[str, str] = {}
    while True:
        st.tries += 1
        r = visit(port, "/", jar, source)
        st.page = r.status
        if r.status == 200 or r.status != 429 or time.monotonic() > deadline:
            break
        time.sleep(float(r.headers.get("retry-after", "3") or 3))
    if st.page == 200:
        for _ in range(tabs):
            status, s = open_websocket(port, jar.get("cnnlens_route"), source=source)
            st.tabs.append(status)
            if status == 101:
                st.held.append(s)
            else:
                s.close()
    st.joined_s = time.monotonic() - t0
    return st


def class_behind_one_address(port: int, students: int = 60, tabs: int = 4,
                             within_s: float = 30.0, source: str = CLASS_ADDRESS,
                             patience_s: float = 90.0) -> list[Student]:
    """``students`` join from ``source``, spread evenly over ``within_s`` seconds, each with
    ``tabs`` tabs; each retries a busy page until ``patience_s`` after it started. The caller
    closes their sockets."""
    out: list[Student | None] = [None] * students

    def one(i: int) -> None:
        time.sleep(i * within_s / students)
        out[i] = join(port, source, tabs, time.monotonic() + patience_s)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(students)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(within_s + patience_s + 60)
    return [s or Student() for s in out]


def measure_class(dep: Deployment, students: int = 60, tabs: int = 4) -> None:
    port = dep.port
    print(f"== 3. a class of {students} ({tabs} tabs each) behind one address ({CLASS_ADDRESS})"
          f" after an attacker behind the same address", flush=True)
    t0 = time.monotonic()
    a = attack(port, CLASS_ADDRESS)
    print(f"   attacker: made-up ids {a.made_up}; no cookie {a.cookieless}; minting "
          f"{a.mint_statuses} ({len(a.minted)} ids); a websocket on each minted id "
          f"{a.on_minted}; holds {len(a.held)} websockets ({time.monotonic() - t0:.1f} s)",
          flush=True)
    t0 = time.monotonic()
    try:
        got = class_behind_one_address(port, students, tabs)
        try:
            served = sum(s.served(tabs) for s in got)
            pages: dict[int, int] = {}
            for s in got:
                pages[s.page] = pages.get(s.page, 0) + 1
            sockets = sum(len(s.held) for s in got)
            slowest = max(s.joined_s for s in got)
            print(f"   students served (page 200 and {tabs} websockets): {served}/{students}; "
                  f"pages {pages}; websockets held {sockets}; tries {sum(s.tries for s in got)}"
                  f"; slowest join {slowest:.1f} s ({time.monotonic() - t0:.1f} s in all)",
                  flush=True)
        finally:
            for s in got:
                close_all(s.held)
    finally:
        a.close()
    time.sleep(2)


def measure_restart(dep: Deployment) -> None:
    port = dep.port
    a_port, b_port = list(dep.apps)[:2]
    print(f"== 2. app process on port {a_port} killed; a browser whose route names it opens a "
          f"session during the outage")
    jar = route_cookie_for(port, a_port)
    kill_app(a_port)
    t0 = time.monotonic()
    with Session(port, jar) as s:
        print(f"   session {s.session_id[:8]} opened {time.monotonic() - t0:.1f} s after the "
              f"kill (page from {s.backend}); images {len(s.media)}; restarted process up: "
              f"{health(a_port)}", flush=True)
        wait_health(a_port)
        time.sleep(FAIL_TIMEOUT + 1)  # nginx tries a failed process again after fail_timeout
        print(f"   after the restart: {session_requests(port, jar, s)}", flush=True)

    print("== 2b. the process holding a session is killed; the browser reconnects")
    jar = route_cookie_for(port, b_port)
    with Session(port, jar) as s:
        before = session_requests(port, jar, s)
        kill_app(b_port)
    with Session(port, jar, existing=s.session_id) as s2:
        print(f"   before the kill {before}; reconnected: new session "
              f"{s2.session_id != s.session_id}, page from {s2.backend}", flush=True)
        wait_health(b_port)
        time.sleep(FAIL_TIMEOUT + 1)
        print(f"   after the restart: {session_requests(port, jar, s2)}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to serve")
    parser.add_argument("--sockets", type=int, default=600, help="websockets per variant")
    parser.add_argument("--skip", choices=["connections", "class", "restart"],
                        action="append", default=[])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, deployment(Path(tmp) / "runs",
                                                          root=args.root.resolve()) as dep:
        print(f"deploy/serve.py of {args.root} on port {dep.port}, apps {dep.apps}", flush=True)
        if "connections" not in args.skip:
            measure_connections(dep, args.sockets)
        if "class" not in args.skip:
            measure_class(dep)
        if "restart" not in args.skip:
            measure_restart(dep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
