"""Step 7: the activation function, a map before and after ReLU."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import common
from ui.tour.helpers import keep_choice
from ui.tour.registry import tour_step
from viz.pictures import tourfigs
from viz.teaching import concepts


@tour_step('activation', 'Activation function', needs_input=True,
      text=('Without a non-linearity, any stack of convolutions collapses into a single '
            'linear map. ReLU keeps positive values and sets negative ones to zero: '
            'cheap, and it lets a deep network build complicated decisions out of simple '
            'pieces.'),
      visual=('One feature map before ReLU (negative values in one colour) and after '
              '(they are gone).'))
def show_activation(ctx, layers, acts) -> None:
    pairs = [(p, r) for p, r in concepts.relu_pairs(layers)
             if acts[p].ndim == 3 and acts[p].shape[1] > 1]
    if not pairs:
        st.info(f"The {ctx.arch} network has no ReLU on a spatial map.")
        return
    labels = {r: f"{p} → {r}" for p, r in pairs}
    keep_choice("tour.act.relu", list(labels), pairs[0][1])
    cols = st.columns(2)
    relu = cols[0].selectbox("ReLU", list(labels), key="tour.act.relu", format_func=labels.get)
    pre_name = dict((r, p) for p, r in pairs)[relu]
    pre, post = acts[pre_name], acts[relu]
    keep_choice("tour.act.c", list(range(pre.shape[0])), 0)
    c = cols[1].selectbox("Channel", list(range(pre.shape[0])), key="tour.act.c")
    split = concepts.relu_split(pre[c])
    common.plot(tourfigs.relu_pair(pre[c], post[c], f"{pre_name}, channel {c}",
                                   f"{relu}, channel {c}", height=340), key="tour.act.fig")
    m = st.columns(3)
    m[0].metric("Values set to 0", f"{split['negative_share']:.0%}")
    m[1].metric("Lowest before", f"{split['min']:.3g}")
    m[2].metric("Highest (kept)", f"{split['max']:.3g}")
    same = bool(np.array_equal(post[c], np.maximum(pre[c], 0)))
    st.caption(f"Blue = negative before ReLU; after it those pixels are 0 and the positive ones "
               f"are unchanged ({relu} = max({pre_name}, 0): "
               f"{'checked on every pixel' if same else 'NOT the case here'}).")
