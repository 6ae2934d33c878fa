"""The Feature maps view: the in-browser lens (``ui/components/lens.py``), or the server's maps.

``feature_maps`` mounts the lens for the current model, input and layer; the browser answers
hover, keys, layer and channel switches and pen strokes by itself. A picked unit (click or Enter)
comes back here for what needs the real network: its effective field and its attribution,
computed on the server as in the Receptive field view. When the lens cannot run the network
(or ``?lens=0``), :func:`server_maps` draws the maps on the server and the page says why.

Session-state keys: ``lens.on``, ``lens.new_input``, ``fm.*``.
"""

from __future__ import annotations

import os

import numpy as np
import streamlit as st

from model.store import ModelRef
from ui import checked, state
from ui.cache import conv_weight, field_table, unit_maps
from ui.common import plot
from ui.components import lens, unitfield
from ui.state import presenting
from ui.views import Shown, View
from viz.network.unit import Unit
from viz.pictures import figures
from viz.teaching import fields

PAGE = 16  # feature maps per page
CMAPS = ["cividis", "viridis", "gray"]  # the Colours choices


def enabled() -> bool:
    """Whether the Feature maps view is the lens: yes, unless a link says ``?lens=0`` (kept for
    the session) or the server runs with ``CNN_LENS_LENS=0`` (then the server draws the maps)."""
    if "lens.on" not in st.session_state:
        st.session_state["lens.on"] = (st.query_params.get("lens") != "0"
                                       and os.environ.get("CNN_LENS_LENS") != "0")
    return bool(st.session_state["lens.on"])


def runs(key: ModelRef) -> bool:
    """Whether the Feature maps view is the lens for this model (enabled and supported)."""
    try:
        return enabled() and lens.supported(key)[0]
    except Exception:  # noqa: BLE001 - then feature_maps says why and the server draws
        return False


def feature_maps(key: ModelRef, image: np.ndarray | None, layer: str | None) -> bool:
    """The lens for ``key``'s network and ``image``, starting on ``layer``; False: fall back.

    With the sidebar's Draw source the pad is open (``image`` None: nothing drawn yet)."""
    try:
        ok, reason = lens.supported(key)
        big = not ok and lens.too_big(key)
    except Exception as exc:  # noqa: BLE001 - the server's maps still work
        ok, reason, big = False, f"{type(exc).__name__}: {exc}", False
    if not ok:
        st.info(f"{reason}: these are its maps, computed on the server for this input (hover "
                f"for values; pick the layer above)." if big else
                f"The in-browser lens cannot run this network ({reason}); showing the maps "
                f"computed on the server instead.")
        return False
    unit = state.picked_unit()
    drawing = state.input_source() == state.DRAW
    result = lens.render(key, image, layer=layer, large=presenting(), prediction="drawing",
                         draw=drawing,
                         unit=unit if unit is not None and unit.layer == layer else None,
                         on_layer=_sync_layer, on_drawing=_use_drawing, on_unit=_use_unit)
    if st.session_state.pop("lens.new_input", False):
        st.rerun(scope="app")  # this view runs in a fragment; the input lives outside it
    if drawing and image is not None:
        # Below the lens, so the pad does not move when it appears; the prediction is the lens's.
        same = (result.drawing is not None and result.live_digit is not None
                and bool((result.live_digit == result.drawing).all()))
        differs = result.drawing is not None and not same
        st.caption("Input: your drawing, made MNIST-like on the server from the pad's pixels "
                   "(cropped, fitted into 20x20, centred by mass)"
                   + ("; the same 28x28 digit as the lens made while you drew." if same else
                      "; it differs slightly from the lens's live digit." if differs else "."))
    elif result.error:
        st.caption(f"Drawing: {result.error}")
    if result.unit and image is not None:
        _picked(key, image, result.unit)
    return True


def _sync_layer() -> None:
    """A layer chosen in the lens becomes the page's layer (picker, links, other views)."""
    name = lens.chosen_layer()
    if name:
        state.select_layer(name)


def _use_unit() -> None:
    """A unit picked in the lens is the explorer's unit (the Receptive field view opens on it)."""
    unit = state.component_unit("lens")
    if unit is not None:
        state.pick_unit(unit)


def _use_drawing() -> None:
    """A drawing released in the lens becomes the page's input (the sidebar's Draw source)."""
    rgba = lens.drawing_rgba()
    if rgba is not None:
        state.use_drawing(rgba)
        st.session_state["lens.new_input"] = True  # the sidebar and header must rerun too


def _picked(key: ModelRef, image: np.ndarray, unit: Unit) -> None:
    """The picked unit's theoretical field, effective field and attribution (server side)."""
    from viz.teaching import fields
    name = unit.layer
    try:
        row = fields.row_for(field_table(key), name)
    except ValueError:
        return  # a unit of another network (the model changed since the pick)
    unit = Unit.at(name, fields.clamp_unit(row, unit.c, unit.y, unit.x))
    c, y, x = unit.cyx
    region = fields.unit_region(row, y, x)
    erf, attr = unit_maps(key, image, name, unit.cyx)
    st.markdown(f"**Picked: channel {c}, row {y}, col {x} of {name}** · "
                f"{fields.describe(row, region, erf)}")
    unitfield.render(image, row, unit, fmap=None, erf=erf, attr=attr, key="lens.picked",
                     large=presenting())


def draw(v: Shown) -> None:
    """The lens (the network run in the browser), or the server's maps when it cannot run."""
    if enabled() and feature_maps(v.key, v.image, v.layer):
        if dense := fields.dense_only(v.table):
            st.caption(dense)
        return
    server_maps(v)


def server_maps(v: Shown) -> None:
    key, acts, layer = v.key, v.acts, v.layer
    a = acts[layer]
    if a.ndim == 1 or (a.ndim == 3 and a.shape[1:] == (1, 1)):
        vec = a.reshape(-1)
        plot(figures.vector_bars(vec), key="fm.vector")
        what = f"{layer} outputs {vec.size} numbers"
        what += ", one per class" if v.table[-1].name == layer else ""
        dense = fields.dense_only(v.table)
        st.caption(f"{what}. {dense}" if dense else
                   f"{what} (no spatial map left: every unit sees the whole image).")
        return
    c = a.shape[0]
    cols = st.columns([1.3, 1.0, 1.0, 1.4])
    pages = (c + PAGE - 1) // PAGE
    checked.check("fm.scale", checked.one_of(["per map", "shared"]), "The Colour scale choice")
    checked.check("fm.page", checked.whole(1, max(pages, 1)), "The Page box")
    checked.check("fm.cmap", checked.one_of(CMAPS), "The Colours choice")
    checked.check("fm.filters", checked.SWITCH, "The filters switch")
    scale = cols[0].radio("Colour scale", ["per map", "shared"], horizontal=True, key="fm.scale",
                          help="Per map: each map stretched to its own range (compare shapes). "
                               "Shared: one range for all (compare strengths).")
    page = 0
    if pages > 1:
        page = cols[2].number_input(f"Page (of {pages})", 1, pages, 1, key="fm.page") - 1
    cmap = cols[1].selectbox("Colours", CMAPS, key="fm.cmap",
                             help="cividis and viridis are readable with colour-blindness and "
                                  "in black and white.")
    weight = conv_weight(key, layer)
    show_filters = False
    if weight is not None:
        show_filters = cols[3].toggle("Show this layer's filters", key="fm.filters")
    lo, hi = page * PAGE, min(c, (page + 1) * PAGE)
    fig = figures.feature_grid(a[lo:hi], first_channel=lo, per_map=scale == "per map",
                               colorscale=cmap)
    plot(fig, key="fm.mosaic")
    st.caption(f"The {hi - lo} feature maps {lo}-{hi - 1} of {layer} ({c} channels, "
               f"{a.shape[1]}x{a.shape[2]}) for this input; bright = strong activation "
               f"({'each map on its own scale' if scale == 'per map' else 'one shared scale'}). "
               f"Hover for values.")
    if show_filters:
        w = weight
        out_c, in_c = w.shape[:2]
        fig, o_hi, i_hi = figures.filter_grid(w)
        plot(fig, key="fm.weights")
        st.caption(f"The {w.shape[2]}x{w.shape[3]} filters of {layer}: one row per output "
                   f"channel ({o_hi} of {out_c}), one column per input channel ({i_hi} of {in_c})"
                   f"; red = positive weight, blue = negative, one shared scale.")


VIEW = View("maps", "Feature maps", draw, "Feature maps", picks_layer=runs)
