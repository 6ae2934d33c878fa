"""The browser components (``st.components.v2``), declared once per server process.

Each lives in a folder of its own under ``ui/`` (``ui/<stem>/<stem>.html``, ``.css``, ``.js``; no
build step, nothing fetched at run time); its script runs after the drawing helpers they share,
``ui/lens/canvas.js`` (colours, the receptive-field arithmetic, the hatched padding).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

UI = Path(__file__).resolve().parent
SHARED_JS = UI / "lens" / "canvas.js"


def script(stem: str) -> str:
    """A component's script: the shared drawing helpers, then its own file."""
    return "\n".join(p.read_text(encoding="utf-8") for p in (SHARED_JS, UI / stem / f"{stem}.js"))


@st.cache_resource(show_spinner=False)
def component(stem: str, name: str):
    """The component in ``ui/<stem>/`` under the name ``name`` (its files read once)."""
    folder = UI / stem
    return st.components.v2.component(
        name,
        html=(folder / f"{stem}.html").read_text(encoding="utf-8"),
        css=(folder / f"{stem}.css").read_text(encoding="utf-8"),
        js=script(stem),
        isolate_styles=True,
    )
