"""The browser components (``st.components.v2``), declared once per server process.

Each lives in a folder of its own under ``ui/`` (``ui/<stem>/<stem>.html``, ``.css``, ``.js``; no
build step, nothing fetched at run time) and is named ``cnn_<stem>``; its script runs after the
drawing helpers they share, ``ui/lens/canvas.js`` (colours, the receptive-field arithmetic, the
hatched padding). A component that picks a unit (the lens, the unit-field panel) sets its state
``unit``; :func:`picked_unit` reads it, checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

UI = Path(__file__).resolve().parent
SHARED_JS = UI / "lens" / "canvas.js"


def script(stem: str) -> str:
    """A component's script: the shared drawing helpers, then its own file."""
    return "\n".join(p.read_text(encoding="utf-8") for p in (SHARED_JS, UI / stem / f"{stem}.js"))


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


def picked_unit(key: str) -> dict[str, Any] | None:
    """The unit last picked in the component ``key``, ``{"layer", "c", "y", "x"}`` (ints), or
    None (nothing picked, or a value that is not a unit: it comes from the browser)."""
    state = st.session_state.get(key)
    value = state.get("unit") if hasattr(state, "get") else None
    if not isinstance(value, dict) or not isinstance(value.get("layer"), str):
        return None
    try:
        return {"layer": value["layer"], "c": int(value["c"]), "y": int(value["y"]),
                "x": int(value["x"])}
    except (KeyError, TypeError, ValueError):
        return None
