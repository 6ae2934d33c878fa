"""The tour's page: the step navigator, the ``?concept=`` link, and the chosen step beside its
text. The steps are imported here in tour order (each registers itself)."""

from __future__ import annotations

import streamlit as st

# isort: off
from ui.tour import convolution, filters, epochs, one_by_one, three_by_three  # noqa: F401
from ui.tour import feature_maps, activation, receptive_field, rules  # noqa: F401
# isort: on
from ui import cache, common
from ui.tour.helpers import layer_records
from ui.tour.registry import REGISTRY, label, register, steps
from viz.inputs import urlstate

__all__ = ["REGISTRY", "page", "register", "steps"]


def _read_url() -> str | None:
    """Apply ?concept= when it changed outside the page (a link, the address bar).

    Returns a warning to show when the value is not a step.
    """
    value = st.query_params.get("concept")
    problem = None
    if value is not None and value != st.session_state.get("tour.written"):
        if value in steps():
            st.session_state["tour.pick"] = value
        else:
            problem = (f"There is no tour step {urlstate.shown(value)} (try "
                       f"{', '.join(steps())}). Showing "
                       f"{REGISTRY[st.session_state.get('tour.pick', steps()[0])].title}.")
            st.session_state["tour.written"] = value
    if st.session_state.get("tour.pick") not in steps():
        st.session_state["tour.pick"] = steps()[0]
    return problem


def _write_url(step: str) -> None:
    if st.query_params.get("concept") != step:
        st.query_params["concept"] = step
    st.session_state["tour.written"] = step


def _move(delta: int) -> None:
    i = steps().index(st.session_state.get("tour.pick", steps()[0]))
    st.session_state["tour.pick"] = steps()[min(max(i + delta, 0), len(steps()) - 1)]


def navigator() -> str:
    """Previous / step picker / Next; returns the chosen step."""
    i = steps().index(st.session_state["tour.pick"])
    left, mid, right = st.columns([1, 3, 1], vertical_alignment="bottom")
    left.button("← Previous", key="tour.prev", on_click=_move, args=(-1,), disabled=i == 0,
                width="stretch")
    step = mid.selectbox("Step", steps(), key="tour.pick", format_func=label,
                         label_visibility="collapsed")
    right.button("Next →", key="tour.next", on_click=_move, args=(1,),
                 disabled=i == len(steps()) - 1, width="stretch")
    return step


def show_step(ctx, key: str) -> None:
    s = REGISTRY[key]
    if s.wide:
        st.subheader(label(key))
        common.guard(s.activity, lambda: s.show(ctx, layer_records(ctx.key), {}))
        return
    text, visual = st.columns([1, 1.8], gap="large")
    with text:
        st.subheader(label(key))
        st.markdown(s.text)
        if not common.presenting() and s.visual:
            st.caption(f"Beside it: {s.visual[0].lower()}{s.visual[1:]}")
    with visual:
        if ctx.image is None and s.needs_input:
            st.info("Pick an input in the sidebar (a sample, a test digit, a drawing or an "
                    "upload) to see this on a real digit.")
            return

        def draw() -> None:
            layers = layer_records(ctx.key)
            acts = cache.forward(ctx.key, ctx.image)[0] if ctx.image is not None else {}
            s.show(ctx, layers, acts)

        common.guard(s.activity, draw)


def page() -> None:
    """The guided tour of the concepts and design rules, on the current model and input."""
    ctx = common.context()
    problem = _read_url()
    if not common.presenting():
        st.title("Concepts tour")
    if problem:
        st.warning(problem)
    step = navigator()
    _write_url(step)
    show_step(ctx, step)
