"""The network for the panels that compute their maps in the browser (the saliency panel, the
unit-field panel): whether a model runs there, and its payload, sent once per session.

A network within the lens's bound (``viz.browser.lens``: every layer type the browser runs,
weights and multiply-adds under ``viz.limits.LENS_*``) runs in the browser: the panel computes
its maps there and the server computes none. A bigger one keeps the server's maps.

Session-state keys: ``live.sent`` (the payload ids this session's browser has).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import streamlit as st

from model.store import ModelRef
from ui.components import lens
from viz.browser import lens as vlens


def runs_in_browser(model_key: ModelRef | Hashable) -> bool:
    """Whether the model's maps are computed in the browser (within the lens's bound)."""
    return lens.supported(model_key)[0]


def forget_sent() -> None:
    """The browser lost its copy of a network (e.g. a reload): send it again."""
    st.session_state["live.sent"] = set()


def _send(pl: dict[str, Any]) -> dict[str, Any] | None:
    sent: set[str] = st.session_state.setdefault("live.sent", set())
    if pl["id"] in sent:
        return None
    sent.add(pl["id"])
    return pl


@st.cache_resource(show_spinner=False, max_entries=8)
def _randomized_payload(key: Hashable, _ref: ModelRef) -> dict[str, Any]:
    from model.files.export import numpy_net
    from ui.cache import _randomized, get_model
    model, card = get_model(_ref)
    return vlens.payload(numpy_net(_randomized(_ref, model), card))


def fields(model_key: ModelRef, randomized: bool = False) -> dict[str, Any]:
    """``net_id`` and ``net`` (the payload, or None when this browser has it), and with
    ``randomized`` the same of the copy with random weights (the sanity check's)."""
    pl = lens.payload(model_key)
    out: dict[str, Any] = {"net_id": pl["id"], "net": _send(pl), "rnd_id": None, "rnd": None}
    if randomized:
        rnd = _randomized_payload(model_key, model_key)
        out.update(rnd_id=rnd["id"], rnd=_send(rnd))
    return out
