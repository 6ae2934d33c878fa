"""Serve CNN lens to a class: N app processes behind one nginx address, with sticky sessions.

    .venv/bin/python deploy/serve.py N PORT [--address 0.0.0.0] [--runs DIR]

Starts the app processes on 127.0.0.1 (restarting any that dies), fills in the nginx template
and runs nginx in the foreground from a temp folder, so no root and no system files are needed.
The processes share one runs folder (runs and the training lock); a secret made per deployment
signs the browser ids that the minter hands out, so per-browser limits hold behind one school
address. Ctrl+C stops everything. See docs/deploy.md.
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
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from deploy.minter import start_minter  # noqa: E402
from model.classroom.browser_id import SECRET_FILE_ENV, SECRET_PATTERN, new_secret  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_nginx() -> str | None:
    """The nginx binary (Debian puts it in /usr/sbin, often outside a user's PATH)."""
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None)


# An app process that refuses a connection is skipped for this long (then tried again).
FAIL_TIMEOUT_S = 5
# The most connections nginx's worker holds (see deploy/nginx.conf.template), if the
# open-files limit allows; a few more files for its listening socket, logs and temp files.
MAX_WORKER_CONNECTIONS = 8192
SPARE_FILES = 64
# Files nginx serves from disk, not through an app process (their names carry their content's
# hash, so they are cached for good): Streamlit's own frontend (125 files, 3.5 MB a fresh
# browser: 0.3-0.4 s of an app process's CPU each) and the components' scripts, which the app
# writes to static/cnnlens/ beside app.py (ui/components/assets.py: SUBFOLDER).
APP_ASSETS = ROOT / "static" / "cnnlens"


def raise_open_files_limit(want: int) -> int:
    """Raise this process's open-files limit (inherited by nginx) towards ``want`` (as far as
    the hard limit allows, no root needed); the limit now in force."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if target > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def streamlit_assets() -> Path:
    """The folder of Streamlit's frontend files (``/static/...``) in the installed package,
    found without importing it."""
    import importlib.util
    spec = importlib.util.find_spec("streamlit")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("streamlit is not installed in this Python (pip install -r "
                         "requirements.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "static"


def _conf_path(path: Path) -> str:
    """``path`` as a quoted nginx argument, refused if it holds a character nginx would read
    otherwise."""
    text = str(path)
    if any(c in text for c in '"\\;{}$\n\r\0') or not path.is_absolute():
        raise ValueError(f"{text!r}: nginx cannot serve files from this folder (move the "
                         "checkout or the virtual environment to a plain absolute path)")
    return f'"{text}/"'


def nginx_config(app_ports: list[int], listen: str, tmp: Path, nofile: int, secret: str,
                 mint_port: int, streamlit_static: Path | None = None,
                 app_static: Path = APP_ASSETS) -> str:
    """deploy/nginx.conf.template filled in: one upstream per app process (the others its
    backups, for a failover), one for a first visit, the minter's, the route-cookie maps, the
    browser-id secret, the capacity, and the folders of the files it serves itself
    (``streamlit_static``: None for the installed Streamlit's)."""
    if not app_ports:
        raise ValueError("at least one app process port is needed")
    if not SECRET_PATTERN.fullmatch(secret):
        raise ValueError("the browser-id secret must be 64 hex digits")
    if nofile < 2 * SPARE_FILES:
        raise ValueError(f"an open-files limit of {nofile} is too low for nginx; raise it "
                         f"(ulimit -n) to at least {4 * SPARE_FILES}")

    def server(port: int, backup: bool = False) -> str:
        return (f"        server 127.0.0.1:{port} max_fails=1 fail_timeout={FAIL_TIMEOUT_S}s"
                f"{' backup' if backup else ''};")

    blocks = ["    upstream cnnlens_mint {  # new browsers: deploy/minter.py",
              f"        server 127.0.0.1:{mint_port};", "    }",
              "    upstream cnnlens_any {  # a first visit: the process with fewest connections",
              "        least_conn;", *(server(p) for p in app_ports), "    }"]
    for k, port in enumerate(app_ports):
        blocks += [f"    upstream cnnlens_{k} {{", server(port),
                   *(server(p, backup=True) for p in app_ports if p != port), "    }"]
    signed = r"~^1\|[0-9a-f]{32}\.[A-Za-z0-9_-]{22}\."  # a signed id, then the process
    routes = "\n".join(f'        "{signed}{k}$" cnnlens_{k};' for k in range(len(app_ports)))
    served = "\n".join(f'        "~(^|\\s)127\\.0\\.0\\.1:{p}$" {k};'
                       for k, p in enumerate(app_ports))
    worker_connections = min(MAX_WORKER_CONNECTIONS, nofile - SPARE_FILES)
    fields = {"@UPSTREAMS@": "\n".join(blocks), "@ROUTES@": routes, "@SERVED@": served,
              "@WORKER_CONNECTIONS@": str(worker_connections), "@NOFILE@": str(nofile),
              "@LISTEN@": listen, "@TMP@": str(tmp), "@SECRET@": secret,
              "@STREAMLIT_STATIC@": _conf_path(streamlit_static or streamlit_assets()),
              "@APP_STATIC@": _conf_path(app_static)}
    text = TEMPLATE.read_text()
    for key, value in fields.items():
        text = text.replace(key, value)
    return text


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a new file only this user can read (mode 0600 from its creation)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def reachable_addresses() -> list[str]:
    """This machine's addresses other machines can reach (not loopback): from ``ip addr``,
    else the one the default route uses (found without sending anything)."""
    found: list[str] = []
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["ip", "-o", "addr", "show", "scope", "global"],
                             capture_output=True, text=True, timeout=5).stdout
        for line in out.splitlines():
            parts = line.split()
            if "inet" in parts:
                found.append(parts[parts.index("inet") + 1].split("/")[0])
            elif "inet6" in parts:
                found.append(parts[parts.index("inet6") + 1].split("/")[0])
    if not found:
        with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # a documentation address: nothing is sent
            address = s.getsockname()[0]
            if not address.startswith("127."):
                found.append(address)
    return list(dict.fromkeys(found))


def url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def announce(address: str, port: int, reachable: list[str], details: str) -> list[str]:
    """The lines that tell the teacher where the class is. Listening on every address
    (``0.0.0.0`` or ``::``), the addresses students can open come first, this machine's own
    (127.0.0.1, which no student can reach) last; on one address, that address."""
    if address not in ("0.0.0.0", "::"):
        return [f"CNN lens on {url(address, port)} ({details}); Ctrl+C stops it."]
    lines = [f"CNN lens is listening on every address of this machine, port {port} ({details}); "
             f"Ctrl+C stops it."]
    if reachable:
        lines.append("students open: " + ", ".join(url(a, port) for a in reachable))
    else:
        lines.append("students: no address other than this machine's own was found (check the "
                     "network connection; `ip addr` lists the addresses)")
    lines.append(f"on this machine only: {url('127.0.0.1', port)}")
    return lines


def start_app(port: int, env: dict[str, str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "ui.launch",  # streamlit run app.py, warm before ready
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
    tmp = Path(tempfile.mkdtemp(prefix="cnn-lens-nginx-"))
    tmp.chmod(0o755)  # nginx's workers may run as another user when started by root
    # The browser-id secret of this deployment: nginx's configuration (also 0600, read by
    # nginx's master alone), the minter and the app processes (through the file) share it.
    secret = new_secret()
    secret_file = tmp / "browser_id.secret"
    write_private(secret_file, secret + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CNN_LENS_RUNS_DIR": str(runs),
           SECRET_FILE_ENV: str(secret_file),
           # one secret for all: any process accepts the session cookies the others set
           "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(32)}
    minter, mint_port = start_minter(secret)
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
            print(f"app process {apps[port].pid} on 127.0.0.1:{port} (behind nginx; "
                  f"not for students)", flush=True)
        conf = tmp / "nginx.conf"
        nofile = raise_open_files_limit(MAX_WORKER_CONNECTIONS + SPARE_FILES)
        if nofile < MAX_WORKER_CONNECTIONS + SPARE_FILES:
            print(f"note: the open-files limit is {nofile}: nginx holds at most "
                  f"{max(nofile - SPARE_FILES, 0)} connections (raise it with ulimit -n)",
                  file=sys.stderr, flush=True)
        listen = (f"[{args.address}]:{args.port}" if ":" in args.address
                  else f"{args.address}:{args.port}")
        try:
            write_private(conf, nginx_config(ports, listen, tmp, nofile, secret, mint_port))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        check = subprocess.run([nginx, "-t", "-q", "-p", str(tmp), "-c", str(conf),
                                "-e", str(tmp / "error.log")], capture_output=True, text=True)
        if check.returncode:
            print(f"error: nginx refused its configuration:\n{check.stderr}", file=sys.stderr)
            return 2
        proxy = subprocess.Popen([nginx, "-p", str(tmp), "-c", str(conf), "-e",
                                  str(tmp / "error.log"), "-g", "daemon off;"],
                                 start_new_session=True)
        wait_health(args.port)
        everywhere = args.address in ("0.0.0.0", "::")
        details = (f"{args.processes} app processes, runs folder {runs}, nginx config {conf}")
        for line in announce(args.address, args.port,
                             reachable_addresses() if everywhere else [], details):
            print(line, flush=True)
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
        minter.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
