"""Following the teacher: the teacher's session publishes what it shows after every run that
changed it (the link parameters, the tour step, the drawing, the picked unit and channel); a
following student's session applies a newer version at the top of its next run, the way a link
is applied. The input stays the student's once they draw or pick their own (docs/classroom.md)."""

from __future__ import annotations

import base64
import io
import json
import time
from typing import Any

import numpy as np
import streamlit as st

from model.classroom import rules
from ui import state, urls
from ui.classroom import session
from viz.inputs import preprocess, urlstate
from viz.network.unit import Unit

# ---------------------------------------------------------------------------------- publishing

def _drawing_text() -> str | None:
    rgba = state.drawing()
    if rgba is None or state.input_source() != state.DRAW:
        return None
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgba, dtype=np.uint8)).save(buf, format="PNG", optimize=False)
    text = base64.b64encode(buf.getvalue()).decode("ascii")
    return text if len(text) <= session.MAX_DRAWING_CHARS else None


def view_record(page: str) -> dict[str, Any]:
    """What the teacher's screen shows, for the followers."""
    params = {k: v for k, v in urls.current().items() if k != "present"}
    record: dict[str, Any] = {"page": page, "params": params}
    if page == "tour":
        record["concept"] = st.query_params.get("concept")
    unit = state.picked_unit()
    record["unit"] = unit.record() if unit is not None else None
    layer = state.layer()
    channel = st.session_state.get(state.channel_key(layer)) if layer else None
    record["channel"] = channel if isinstance(channel, int) else None
    record["drawing"] = _drawing_text()
    return record


def publish(page: str | None = None) -> None:
    """The teacher's session: share what it shows now (nothing when nothing changed)."""
    if not session.teaching():
        return
    if page is not None and page in session.FOLLOWED_PAGES:
        st.session_state[session.PAGE] = page
    page = st.session_state.get(session.PAGE, "explore")
    text = json.dumps(view_record(page), sort_keys=True, separators=(",", ":"))
    if text == st.session_state.get(session.PUBLISHED):
        return
    try:
        session.store().publish(session.code(), session._secret_hash(), text, time.time())
    except rules.ClassError as exc:  # ended elsewhere, expired, or another teacher link
        st.session_state[session.NOTICE] = f"The class could not be updated: {exc}"
        session._leave()
        return
    st.session_state[session.PUBLISHED] = text
    session._shared().forget(session.code())


# ---------------------------------------------------------------------------------- following

def _decode_drawing(text: Any) -> np.ndarray | None:
    if not isinstance(text, str) or len(text) > session.MAX_DRAWING_CHARS:
        return None
    try:
        return preprocess.drawing_rgba("data:image/png;base64," + text)
    except Exception:  # noqa: BLE001 - the store's text: a bad one is skipped
        return None


def before_sidebar(page_path: str) -> None:
    """At the top of every run, before the sidebar: the ``?class=`` link, and for a following
    student a newer view of the teacher's, applied as a link would be (switching page when the
    teacher is on another one)."""
    session.read_link(page_path)
    if not session.following():
        return
    info = session.class_info(session.code())
    if info is None or info.ended:
        return
    if info.version <= st.session_state.get(session.APPLIED, -1):
        return
    try:
        record = json.loads(info.state)
    except ValueError:
        record = {}
    if not isinstance(record, dict) or not record.get("params"):
        st.session_state[session.APPLIED] = info.version
        return
    page = record.get("page") if record.get("page") in session.FOLLOWED_PAGES else "explore"
    here = "tour" if page_path == "tour" else "explore" if page_path == "" else page_path
    mine = session.own_input() and not st.session_state.get(session.TAKE)
    params = {str(k): str(v)[:200] for k, v in dict(record["params"]).items()
              if k in urlstate.KEYS and not (mine and k in session.INPUT_PARAMS)}
    if page == "tour" and isinstance(record.get("concept"), str):
        params = {"concept": record["concept"][:80]}
    params.update(session._own_params())
    if page != here:
        from ui import common, sidebar
        sidebar.keep_sidebar_state()  # this run draws no sidebar: keep its digit for the next
        st.switch_page(common.PAGES[page], query_params=params)  # the next run applies it
    st.session_state[session.APPLIED] = info.version
    st.session_state.pop(session.TAKE, None)
    st.query_params.from_dict(params)
    st.session_state.pop("url.read", None)
    urls.apply_before_sidebar()  # the teacher's network and (unless the student's own) input
    rgba = None if mine else _decode_drawing(record.get("drawing"))
    if rgba is not None:
        state.use_drawing(rgba)
    if not mine:
        st.session_state[session.GIVEN] = state.input_signature(linked=True)  # what the teacher gave
    unit = Unit.from_record(record.get("unit"))
    if unit is not None:
        state.pick_unit(unit)
    elif record.get("channel") is not None and params.get("layer"):
        number = urlstate.whole(record["channel"])
        if number is not None:
            state.select_channel(params["layer"], number)


def poll_due() -> bool:
    """For the poll fragment: whether a following student must rerun the app to catch up."""
    session._tell_seen()
    if not session.following():
        return False
    info = session.class_info(session.code())
    return info is not None and not info.ended and info.version > st.session_state.get(session.APPLIED,
                                                                                       -1)


def _explorer_written() -> None:
    publish("explore")


# A teacher's explorer publishes after each write of its address bar.
if _explorer_written not in urls.AFTER_WRITE:
    urls.AFTER_WRITE.append(_explorer_written)
