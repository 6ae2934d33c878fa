"""Step 8: the receptive field, a unit's region of the input and its sensitivity."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import cache, common, state
from ui.components import unitfield
from ui.tour.helpers import keep_choice
from ui.tour.registry import tour_step
from viz.network.layers import SHAPE_KEEPERS
from viz.network.unit import Unit
from viz.teaching import fields


@tour_step('receptive-field', 'Receptive field', needs_input=True,
      text=('The receptive field of a unit is the patch of the input it can possibly see.'
            ' It grows by (kernel - 1) x (effective stride) at every layer; pooling '
            'multiplies the stride, so later layers grow faster. Within it, the unit is '
            'most sensitive near the centre: the effective receptive field is smaller '
            'than the theoretical one.'),
      visual=("The chosen unit's exact region on the input, and its sensitivity map "
              'inside it.'))
def show_receptive_field(ctx, layers, acts) -> None:
    table = [r for r in cache.field_table(ctx.key)
             if len(r.shape) == 3 and not r.is_global and r.size > 1
             and r.type not in SHAPE_KEEPERS]
    if not table:
        st.info("This network has no spatial layer.")
        return
    names = [r.name for r in table]
    keep_choice("tour.rf.layer", names, names[min(4, len(names) - 1)])
    name = st.select_slider("Layer", names, key="tour.rf.layer",
                            help="Slide through the layers and watch the field grow.")
    row = fields.row_for(table, name)
    centre = row.size // 2
    c = int(np.argmax(acts[name][:, centre, centre])) if name in acts else 0
    # the centre unit, or the unit last picked on this layer's map (click or Enter)
    picked = state.component_unit("tour.rf.panel")
    y = x = centre
    if picked is not None and picked.layer == name:
        c, y, x = fields.clamp_unit(row, picked.c, picked.y, picked.x)
    unit = Unit(name, c, y, x)
    px = "pixel" if row.stride == 1 else "pixels"
    erf, _ = cache.unit_maps(ctx.key, ctx.image, name, unit.cyx)
    st.markdown(f"**Unit ({y}, {x}) of {name}, channel {c}:** hover the map to see any unit's "
                f"field at once; click one to see its sensitivity.")
    unitfield.render(ctx.image, row, unit, fmap=acts[name][c] if name in acts else None,
                     erf=erf, attr=None, key="tour.rf.panel", large=common.presenting())
    m = st.columns(2)
    m[0].metric("Field size r", f"{row.r}x{row.r} pixels")
    m[1].metric("Effective stride S", f"{row.stride} {px}")
    region = fields.unit_region(row, y, x)
    st.caption(f"Unit ({y}, {x}) of {name} ({row.size}x{row.size} map): theoretical field "
               f"{row.r}x{row.r} pixels, rows {region.y0}..{region.y1}, columns "
               f"{region.x0}..{region.x1} (orange); any part outside the image is zero padding "
               f"(hatched). Neighbouring units' fields are {row.stride} {px} apart."
               + (" The field now covers the whole digit: this unit can use all of it."
                  if row.r >= 28 else ""))
