"""The saliency panel in Streamlit: one call, ``render``, mounts it.

The browser draws an attribution map over the input and alone, with its colour bar, an opacity
slider and the value under the pointer, none of which needs a rerun; or every method's map in a
grid (the All methods view). The component's files are
``ui/components/saliencymap/saliencymap.{html,css,js}`` after the lens's shared ``canvas.js``; the data is
``viz.browser.saliencypanel.payload``. :func:`render_live` hands the browser the network instead:
it computes the map (or the grid) itself and follows its drawing pad (``livemaps.js``).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from model.store import ModelRef
from ui import components
from ui.components import livenet, wire
from viz.browser import saliencypanel


def _notice(key: str) -> None:
    if (notice := wire.notice(key, "the saliency panel")) is not None:
        st.caption(notice)


def render(image: np.ndarray, attr: np.ndarray, label: str, *, key: str,
           opacity: float = 0.65, large: bool = False) -> None:
    """Mount the panel for a uint8 28x28 ``image`` and its 28x28 attribution map ``attr``."""
    data = saliencypanel.payload(image, attr, label)
    data.update(opacity=float(opacity), large=bool(large))
    components.component("saliencymap")(key=key, data=data)
    _notice(key)


def render_grid(image: np.ndarray, rows: dict[str, dict[str, np.ndarray]], *, key: str,
                blank: set[str] | frozenset[str] = frozenset(), large: bool = False) -> None:
    """Mount the panel as a grid: ``rows`` is {row label: {method label: 28x28 map}}, each map
    drawn as a share of its own largest |value| on one scale; ``blank``: methods not available."""
    data = saliencypanel.grid_payload(image, rows, blank)
    data["large"] = bool(large)
    components.component("saliencymap")(key=key, data=data)
    _notice(key)


def render_live(image: np.ndarray, model_key: ModelRef, methods: list[tuple[str, str]], *,
                target: int | None, layer: str, window: int, stride: int, key: str,
                grid: bool = False, randomized: bool = False, large: bool = False) -> None:
    """Mount the panel computing its maps in the browser for a model within the lens's bound.

    ``methods``: [(key, label)] (one, or the grid's columns); ``target``: the class, or None for
    the predicted one (of the drawing, once drawn); ``randomized``: the grid's sanity row.
    """
    data = saliencypanel.payload(image, np.zeros((28, 28)), "")
    data.update(large=bool(large), opacity=0.65, live={
        "mode": "grid" if grid else "single", "methods": [list(m) for m in methods],
        "target": target, "layer": layer, "window": int(window), "stride": int(stride),
        **livenet.fields(model_key, randomized=grid and randomized)})
    components.component("saliencymap")(key=key, data=data,
                                        on_need_net_change=livenet.forget_sent)
    _notice(key)
