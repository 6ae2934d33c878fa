"""The browser components (``st.components.v2``), declared once per server process.

Each lives in a folder of its own under ``ui/`` (``ui/<stem>/<stem>.html``, ``.css``, ``.js``; no
build step, nothing fetched at run time) and is named ``cnn_<stem>``; its script runs after the
shared modules of ``ui/js/`` it needs (one job per file: constants, drawing helpers, payload
decoding, forward pass, MNIST preprocessing, drawing pad, mounting, timing hooks, keyboard moves;
:data:`SHARED_JS` lists them per component). A component that picks a unit (the lens, the unit-field panel) sets its state
``unit``; :func:`picked_unit` reads it, checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from viz import urlstate

UI = Path(__file__).resolve().parent
SHARED = UI / "js"  # the browser code the components share, one job per file
SHARED_JS = {  # component stem -> the shared modules (ui/js/<name>.js) it needs, in load order
    "lens": ("constants", "canvas", "timing", "keys", "mount", "decode", "forward", "preprocess",
             "pad"),
    "unitfield": ("constants", "canvas", "timing", "keys", "mount"),
    "saliencymap": ("constants", "canvas", "timing", "mount"),
}


def script(stem: str) -> str:
    """A component's script: the shared modules it needs (:data:`SHARED_JS`), then its own file,
    concatenated into one module."""
    files = [SHARED / f"{name}.js" for name in SHARED_JS[stem]] + [UI / stem / f"{stem}.js"]
    return "\n".join(p.read_text(encoding="utf-8") for p in files)


@st.cache_resource(show_spinner=False)
def component(stem: str):
    """The component in ``ui/<stem>/``, named ``cnn_<stem>`` (its files read once)."""
    folder = UI / stem
    return st.components.v2.component(
        f"cnn_{stem}",
        html=(folder / f"{stem}.html").read_text(encoding="utf-8"),
        css=(folder / f"{stem}.css").read_text(encoding="utf-8"),
        js=script(stem),
        isolate_styles=True,
    )


MAX_NAME = 64  # characters of a layer name (as model cards allow)
MAX_INDEX = 100_000  # a channel, row or column index past any network this app can load


def check_unit(value: Any) -> dict[str, Any] | None:
    """A unit sent by a browser, ``{"layer", "c", "y", "x"}`` with a layer name of at most
    :data:`MAX_NAME` characters and whole numbers in ``0..MAX_INDEX - 1``; None for anything
    else (missing keys, strings, Infinity, NaN, fractions, negative or huge numbers). Whether the
    unit is inside its layer is for the caller, who knows the layer's shape."""
    if not isinstance(value, dict):
        return None
    layer = value.get("layer")
    if not isinstance(layer, str) or not 0 < len(layer) <= MAX_NAME:
        return None
    numbers = [urlstate.whole(value.get(k), MAX_INDEX) for k in ("c", "y", "x")]
    if any(n is None for n in numbers):
        return None
    c, y, x = numbers
    return {"layer": layer, "c": c, "y": y, "x": x}


def picked_unit(key: str) -> dict[str, Any] | None:
    """The unit last picked in the component ``key``, ``{"layer", "c", "y", "x"}`` (ints), or
    None (nothing picked, or a value that is not a unit: it comes from the browser)."""
    try:
        state = st.session_state.get(key)
        value = state.get("unit") if hasattr(state, "get") else None
    except Exception:  # noqa: BLE001 - a component's state is the browser's to send
        return None
    return check_unit(value)
