"""The instant lens in Streamlit: one call, ``render``, mounts the in-browser lens.

The component (``ui/components/lens/lens.html``, ``.css``, ``.js`` after the shared ``canvas.js``; no build
step, nothing fetched at run time) is declared once per process (``ui/components/__init__.py``). The
network's payload (``viz.browser.lens.payload``: layer records, weights, receptive-field table) is built
once per model and sent to a browser session once; the browser keeps it and answers hover, keys,
layer switches and pen strokes without a rerun. Python hears only a picked unit (Enter or click)
and a finished drawing (pen released).

Session-state keys: ``lens.sent`` (the network ids this session's browser has).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from model.store import ModelRef
from ui import cache, components, state
from ui.components import wire
from viz.browser import lens as vlens
from viz.inputs import preprocess
from viz.limits import LAYER_NAME_CHARS
from viz.network import npforward
from viz.network.unit import Unit


@st.cache_resource(show_spinner=False, max_entries=16)
def _payload_for(key: Hashable, _net: npforward.NumpyNet) -> dict[str, Any]:
    return vlens.payload(_net)


def payload(key: ModelRef | Hashable, net: npforward.NumpyNet | None = None) -> dict[str, Any]:
    """The lens payload of a model (built once per model, shared by every session).

    ``key`` is a :class:`model.store.ModelRef` (its numpy network is read through the caches),
    or any name for ``net`` given by the caller.
    """
    return _payload_for(key, net if net is not None else cache.numpy_net(key))


@dataclass(frozen=True)
class LensResult:
    """What the browser sent back: the picked unit and the finished drawing (or None)."""

    unit: Unit | None
    drawing: np.ndarray | None  # uint8 (28, 28), made on the server from the pad's pixels
    live_digit: np.ndarray | None  # uint8 (28, 28), what the browser made of the same strokes
    live_prediction: int | None
    error: str | None = None


def _forget_sent() -> None:
    """The browser lost its copy of the network (e.g. a reconnect): send it again."""
    st.session_state["lens.sent"] = set()


def _live_digit(value: Any) -> np.ndarray | None:
    """The browser's own 28x28 of the drawing: 784 whole numbers in 0..255, else None."""
    if not isinstance(value, list) or len(value) != 784:
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value):
        return None
    return np.asarray(value, dtype=np.uint8).reshape(28, 28)


def _decode_drawing(value: Any) -> tuple[np.ndarray | None, np.ndarray | None, int | None,
                                         str | None]:
    """(server 28x28, browser 28x28, browser's prediction, error) of the pad's state. The state
    comes from the browser: the PNG text is bounded before decoding (``preprocess.drawing_bytes``)
    and every other field checked; a bad one is dropped or named in the error, never raised."""
    if not isinstance(value, dict) or "png" not in value:
        return None, None, None, None
    live_digit = _live_digit(value.get("digit"))
    pred = value.get("prediction")
    live_pred = (pred if isinstance(pred, int) and not isinstance(pred, bool) and 0 <= pred <= 9
                 else None)
    try:
        return preprocess.drawing_to_mnist(value["png"]), live_digit, live_pred, None
    except ValueError as exc:
        return None, live_digit, live_pred, str(exc)


def render(model_key: ModelRef | Hashable, image: np.ndarray | None, *, layer: str | None = None,
           unit: Unit | None = None, large: bool = False, draw: bool = False,
           cmap: str = "cividis", scale: str = "per map", key: str = "lens",
           prediction: str = "always",
           net: npforward.NumpyNet | None = None,
           on_layer: Callable[[], None] | None = None,
           on_drawing: Callable[[], None] | None = None,
           on_unit: Callable[[], None] | None = None) -> LensResult:
    """Mount the lens for a model and a uint8 28x28 input; return what the user picked or drew.

    ``layer``/``unit`` set the shown layer and unit (e.g. from a link); the browser keeps its own
    choice afterwards until they change. ``large``: presenter mode. ``draw``: open the pad.
    ``prediction``: ``"always"``, or ``"drawing"`` (only while the pad is open: the page shows it).
    ``net``: the numpy network, when the caller already has it (else read from the model key).
    ``on_layer``: called (before the rerun) when the user settles on another layer in the lens;
    :func:`chosen_layer` reads it. ``on_drawing``: called (before the rerun) when the pen is
    released; :func:`drawing_rgba` reads the pad. ``on_unit``: called when a unit is picked;
    ``ui.state.component_unit(key)`` reads it.
    """
    pl = payload(model_key, net)
    sent: set[str] = st.session_state.setdefault("lens.sent", set())
    include = pl["id"] not in sent
    data = {
        "net_id": pl["id"],
        "net": pl if include else None,
        "image": None if image is None else np.asarray(image, dtype=np.uint8).reshape(-1).tolist(),
        "layer": layer,
        "unit": unit.record() if unit is not None else None,
        "large": bool(large),
        "draw": bool(draw),
        "cmap": cmap,
        "scale": scale,
        "prediction": prediction,
    }
    result = components.component("lens")(
        key=key, data=data, on_unit_change=on_unit or (lambda: None),
        on_drawing_change=on_drawing or (lambda: None), on_need_net_change=_forget_sent,
        on_layer_change=on_layer or (lambda: None))
    sent.add(pl["id"])
    if (notice := wire.notice(key, "the lens")) is not None:
        st.caption(notice)
    picked = result.get("unit") if hasattr(result, "get") else getattr(result, "unit", None)
    drawing_value = (result.get("drawing") if hasattr(result, "get")
                     else getattr(result, "drawing", None))
    drawing, live, live_pred, error = _decode_drawing(drawing_value)
    return LensResult(Unit.from_browser(picked), drawing, live, live_pred, error)


def chosen_layer(key: str = "lens") -> str | None:
    """The layer last chosen inside the lens (for an ``on_layer`` callback), or None (also for
    a value that is not a layer name: not a string, or longer than a card allows)."""
    value = state.component_field(key, "layer")
    return value if isinstance(value, str) and 0 < len(value) <= LAYER_NAME_CHARS else None


def drawing_rgba(key: str = "lens") -> np.ndarray | None:
    """The drawing pad's pixels (RGBA, at most 240x240, dark ink on white) as last released, or
    None: nothing drawn, or a state that is not the pad's picture (too long, not base64, not a
    PNG, too many pixels: checked from its header before decoding; the page says why, see
    :func:`render`'s ``error``). Only this small array is kept in the session."""
    value = state.component_field(key, "drawing")
    if not isinstance(value, dict) or "png" not in value:
        return None
    try:
        return preprocess.drawing_rgba(value["png"])
    except ValueError:
        return None


def supported(model_key: ModelRef | Hashable) -> tuple[bool, str | None]:
    """Whether the lens runs this model in the browser, and if not, why (for the fallback)."""
    pl = payload(model_key)
    return bool(pl["supported"]), pl["reason"]


def too_big(model_key: ModelRef | Hashable) -> bool:
    """Whether the model is over the lens's size bound (``viz.limits.LENS_WEIGHT_CHARS``,
    ``LENS_MACS_PER_STROKE``): then the reason is a sentence of its own and nothing was encoded."""
    return bool(payload(model_key).get("too_big"))
