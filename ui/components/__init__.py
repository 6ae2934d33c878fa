"""The browser components (``st.components.v2``), declared once per server process.

Each lives in a folder of its own beside this file (``ui/components/<stem>/<stem>.html``,
``.css``, ``.js``; no build step, nothing fetched at run time), with its Python beside it
(``lens.py``, ``unitfield.py``, ``saliencymap.py``: one ``render`` call each), and is named
``cnn_<stem>``; its script runs after the shared modules of ``ui/components/js/`` it needs (one job
per file: constants, drawing helpers, payload decoding, forward pass, backward pass, attribution
methods, MNIST preprocessing, drawing pad, mounting, timing hooks, keyboard moves; :data:`SHARED_JS` lists them per component). A
component that picks a unit (the lens, the unit-field panel) sets its state ``unit``;
:func:`ui.state.component_unit` reads it, checked (:class:`viz.network.unit.Unit`).
"""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from ui.components import assets, wire
from viz.pictures import style

wire.install()  # before any browser's state is read: every JSON state bounded before parsing

UI = Path(__file__).resolve().parent  # ui/components: a folder per component, and js/
SHARED = UI / "js"  # the browser code the components share, one job per file
SHARED_JS = {  # component stem -> the shared modules (js/<name>.js) it needs, in load order
    "lens": ("constants", "canvas", "timing", "keys", "mount", "decode", "forward", "backward",
             "attribute", "preprocess", "pad"),
    "unitfield": ("constants", "canvas", "timing", "keys", "mount", "decode", "forward", "backward",
                  "attribute", "live"),
    "saliencymap": ("constants", "canvas", "timing", "mount", "decode", "forward", "backward",
                    "attribute", "preprocess", "pad", "live", "livemaps"),
}
WORKERS = {"saliencymap"}  # whose script starts with WORKER_SRC, the attribution worker's source


def worker_source() -> str:
    """The text of the modules the browser's attribution needs
    (``viz.browser.lens.ATTRIBUTE_JS``), joined: the script of attribute.js's Web Worker."""
    from viz.browser.lens import ATTRIBUTE_JS
    return "\n".join((SHARED / f"{name}.js").read_text(encoding="utf-8") for name in ATTRIBUTE_JS)


def script(stem: str) -> str:
    """A component's script: the shared modules it needs (:data:`SHARED_JS`), then its own file,
    concatenated into one module."""
    files = [SHARED / f"{name}.js" for name in SHARED_JS[stem]] + [UI / stem / f"{stem}.js"]
    text = "\n".join(p.read_text(encoding="utf-8") for p in files)
    if stem not in WORKERS:
        return text
    return f"const WORKER_SRC = {json.dumps(worker_source())};\n{text}"


@st.cache_resource(show_spinner=False)
def component(stem: str):
    """The component in ``ui/components/<stem>/``, named ``cnn_<stem>`` (its files read once)."""
    folder = UI / stem
    js = script(stem)
    url = assets.script_url(stem, js)  # fetched once by each browser, not sent in every page
    return st.components.v2.component(
        f"cnn_{stem}",
        html=(folder / f"{stem}.html").read_text(encoding="utf-8"),
        css=style.css((folder / f"{stem}.css").read_text(encoding="utf-8")),  # colours filled in
        js=js if url is None else assets.loader(stem, url),
        isolate_styles=True,
    )
