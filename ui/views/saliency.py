"""The Saliency view: one attribution method's map for a target class, drawn in the browser
(``ui/components/saliencymap.py``). ``target_picker`` and ``window_defaults`` serve the All
methods view too.

Session-state keys: ``sal.method`` (``ui.state.METHOD``: a link sets it), ``sal.target``,
``sal.window.LAYER``, ``sal.stride.LAYER``, ``sal.map``.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import state
from ui.cache import attribution
from ui.components import saliencymap
from ui.state import presenting
from ui.views import Shown, View
from viz.network.layers import LayerInfo


def target_picker(probs: np.ndarray, key: str) -> int:
    pred = int(np.argmax(probs))
    options = ["predicted"] + list(range(10))
    choice = st.selectbox("Target class", options, key=key,
                          format_func=lambda o: f"predicted ({pred})" if o == "predicted" else
                          f"{o} ({probs[o]:.0%})")
    return pred if choice == "predicted" else int(choice)


def window_defaults(row: LayerInfo) -> tuple[int, int]:
    """A sliding window's size and step: the layer's field r and effective stride S."""
    from model.saliency.occlusion import defaults
    return defaults(row.r, row.stride)


def draw(v: Shown) -> None:
    """One method's map, drawn in the browser (``ui/components/saliencymap.py``): over the input, at an
    opacity set there without a rerun, and alone, with the value under the pointer."""
    from model.saliency import METHODS
    key, image, probs, row = v.key, v.image, v.probs, v.row
    c1, c2 = st.columns([3.2, 1])
    method = c1.radio("Method", list(METHODS), format_func=lambda k: METHODS[k].label,
                      horizontal=True, key=state.METHOD)
    with c2:
        target = target_picker(probs, "sal.target")
    window, stride = window_defaults(row)
    m = METHODS[method]
    if m.uses_window:
        o1, o2, _ = st.columns([1, 1, 2])
        window = o1.number_input("Window (pixels)", 1, 28, window, key=f"sal.window.{row.name}",
                                 help=f"Defaults to {row.name}'s receptive field r = {row.r} "
                                      f"(at most 14).")
        stride = o2.number_input("Stride (pixels)", 1, 28, stride, key=f"sal.stride.{row.name}",
                                 help=f"Defaults to {row.name}'s effective stride S = "
                                      f"{row.stride}.")
    attr = attribution(key, image, method, target, row.name, int(window), int(stride))
    st.markdown(f"**{m.label} for class {target}.** {m.explanation}")
    if m.uses_layer and not m.uses_window and row.stride is not None:
        st.info(f"Grad-CAM here uses **{row.name}** ({row.size}x{row.size} map). Each of its "
                f"units is {row.stride} input pixel(s) from the next (effective stride S = "
                f"{row.stride}), so the map is made of {row.stride}x{row.stride} blocks. "
                f"Pick a later layer for coarser, more class-specific maps.")
    if m.uses_window:
        st.info(f"A {window}x{window} black patch slides in steps of {stride} pixels; the "
                f"map shows how much the score of class {target} drops (red = the patch "
                f"hid evidence).")
    saliencymap.render(image, attr, f"{m.label} for class {target}", key="sal.map",
                       large=presenting())


VIEW = View("saliency", "Saliency", draw, "Saliency")
