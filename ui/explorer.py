"""The explorer page: prediction, feature maps, receptive fields and saliency of one input.

The page draws the prediction, then (in a fragment) the layer picker, the view selector and the
chosen view; each view is a file of ``ui/views/``, registered here in the selector's order.
Session-state keys: ``layer.name``, ``view`` (``ui/state.py``).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from model.store import ModelRef
from ui import state, urls
from ui.cache import field_table, forward, in_page_slot
from ui.common import context, guard
from ui.state import presenting
from ui.views import (
    VIEWS,
    Shown,
    View,
    atlas,
    compare,
    confusion,
    field,
    maps,
    register,
    saliency,
    trust,
)
from ui.views.clicks import rerun_if_opened
from viz.browser import htmlviews
from viz.inputs import preprocess
from viz.network.layers import default_layer
from viz.pictures import style

__all__ = ["VIEWS", "Shown", "View", "page", "register"]

BLANK = np.zeros((28, 28), np.uint8)  # the layers' shapes while nothing is drawn yet

for _view in (maps, field, saliency, compare, atlas, confusion, trust):  # the selector's order
    register(_view.VIEW)


def header(image: np.ndarray, label: int | None, desc: str, probs: np.ndarray) -> None:
    pred = int(np.argmax(probs))
    left, mid, right = st.columns([1.0, 2.2, 1.2], vertical_alignment="center")
    with left:
        st.image(preprocess.to_png(image, 140), width=140, output_format="PNG",
                 alt=f"The input digit, {desc}, as the network sees it (28x28)")
        st.caption(f"Input: {desc}.")
    with mid:
        st.markdown(htmlviews.probability_bars(probs), unsafe_allow_html=True)
        st.caption("Class probabilities (softmax of the 10 outputs).")
    with right:
        verdict = ""
        if label is not None:
            verdict = "correct" if label == pred else f"wrong: it is a {label}"
        colour = style.BLUE if label is None or label == pred else style.DARK_ORANGE
        st.markdown(
            f"<div style='line-height:1.15'><span style='font-size:1rem;color:{style.CAPTION}'>Prediction"
            f"</span><br><span style='font-size:4.2rem;font-weight:700;color:{colour}'>{pred}"
            f"</span><br><span style='font-size:1.05rem'>{probs[pred]:.1%} sure"
            f"{' · ' + verdict if verdict else ''}</span></div>", unsafe_allow_html=True)


def _default_layer(acts) -> str:
    names = list(acts)
    if state.layer() not in names:
        state.select_layer(default_layer(names))
    return state.layer()


def layer_picker(acts, joins: dict[str, str] | None = None) -> str:
    """The layer selectbox; ``joins``: {join layer: the layers it joins, in words}."""
    names = list(acts)
    _default_layer(acts)
    shapes = {n: "x".join(str(s) for s in a.shape) for n, a in acts.items()}
    joins = joins or {}
    name = st.selectbox("Layer", names, key=state.LAYER,
                        format_func=lambda n: f"{n}  ·  {shapes[n]}"
                                              + (f"  ·  {joins[n]}" if n in joins else "")
                                              + f"  ·  layer {names.index(n) + 1} of "
                                                f"{len(names)}",
                        help="Every layer in order, with its output shape (channels x height x "
                             "width) and its place in the network.")
    return name


def _joins(key: ModelRef) -> dict[str, str]:
    """What each join layer (add, concat) of a graph network joins: {name: "res2_bn2 +
    res2_projbn"}."""
    from ui.cache import layer_records
    from viz.network.layers import JOIN_TYPES
    return {r["name"]: " + ".join(r["inputs"]) for r in layer_records(key)
            if r.get("type") in JOIN_TYPES and r.get("inputs")}


@st.fragment
@in_page_slot
def explorer(key: ModelRef, image: np.ndarray | None, acts, probs: np.ndarray,
             label: int | None = None, desc: str = "", drawing: bool = False) -> None:
    """Layer picker, view selector and the chosen view.

    A fragment: switching layer or view, or any widget inside a view, reruns only this part, not
    the sidebar and the prediction above it. ``drawing``: the sidebar's Draw source with the
    lens (see :func:`page`): the Feature maps view is the lens with its pad, its input and its
    live prediction side by side (no header: one prediction); the other views get the header
    here, and ask for a drawing while there is none (``image`` None).
    """
    rerun_if_opened()
    # One row for the views (and the link), one for the layer.
    # The views take the whole width (seven fit a projector's large type and a narrow window);
    # the layer and the link go on the row below.
    c2 = st.container()
    c1, _, c3 = st.columns([1.4, 1.4, 0.7] if presenting() else [1.35, 1.9, 0.75],
                           vertical_alignment="bottom")
    titles = list(VIEWS)
    if state.view() not in titles:
        state.show_view(titles[0])
    with c2:
        title = st.segmented_control("View", titles, key=state.VIEW, required=True,
                                     label_visibility="collapsed")
    view = VIEWS.get(title or titles[0], VIEWS[titles[0]])
    own_picker = view.uses_layer and view.picks_layer is not None and view.picks_layer(key)
    if not view.uses_layer or own_picker or (view.needs_layer and not view.needs_layer()):
        # The whole-network views need no layer; the lens picks it in the browser (instant) and
        # sets layer.name. Keep the hidden picker's value for the other views.
        layer = _default_layer(acts)
        state.select_layer(layer)
        if own_picker:
            c1.caption("Pick the layer, channel and unit in the lens below.")
    else:
        with c1:
            layer = layer_picker(acts, _joins(key))
    if drawing and not own_picker:
        if image is None:
            st.info("Draw a digit on the pad of the Feature maps view first: this view "
                    "explains the digit you draw.")
            urls.write()
            return
        header(image, label, desc, probs)
    try:
        table = field_table(key)
        shown = Shown(key, image, acts, probs, layer, table)
        guard(view.activity, lambda: view.draw(shown))
    finally:  # with the view's widgets drawn, the address bar and the link can name them
        urls.write()
        with c3.popover("Link", icon=":material/link:",
                        help="A link to exactly this view, to prepare a lesson or send to a "
                             "student"):
            st.markdown("The address bar always holds the current view; copy it, or this:")
            st.code(urls.link(), language=None, wrap_lines=True)


def page() -> None:
    """The explorer: what the network predicts for the sidebar's input, and why."""
    ctx = context()
    st.title("Inside a convolutional network")
    # The sidebar's Draw source with the lens: the page has the same layout before and after the
    # first drawing (no header above the pad that would push it down when the digit arrives);
    # the lens shows the pad, the input and the live prediction side by side.
    drawing = state.input_source() == state.DRAW and maps.runs(ctx.key)
    if ctx.image is None and not drawing:
        st.info("Choose an input in the sidebar: a sample, a test digit, a drawing or an upload.")
        return
    acts, probs = forward(ctx.key, ctx.image if ctx.image is not None else BLANK)
    urls.apply_after_forward(acts)
    if not drawing:
        header(ctx.image, ctx.label, ctx.desc, probs)
    explorer(ctx.key, ctx.image, acts, probs, ctx.label, ctx.desc, drawing)
