"""Every explorer view has a URL: ?model=seed&sample=18&layer=relu3&view=field&unit=2,14,14
(``sample`` counts from 1, as the sidebar does; see ``viz/inputs/urlstate.py``).

``apply_before_sidebar`` reads the link once per session (model and input, before the sidebar
draws its widgets); ``apply_after_forward`` applies layer, view, unit and method once the
layers are known; ``write`` keeps the address bar in step with what is on screen, so copying it
shares the view. Parsing and validation are in ``viz/inputs/urlstate.py``. Session-state keys: ``url.*``.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

import numpy as np
import streamlit as st

from model.data import TEST_SET_SIZE
from model.store import ModelRef
from ui import cache, sidebar, state
from ui.views import VIEWS
from viz.inputs import urlstate
from viz.network.unit import Unit

N_TEST = TEST_SET_SIZE
# What else follows the address bar, registered by its module (ui/classroom/session.py: a
# student's class code stays in it; a teacher's view goes to the class after every write).
KEEP: list[Callable[[], dict[str, str]]] = []
AFTER_WRITE: list[Callable[[], None]] = []


def views() -> dict[str, str]:
    """{URL name: title} of every explorer view, from the registry ``ui/explorer.py`` fills."""
    return {v.url: v.title for v in VIEWS.values()}


def model_names() -> dict[str, ModelRef]:
    """{URL name: model} of every shareable model (uploads are private to a session)."""
    return {ref.url_name: ref for ref in sidebar.model_options() if ref.url_name is not None}


def _problems(link: urlstate.ViewState) -> None:
    if link.problems:
        st.session_state["url.problems"] = list(link.problems)


def apply_before_sidebar() -> None:
    """Once per session: select the link's model and input (widgets not drawn yet)."""
    if st.session_state.get("url.read"):
        return
    st.session_state["url.read"] = True
    params = st.query_params.to_dict()
    if not any(k in params for k in urlstate.KEYS):
        return
    n_test = 0
    if str(params.get("input", "")).startswith("test:"):
        from model.data import mnist_available
        n_test = N_TEST if mnist_available() else 0
    images, _ = cache.samples()
    names = model_names()
    link = urlstate.parse(params, list(names), methods=(), views=list(views()),
                          n_samples=len(images), n_test=n_test)
    if link.input and link.input[0] == "test" and n_test == 0:
        link.problems.append("the MNIST test set is not on this server; showing a sample")
    if link.model:
        state.select_model(names[link.model])
    if link.input:
        kind, index = link.input
        if kind == "sample":
            state.select_sample(index)
        else:
            state.select_test_digit(index)
    st.session_state["url.pending"] = link
    _problems(link)


def apply_after_forward(acts: dict[str, np.ndarray]) -> None:
    """Once: the link's layer, view, unit and saliency method, checked against this model."""
    link: urlstate.ViewState | None = st.session_state.pop("url.pending", None)
    if link is not None:
        from model.saliency import METHODS
        problems = list(link.problems)
        layer = link.layer
        if layer is not None and layer not in acts:
            problems.append(f"layer {urlstate.shown(layer)} is not in this model (pick one from "
                            f"the Layer list)")
            layer = None
        if layer:
            state.select_layer(layer)
        view = views().get(link.view or "")
        if link.method is not None:
            if link.method in METHODS:
                state.select_method(link.method)
                view = view or views()["saliency"]
            else:
                problems.append(f"method {urlstate.shown(link.method)} is unknown (have: "
                                f"{', '.join(METHODS)})")
        if link.unit is not None:
            where = layer or state.layer()
            shape = acts[where].shape if where in acts else ()
            c, y, x = link.unit
            if where not in acts:  # the link's layer was not in this model: no layer to hold it
                problems.append(f"unit {c},{y},{x} was not used: it needs a layer of this model "
                                f"(pick one from the Layer list, then a unit)")
            elif len(shape) == 3 and c < shape[0] and y < shape[1] and x < shape[2]:
                state.pick_unit(Unit.at(where, link.unit))
                view = view or views()["field"]
            else:
                size = "x".join(map(str, shape)) or "unknown"
                problems.append(f"unit {c},{y},{x} is outside {where} (channels x rows x "
                                f"columns: {size})")  # (a layer of this model, not the link's)
        if view:
            state.show_view(view)
        if problems:
            st.session_state["url.problems"] = problems
    problems = st.session_state.pop("url.problems", None)
    if problems:
        st.warning("Part of this link could not be used: " + "; ".join(problems) + ". "
                   "The rest of it is shown.")


def current() -> dict[str, str]:
    """Query parameters describing what the explorer shows now."""
    names = {key: name for name, key in model_names().items()}
    view_names = {title: name for name, title in views().items()}
    link = urlstate.ViewState(model=names.get(state.chosen_model()), input=state.input_ref(),
                              layer=state.layer())
    link.view = view_names.get(state.view() or "")
    unit = state.picked_unit()
    if link.view == "field" and unit is not None and unit.layer == link.layer:
        link.unit = unit.cyx
    if link.view == "saliency":
        link.method = state.method()
    params = urlstate.encode(link)
    if state.presenting():
        params["present"] = "1"
    return params


def write() -> None:
    """Put the current view in the address bar (only when it changed)."""
    params = current()
    for keep in KEEP:
        params.update(keep())
    if params != st.query_params.to_dict():
        st.query_params.from_dict(params)
    for hook in AFTER_WRITE:
        hook()


def link() -> str:
    """The full address of the current view, to copy into a lesson plan or a chat."""
    base = (st.context.url or "").split("?")[0]
    return f"{base}?{urlencode(current())}"
