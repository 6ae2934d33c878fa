"""Step 5: the 3x3 convolution, and how stacking them grows the field."""

from __future__ import annotations

import streamlit as st

from ui import cache, common
from ui.tour.registry import tour_step
from viz.network.layers import SHAPE_KEEPERS
from viz.pictures import figures
from viz.teaching import concepts


@tour_step('3x3', '3x3 convolution', needs_input=False,
      text=("A 3x3 kernel is the smallest that sees a pixel's neighbours on every side. "
            'Two stacked 3x3 layers see a 5x5 patch with 18 weights per channel pair '
            'instead of 25, with a non-linearity in between; three see 7x7 with 27 '
            'instead of 49.'),
      visual=('The receptive field growing by 2 input pixels per 3x3 layer (times the '
              'effective stride).'))
def show_3x3(ctx, layers, acts) -> None:
    steps = concepts.growth_steps(layers)
    threes = [s for s in steps if s.kernel == 3 and s.kind == "conv"]
    two, three = concepts.stacked_3x3(2), concepts.stacked_3x3(3)
    st.markdown(f"Two stacked 3x3 convs see **{two[0]}x{two[0]}** with **{two[1]}** weights per "
                f"channel pair instead of **{two[2]}**; three see **{three[0]}x{three[0]}** with "
                f"**{three[1]}** instead of **{three[2]}**.")
    if not threes:
        st.info(f"The {ctx.arch} network has no 3x3 convolution.")
        return
    table = [r for r in cache.field_table(ctx.key)
             if r.type not in SHAPE_KEEPERS and not r.is_global]
    common.plot(figures.field_growth(table, threes[-1].name), key="tour.3x3.growth")
    by_stride: dict[int, list[str]] = {}
    for s in threes:
        by_stride.setdefault(s.stride_in, []).append(s.name)
    parts = [f"{len(names)} at S = {stride} (each adds {2 * stride})"
             for stride, names in by_stride.items()]
    st.markdown(f"**{ctx.arch}** has {len(threes)} 3x3 convs: {'; '.join(parts)}. Its field "
                f"reaches r = {steps[-1].r_out} pixels.")
    if not common.presenting():
        import pandas as pd
        df = pd.DataFrame([{"layer": s.name, "kernel": f"{s.kernel}x{s.kernel}",
                            "S before": s.stride_in, "r before": s.r_in, "adds": s.added,
                            "r after": s.r_out} for s in steps])
        st.dataframe(df, hide_index=True, height=min(420, 38 + 35 * len(df)),
                     key="tour.3x3.table")
        st.caption("r after = r before + (kernel − 1) × S. A pool multiplies the effective "
                   "stride S, so every 3x3 conv after it adds twice as much.")
