"""Signed browser ids: the id in the ``cnnlens_route`` cookie that nginx hands out and checks.

A class behind one school address (NAT) shares that address, so limits per browser need an id
a client cannot make up. deploy/serve.py mints ids signed with a secret of the deployment;
nginx checks them (its secure_link module: base64url of MD5 over secret, id, secret), and this
module checks them in the app with the same secret, found through the file that
``$CNN_LENS_BROWSER_ID_SECRET_FILE`` names. Without a deployment (plain ``streamlit run``)
there is no secret and no id: the app keys its per-browser limits on the session instead.

Cookie value: ``ID.SIG`` (just minted) or ``ID.SIG.K`` (K: the app process that holds the
browser's session; not signed, it only picks a process). ID: 32 hex digits; SIG: 22 base64url
characters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

COOKIE_NAME = "cnnlens_route"
SECRET_FILE_ENV = "CNN_LENS_BROWSER_ID_SECRET_FILE"
# The secret: 64 hex digits (256 bits). Read from a file, so never longer than this.
SECRET_PATTERN = re.compile(r"[0-9a-f]{64}")
_COOKIE = re.compile(r"([0-9a-f]{32})\.([A-Za-z0-9_-]{22})(?:\.[0-9]{1,3})?")
_MAX_COOKIE = 32 + 1 + 22 + 4  # the longest well-formed value


def new_secret() -> str:
    """A fresh secret for one deployment: 64 hex digits."""
    return secrets.token_hex(32)


def signature(browser: str, secret: str) -> str:
    """The signature of id ``browser``: base64url (no padding) of MD5(secret + id + secret),
    what nginx's ``secure_link_md5 "SECRET${id}SECRET"`` computes.

    Args:
        browser: the id, 32 hex digits.
        secret: the deployment's secret.
    Returns:
        22 base64url characters.
    """
    return base64.urlsafe_b64encode(_digest(browser, secret)).rstrip(b"=").decode()


def _digest(browser: str, secret: str) -> bytes:
    return hashlib.md5(f"{secret}{browser}{secret}".encode(), usedforsecurity=False).digest()


def mint(secret: str) -> str:
    """A new signed cookie value ``ID.SIG`` (no process yet: nginx adds it)."""
    browser = secrets.token_hex(16)
    return f"{browser}.{signature(browser, secret)}"


def read_secret(path: str | os.PathLike | None = None) -> str | None:
    """The deployment's secret from ``path`` (default: the file ``$CNN_LENS_BROWSER_ID_SECRET_FILE``
    names); None when there is none or the file is unreadable or malformed."""
    path = path if path is not None else os.environ.get(SECRET_FILE_ENV)
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            text = f.read(128).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if SECRET_PATTERN.fullmatch(text) else None


_cached: tuple[str, float, str | None] | None = None  # (path, mtime, secret)


def _secret() -> str | None:
    """The secret of the deployment this process runs in, read once per file version."""
    global _cached
    path = os.environ.get(SECRET_FILE_ENV)
    if not path:
        return None
    try:
        mtime = Path(path).stat().st_mtime
    except OSError:
        return None
    if _cached is None or _cached[:2] != (path, mtime):
        _cached = (path, mtime, read_secret(path))
    return _cached[2]


def browser_id(cookie: str | None, secret: str | None = None) -> str | None:
    """The browser id in a ``cnnlens_route`` cookie value if its signature is right.

    Args:
        cookie: the cookie's value as the browser sent it (None: no cookie).
        secret: the secret to check with (default: this deployment's, see module docstring).
    Returns:
        The id (32 hex digits), or None: no cookie, a malformed or forged one, or no
        deployment secret (plain ``streamlit run``: key on the session instead).
    """
    if not cookie or len(cookie) > _MAX_COOKIE:
        return None
    m = _COOKIE.fullmatch(cookie)
    if m is None:
        return None
    secret = secret if secret is not None else _secret()
    if not secret:
        return None
    browser, sig = m.groups()
    # Compared as bytes, as nginx does: its base64 decoder, like Python's, ignores the last
    # character's unused bits, so both accept the same cookies.
    given = base64.urlsafe_b64decode(sig + "==")
    return browser if hmac.compare_digest(given, _digest(browser, secret)) else None
