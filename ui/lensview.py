"""The explorer's Feature maps view drawn by the in-browser lens (ui/lens.py).

``feature_maps`` mounts the lens for the current model, input and layer; the browser answers
hover, keys, layer and channel switches and pen strokes by itself. A picked unit (click or Enter)
comes back here for what needs the real network: its effective field and its attribution,
computed on the server as in the Receptive field view. Returns False when the lens cannot run the
network, so the caller draws the server's maps instead (and the page says why).
"""

from __future__ import annotations

import os

import numpy as np
import streamlit as st

from model.store import ModelRef
from ui import lens, state, unitfield
from ui.cache import field_table, unit_maps
from ui.state import presenting
from viz.unit import Unit


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
    except Exception as exc:  # noqa: BLE001 - the server's maps still work
        ok, reason = False, f"{type(exc).__name__}: {exc}"
    if not ok:
        st.info(f"The in-browser lens cannot run this network ({reason}); showing the maps "
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
    if result.drawing is not None:
        same = result.live_digit is not None and bool((result.live_digit == result.drawing).all())
        st.caption(f"Your drawing, remade on the server the same way: "
                   f"{'the same 28x28 digit' if same else 'a slightly different digit'}"
                   + (f" (the lens predicted {result.live_prediction})."
                      if result.live_prediction is not None else "."))
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
    from viz import fields
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
