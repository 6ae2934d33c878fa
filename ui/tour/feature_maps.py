"""Step 6: feature maps, a layer's outputs for the input."""

from __future__ import annotations

import streamlit as st

from ui import common
from ui.tour.helpers import keep_choice, spatial
from ui.tour.registry import tour_step
from viz.limits import TOUR_FEATURE_MAPS
from viz.pictures import figures


@tour_step('feature-maps', 'Feature maps', needs_input=True,
      text=('A feature map is the output of one filter over the whole image: bright where'
            " the filter's pattern is present. In trained networks early maps often respond "
            'to edges and strokes and deeper ones to larger parts of digits; the maps beside '
            "show what this network's do for this digit."),
      visual=('All feature maps of the chosen layer for the current input.'))
def show_feature_maps(ctx, layers, acts) -> None:
    names = spatial(acts)
    if not names:
        st.info("This network has no layer with a spatial map.")
        return
    default = next((n for n in names if n.startswith("relu")), names[0])
    keep_choice("tour.fm.layer", names, default)
    shapes = {n: "x".join(map(str, acts[n].shape)) for n in names}
    name = st.selectbox("Layer", names, key="tour.fm.layer",
                        format_func=lambda n: f"{n} · {shapes[n]}")
    a = acts[name]
    shown = a[:TOUR_FEATURE_MAPS]
    common.plot(figures.feature_grid(shown, height=None if len(shown) > 8 else 280),
                key="tour.fm.grid")
    more = (f" (the first {TOUR_FEATURE_MAPS} of {a.shape[0]})" if a.shape[0] > TOUR_FEATURE_MAPS
            else "")
    st.caption(f"The {len(shown)} feature maps{more} of {name} ({a.shape[1]}x{a.shape[2]}) for "
               f"this input, each on its own scale: bright = strong response. Hover for values.")
