"""The Receptive field view: pick a unit, see its theoretical field, effective field and
attribution (drawn in the browser, ``ui/components/unitfield.py``), and how far each layer sees.
A network within the lens's bound has the browser compute the effective field and attribution of
the hovered unit itself (``ui.components.livenet``); a bigger one has them computed here on a pick.

The picked unit is the explorer's (``ui.state.picked_unit``): a link, the lens or the atlas may
have set it. Session-state keys: ``rf.panel`` (the panel's state), ``rf.every``, ``rf.csv``,
``rf.growth``; the unit's channel picker is ``ui.state.channel_key(layer)``.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from model.store import ModelRef
from ui import checked, state, urls
from ui.cache import growth_figure, in_page_slot, unit_maps
from ui.common import context, guard, plot
from ui.components import livenet, unitfield
from ui.state import presenting
from ui.views import Shown, View
from viz.browser import htmlviews
from viz.network.layers import LayerInfo
from viz.network.layertypes import SHAPE_KEEPERS
from viz.network.unit import Unit
from viz.teaching import fields


def _on_pick() -> None:
    """A unit picked in the panel (click or Enter) becomes the explorer's unit."""
    unit = state.picked_unit()
    picked = state.component_unit("rf.panel")
    if picked is not None and unit is not None and picked.layer == unit.layer:
        state.keep_unit(unit.moved(y=picked.y, x=picked.x))


@st.fragment
@in_page_slot
def unit_panel(key: ModelRef, image: np.ndarray, acts, row: LayerInfo) -> None:
    """Pick a unit; see its theoretical field, effective field and attribution. Reruns alone.

    The browser draws the channel's map and the pictures (``ui/components/unitfield.py``): hovering a unit
    shows its field at once; a pick reruns this fragment for the effective field and attribution
    (guarded here: a fragment's own reruns do not pass through the caller's guard).
    """
    guard("Picking a unit", lambda: _unit_panel(key, image, acts, row))


def _unit_panel(key: ModelRef, image: np.ndarray, acts, row: LayerInfo) -> None:
    a = acts[row.name]
    spatial = a.ndim == 3 and a.shape[1] > 1
    c_total = a.shape[0]
    # (a record that is not a unit, numbers missing or not whole, reads as None: start afresh)
    unit = state.picked_unit()
    if unit is None or unit.layer != row.name:
        if spatial:  # start on the layer's most active unit: something to see at once
            cyx = tuple(int(v) for v in np.unravel_index(int(np.argmax(a)), a.shape))
        else:
            cyx = int(np.argmax(a.reshape(-1))), 0, 0
        unit = Unit.at(row.name, cyx)
        state.pick_unit(unit)
    elif not 0 <= unit.c < c_total:  # a pick or link past the layer's channels: the nearest
        unit = unit.moved(c=min(max(unit.c, 0), c_total - 1))
        state.pick_unit(unit)
    channel = state.channel_key(row.name)
    if st.session_state.get(channel) not in range(c_total):
        st.session_state[channel] = unit.c
    left, right = st.columns([1, 2.6], vertical_alignment="bottom")
    c = left.selectbox("Channel", list(range(c_total)), key=channel,
                       help="The layer's most active unit is picked first.")
    if c != unit.c:
        unit = unit.moved(c=c)
        state.keep_unit(unit)
    shown = Unit.at(row.name, fields.clamp_unit(row, c, unit.y, unit.x) if spatial else (c, 0, 0))
    _, y, x = shown.cyx
    urls.write()
    region = fields.unit_region(row, y, x)
    live = livenet.runs_in_browser(key)
    erf, attr = (None, None) if live else unit_maps(key, image, row.name, shown.cyx)
    right.markdown(f"**Unit (channel {c}, row {y}, col {x}) of {row.name}** · "
                   f"{fields.describe(row, region, erf)}")
    if not spatial:
        st.caption(f"{row.name} has no spatial map: each of its {c_total} units sees the whole "
                   f"image. Pick one with the channel box.")
    unitfield.render(image, row, shown, fmap=a[c] if spatial else None, erf=erf, attr=attr,
                     key="rf.panel", large=presenting(), on_pick=_on_pick,
                     live=key if live else None)


def draw(v: Shown) -> None:
    key, image, acts, table, row = v.key, v.image, v.acts, v.table, v.row
    unit_panel(key, image, acts, row)
    st.subheader("How far each layer sees")
    left, right = st.columns([1.25, 1])
    with left:
        checked.check("rf.every", checked.SWITCH, "The Show every layer switch")
        every = st.toggle("Show every layer (BatchNorm, activations and dropout do not change "
                          "the field)", key="rf.every")
        shown = [r for r in table if every or r.name == row.name
                 or r.type not in SHAPE_KEEPERS]
        st.markdown(htmlviews.layer_table(shown, row.name), unsafe_allow_html=True)
        st.caption("Per layer: receptive field r, effective stride S and effective padding P in "
                   "input pixels (unit i sees pixels i·S − P to i·S − P + r − 1), parameters and "
                   "multiply-accumulates; the chosen layer is highlighted.")
        arch = context().arch
        # made when clicked, not on every run of this view (layer changes, unit picks)
        st.download_button("Download the table (CSV, every layer)",
                           lambda: fields.table_csv(table),
                           file_name=f"{arch}-receptive-fields.csv", mime="text/csv",
                           icon=":material/download:", key="rf.csv")
    with right:
        dense = fields.dense_only(table)
        if dense:  # no conv or pooling layer: nothing grows
            st.info(dense)
        else:
            plot(growth_figure(key, row.name), key="rf.growth")
            st.caption("The receptive field r grows with depth: a k x k layer adds (k − 1)·S "
                       "pixels (S: the effective stride it works at), and a stride-2 layer (a "
                       "2x2 pool) doubles S for the layers after it.")


VIEW = View("field", "Receptive field", draw, "Receptive field")
