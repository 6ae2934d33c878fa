"""Step 2: filters and kernels, the learned weights of a layer."""

from __future__ import annotations

import streamlit as st

from ui import cache, common
from ui.tour.helpers import keep_choice
from ui.tour.registry import tour_step
from viz.pictures import figures


@tour_step('filters', 'Filters and kernels', needs_input=False,
      text=('A kernel is one 2-D grid of weights; a filter is the stack of kernels, one '
            'per input channel, that produces one output channel. A layer with 16 filters'
            ' makes 16 feature maps. The weights are learned: nobody designs them by '
            'hand.'),
      visual=('The learned filters of the chosen layer.'))
def show_filters(ctx, layers, acts) -> None:
    convs = [r["name"] for r in layers if r.get("type") == "conv"]
    if not convs:
        st.info(f"The {ctx.arch} network has no convolution, so it has no kernels.")
        return
    keep_choice("tour.filt.layer", convs, convs[0])
    name = st.selectbox("Layer", convs, key="tour.filt.layer",
                        help="The first conv reads the image; later ones read feature maps.")
    w = cache.conv_weight(ctx.key, name)
    out_c, in_c, kh, kw = w.shape
    if in_c == 1:
        cols = min(out_c, 4 if out_c <= 16 else 8)
        fig, o_hi, i_hi = figures.filter_grid(w, max_out=out_c, cols=cols,
                                              height=60 + 110 * -(-out_c // cols))
    else:
        fig, o_hi, i_hi = figures.filter_grid(w)
    common.plot(fig, key="tour.filt.tiles")
    st.markdown(f"**{name}: {out_c} filters × {in_c} kernel{'s' if in_c > 1 else ''} per "
                f"filter = {out_c * in_c:,} kernels of {kh}x{kw}, {out_c * in_c * kh * kw:,} "
                f"weights.**")
    if in_c == 1:
        shown = "one tile per filter (its single kernel, on the one input channel)"
    else:
        shown = (f"one row per filter ({o_hi} of {out_c}), one column per input channel "
                 f"({i_hi} of {in_c}): a row is one filter, each tile one of its kernels")
    st.caption(f"{shown}; red = positive weight, blue = negative, one shared scale.")
    if ctx.key.kind == "untrained":
        st.caption("These are random starting weights. Training shapes them: in trained MNIST "
                   "networks the first layer's filters often look like edge and stroke "
                   "detectors (compare a trained network's).")
