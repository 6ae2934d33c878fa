"""The saliency panel in Streamlit: one call, ``render``, mounts it.

The browser draws an attribution map over the input and alone, with its colour bar, an opacity
slider and the value under the pointer, none of which needs a rerun. The component's files are
``ui/saliencymap/saliencymap.{html,css,js}`` after the lens's shared ``canvas.js``; the data is
``viz.saliencypanel.payload``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from ui.lens import HERE as LENS_DIR
from viz import saliencypanel

HERE = Path(__file__).resolve().parent / "saliencymap"
NAME = "cnn_saliency_map"


@st.cache_resource(show_spinner=False)
def _component():
    """The component, declared once per server process (its files read once)."""
    js = "\n".join(p.read_text(encoding="utf-8")
                   for p in (LENS_DIR / "canvas.js", HERE / "saliencymap.js"))
    return st.components.v2.component(
        NAME,
        html=(HERE / "saliencymap.html").read_text(encoding="utf-8"),
        css=(HERE / "saliencymap.css").read_text(encoding="utf-8"),
        js=js,
        isolate_styles=True,
    )


def render(image: np.ndarray, attr: np.ndarray, label: str, *, key: str,
           opacity: float = 0.65, large: bool = False) -> None:
    """Mount the panel for a uint8 28x28 ``image`` and its 28x28 attribution map ``attr``."""
    data = saliencypanel.payload(image, attr, label)
    data.update(opacity=float(opacity), large=bool(large))
    _component()(key=key, data=data)
