"""The five design rules, checked on the current network."""

from __future__ import annotations

import streamlit as st

from ui.tour.registry import tour_step
from viz.teaching import concepts


@tour_step("rules", "The five design rules", wide=True, doing="Checking the design rules")
def show_rules(ctx, layers, acts) -> None:
    checks = concepts.check_rules(layers)
    kept = sum(c.followed for c in checks)
    left, right = st.columns([1.1, 1], gap="large")
    with left:
        st.markdown(f"**{ctx.arch}** follows **{kept} of {len(checks)}** rules.")
        for i, check in enumerate(checks, start=1):
            mark = (":green[:material/check_circle:]" if check.followed
                    else ":orange[:material/cancel:]")
            st.markdown(f"{mark} **{i}. {check.title}.** {check.text}")
            st.caption(f"{'Followed' if check.followed else 'Not followed'}: {check.detail}.")
    with right:
        rows = concepts.rules_table(layers)
        import pandas as pd
        st.dataframe(pd.DataFrame(rows), hide_index=True,
                     height=min(640, 38 + 35 * len(rows)), key="tour.rules.table")
        st.caption(f"The layers of {ctx.arch} (BatchNorm, ReLU and dropout left out): what the "
                   f"checks read.")
