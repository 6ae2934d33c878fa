"""Step 8: the receptive field, a unit's region of the input and its sensitivity."""

from __future__ import annotations

import numpy as np
import streamlit as st

from model.architectures import ARCHITECTURES
from ui import cache, common, state
from ui.components import unitfield
from ui.tour.helpers import keep_choice
from ui.tour.registry import tour_step
from viz.network.layers import INPUT, JOIN_TYPES, SHAPE_KEEPERS, LayerInfo
from viz.network.unit import Unit
from viz.pictures import tourfigs
from viz.receptive_field import Region
from viz.teaching import fields, joins

EXAMPLE = "resnet-mini"  # the residual network that explains a join when this one has none


@tour_step('receptive-field', 'Receptive field', needs_input=True,
      text=('The receptive field of a unit is the patch of the input it can possibly see.'
            ' It grows by (kernel - 1) x (effective stride) at every layer; pooling '
            'multiplies the stride, so later layers grow faster. Within it, a unit is '
            'usually most sensitive near the centre (Luo et al. 2016: the effective '
            'receptive field is smaller than the theoretical one); the sensitivity map '
            'shows it for this unit and digit. Where branches join (a residual add), the join sees '
            'what its widest branch sees: their fields are aligned, concentric squares.'),
      visual=("The chosen unit's exact region on the input, and its sensitivity map "
              'inside it; where branches join, each branch\'s field of one unit and the '
              "join's."))
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
    show_joins(ctx, cache.field_table(ctx.key), name,
               (y, x) if row.type in JOIN_TYPES else None)


def _box(table: list[LayerInfo], name: str, y: int, x: int) -> tuple[int, int, int, int]:
    """Unclipped (y0, y1, x0, x1) of unit (y, x) of ``name`` (the image's pixel for "input")."""
    if name == INPUT:
        region = Region.box(y, y, x, x)
    else:
        region = fields.unit_region(fields.row_for(table, name), y, x)
    return region.y0, region.y1, region.x0, region.x1


def show_joins(ctx, table: list[LayerInfo], chosen: str, unit: tuple[int, int] | None) -> None:
    """Where branches join: this network's joins, or the residual example's when it has none
    (its layer records only: every number is the receptive-field engine's)."""
    st.markdown("#### Where branches join")
    found = joins.joins(table)
    own = bool(found)
    if not own:
        example = ARCHITECTURES.get(EXAMPLE)
        if example is None:
            return
        table = fields.field_table(example.layers())
        found = joins.joins(table)
        if not found:
            return
    names = [j.name for j in found]
    if own and chosen in names:  # the layer on the slider is a join: that one, that unit
        pick = chosen
    else:  # first shown: the first join through a strided projection
        strided = [j.name for j in found if j.stride > j.fork_stride] or names
        keep_choice("tour.rf.join", names, strided[0])
        pick = st.radio("Join", names, key="tour.rf.join", horizontal=True,
                        help="Each add of a residual network reads two branches.")
    j = next(j for j in found if j.name == pick)
    y, x = unit if (unit is not None and pick == chosen) else (j.size // 2, j.size // 2)
    boxes = [(f"{b.name} (branch)", _box(table, b.name, y, x), False) for b in j.branches]
    boxes.append((f"{j.name} (join)", _box(table, j.name, y, x), True))
    if not own:
        st.caption(f"This network is one chain: no layer reads two others. In the residual "
                   f"network {EXAMPLE} (its architecture; open it from the sidebar to explore "
                   f"it live), every block adds two branches:")
    left, right = st.columns([1.1, 1.0])
    with left:
        common.plot(tourfigs.join_fields(ctx.image, boxes, height=360 if not common.presenting()
                                         else 460), key="tour.rf.joinfig")
    with right:
        st.markdown(joins.join_sentence(j))
        st.caption(f"Unit ({y}, {x}) of {j.name}: the dashed squares are the fields of the same "
                   f"unit in each branch, the orange one the join's. A misaligned join (branches "
                   f"with different strides, or centred on different pixels) has no single "
                   f"field: the engine refuses it.")
