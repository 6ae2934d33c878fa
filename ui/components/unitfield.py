"""The unit-field panel in Streamlit: one call, ``render``, mounts it.

The browser draws one channel's map to pick units on and three pictures of the input for the
picked unit: its theoretical field (following the pointer and the arrow keys, no round trip), its
effective field and its attribution (computed here, on a pick). The component's files are
``ui/components/unitfield/unitfield.{html,css,js}`` after the lens's shared ``canvas.js``; the data is
``viz.browser.fieldpanel.payload``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st

from model.store import ModelRef
from ui import components
from ui.components import livenet, wire
from viz.browser import fieldpanel
from viz.network.layers import LayerInfo
from viz.network.unit import Unit


def render(image: np.ndarray, row: LayerInfo, unit: Unit, *,
           fmap: np.ndarray | None, erf: np.ndarray | None, attr: np.ndarray | None,
           key: str, large: bool = False,
           on_pick: Callable[[], None] | None = None,
           live: ModelRef | None = None) -> None:
    """Mount the panel for ``unit`` (of layer ``row``) on the uint8 28x28 ``image``.

    ``fmap``: the channel's map to pick on (None: no picker). ``on_pick`` runs (before the rerun)
    when a unit is picked; ``ui.state.component_unit(key)`` reads it. ``live``: the model, when
    it runs in the browser: the panel computes the hovered unit's fields itself.
    """
    data: dict[str, Any] = fieldpanel.payload(image, row, unit.cyx, fmap=fmap, erf=erf, attr=attr)
    data["large"] = bool(large)
    if live is not None:
        data["live"] = livenet.fields(live)
    components.component("unitfield")(key=key, data=data,
                                      on_unit_change=on_pick or (lambda: None),
                                      on_need_net_change=livenet.forget_sent)
    if (notice := wire.notice(key, "the unit panel")) is not None:
        st.caption(notice)

