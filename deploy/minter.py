"""The minter: gives a new browser a signed id (deploy/nginx.conf.template sends it every request
without one, at most as fast as its per-address limit allows).

It answers every request with a 307 back to the same address and a ``cnnlens_route`` cookie
``ID.SIG`` (model/classroom/browser_id.py); the browser repeats the request with it, and nginx
then counts it under its own id. Listens on 127.0.0.1 only, in a thread of deploy/serve.py.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from model.classroom.browser_id import COOKIE_NAME, mint

_MAX_TARGET = 2048  # a longer address is sent to the start page instead
_CHUNK = 1 << 16


def redirect_target(path: str) -> str:
    """Where the 307 sends the browser: the same path on this site, never another site (a path
    starting with ``//`` or ``/\\`` is another host to a browser), else ``/``."""
    if (not path.startswith("/") or path[1:2] in ("/", "\\") or len(path) > _MAX_TARGET
            or any(ord(c) < 0x21 or ord(c) > 0x7E for c in path)):
        return "/"
    return path


def make_handler(secret: str) -> type[BaseHTTPRequestHandler]:
    """A request handler that mints ids signed with ``secret``."""

    class Mint(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "cnn-lens-minter"
        sys_version = ""

        def _answer(self) -> None:
            # Read (and drop) a request body, so that nginx is not cut off while sending it;
            # nginx bounds its size (client_max_body_size).
            try:
                left = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                left = 0
            while left > 0:
                chunk = self.rfile.read(min(left, _CHUNK))
                if not chunk:
                    break
                left -= len(chunk)
            self.send_response(307)
            self.send_header("Location", redirect_target(self.path))
            self.send_header("Set-Cookie", f"{COOKIE_NAME}={mint(secret)}; Path=/; HttpOnly; "
                                           f"SameSite=Lax")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _answer

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet
            pass

    return Mint


def start_minter(secret: str) -> tuple[ThreadingHTTPServer, int]:
    """Start the minter on a free port of 127.0.0.1 in a daemon thread.

    Args:
        secret: the deployment's browser-id secret.
    Returns:
        The server (``shutdown()`` stops it) and its port.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(secret))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="minter", daemon=True).start()
    return server, server.server_address[1]
