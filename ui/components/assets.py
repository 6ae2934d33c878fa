"""The components' scripts as files the browser fetches once, instead of text in every message.

Streamlit puts a component's script in each message that draws it: the saliency panel's 150 kB
went to the browser again whenever its data changed (a method, a digit), encoded and sent by the
one interpreter every student shares. Each script is written once into the app's static folder
(``server.enableStaticServing``) under a name carrying its content's hash, and the component's
script becomes a loader that imports it from there once per page; the browser's HTTP cache
(and, behind ``deploy/``'s nginx, nginx itself) serves it after that. When the folder cannot be
written (a read-only install) or static serving is off, the script goes inline as before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from pathlib import Path

import streamlit as st

from viz.limits import STATIC_ASSET_BYTES

_LOG = logging.getLogger(__name__)
APP_DIR = Path(__file__).resolve().parents[2]  # app.py's folder (when no script runs)
SUBFOLDER = "cnnlens"  # of static/, beside the script Streamlit runs (it serves that one)
_lock = threading.Lock()
_written: dict[str, str] = {}  # file name -> its URL, written (or found) by this process


def folder() -> Path:
    """``static/cnnlens`` beside the main script of the running app (Streamlit serves
    ``static/`` there at ``/app/static/``)."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
    ctx = get_script_run_ctx(suppress_warning=True)
    main = Path(ctx.main_script_path).resolve().parent if ctx and ctx.main_script_path else APP_DIR
    return main / "static" / SUBFOLDER


def _url(name: str) -> str:
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}/app/static/cnnlens/{name}" if base else f"/app/static/cnnlens/{name}"


def _prune(where: Path, keep: str) -> None:
    """Remove the oldest files while ``where`` holds more than ``STATIC_ASSET_BYTES``."""
    try:
        files = sorted((p.stat().st_mtime, p.stat().st_size, p) for p in where.iterdir()
                       if p.is_file() and p.name != keep)
        total = sum(size for _, size, _ in files) + (where / keep).stat().st_size
    except OSError:
        return
    for _, size, path in files:
        if total <= STATIC_ASSET_BYTES:
            break
        try:
            path.unlink()
            total -= size
            _written.pop(path.name, None)
        except OSError:
            pass


def publish(name: str, body: bytes) -> str | None:
    """Write ``body`` as ``static/cnnlens/NAME`` once (atomically; NAME carries its content's
    hash) and return its URL path, or None when it cannot be served (then send it inline)."""
    if not st.get_option("server.enableStaticServing"):
        return None
    where = folder()
    with _lock:
        if name in _written:
            return _written[name]
        path = where / name
        try:
            if not path.is_file() or path.stat().st_size != len(body):
                where.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=where, prefix=".tmp-")
                try:
                    with os.fdopen(fd, "wb") as f:
                        f.write(body)
                    os.chmod(tmp, 0o644)  # readable by a proxy that serves the folder itself
                    os.replace(tmp, path)
                finally:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
            else:
                os.utime(path)  # in use: the last to be pruned
            _prune(where, name)
        except OSError as exc:
            _LOG.warning("Could not write %s (%s): sending it inline", path, exc)
            return None
        _written[name] = _url(name)
        return _written[name]


def script_url(stem: str, text: str) -> str | None:
    """The URL of a component's script (see :func:`publish`)."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return publish(f"{stem}-{digest}.js", text.encode())


def loader(stem: str, url: str) -> str:
    """A component script that imports the real one from ``url`` once per page, then mounts."""
    what = json.dumps(f"the {stem} view's script")
    return f"""// Fetched once per page (the address carries the content's hash: the browser keeps it).
const SRC = {json.dumps(url)}, KEY = "__cnnScript:" + SRC;
export default function (component) {{
  if (!window[KEY]) {{
    window[KEY] = fetch(SRC).then((r) => {{
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.text();
    }}).then((t) => import(URL.createObjectURL(new Blob([t], {{ type: "text/javascript" }}))));
  }}
  window[KEY].then((m) => m.default(component), (e) => {{
    window[KEY] = null;  // the next render tries again
    component.parentElement.textContent =
      "Could not load " + {what} + " (" + e.message + "): reload the page.";
  }});
}}
"""
