"""The class on screen: the sidebar's Class section, the teacher's Class page (code, join link,
QR code, gallery) and the "Send to the class" row beside a student's drawing pad.

Session-state keys (besides ``ui/classroom/session.py``'s): ``class.join`` (the typed code),
``class.meant`` and ``class.nick`` (the send row), ``class.sent`` (its message),
``class.hidden`` (the teacher hid the gallery), ``class.gallery`` (the gallery component),
``class.shown`` and ``class.rerun`` (a digit clicked), ``class.end``, ``class.clear`` and
``class.start`` (buttons).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from model.classroom import rules
from ui.classroom import gallery, seats, session
from viz import limits
from viz.inputs import urlstate
from viz.pictures import style

TEACHER_POLL_S = 1.0  # the teacher's screen refreshes its counts and gallery this often


def _page(name: str):
    from ui import common
    return common.PAGES[name]


# ---------------------------------------------------------------------------------- the sidebar

def _join() -> None:
    if session.join(st.session_state.get("class.join", "")):
        st.session_state["class.join"] = ""


def _follow(on: bool) -> None:
    session.set_following(on)


@st.fragment(run_every=session.POLL_S)
def _student_status() -> None:
    """A student's bar: following or not (and the switch), how many follow. Its poll: a newer
    view of the teacher's reruns the whole app."""
    if session.poll_due():
        st.rerun(scope="app")
    info = session.class_info(session.code())
    if info is None or info.ended:
        st.warning(f"Class {session.code()} has ended. You can keep exploring on your own.")
        return
    joined, here = session.counts(session.code())
    text, switch = st.columns([3, 1], vertical_alignment="center")
    if session.following():
        text.markdown(f":material/groups: **Following your teacher** · class {session.code()} "
                      f"· {here} of {joined} following")
        switch.button("Explore on my own", key="class.away", on_click=_follow, args=(False,),
                      width="stretch",
                      help="Your clicks stay on your screen; the teacher's no longer move it.")
    else:
        text.markdown(f":material/explore: **Exploring on your own** · class {session.code()} "
                      f"· {here} of {joined} following the teacher")
        switch.button("Follow again", key="class.back", on_click=_follow, args=(True,),
                      width="stretch", type="primary")


@st.fragment(run_every=TEACHER_POLL_S * 2)
def _teacher_status(page_path: str) -> None:
    joined, here = session.counts(session.code())
    text, link = st.columns([3, 1], vertical_alignment="center")
    text.markdown(f":material/groups: **Teaching class {session.code()}** · {joined} joined · "
                  f"{here} following your screen")
    if page_path != "class":
        link.page_link(_page("class"), label="Code and gallery", icon=":material/qr_code:")


def status_bar(page_path: str) -> None:
    """Above the page, in a class: the teacher's or the student's bar (the sidebar is folded
    away on a phone)."""
    message = session.notice()  # a wrong or expired code, a refused teacher link
    if message:
        st.warning(urlstate.plain(message))
    seats.store_notice()  # a plain line while the class's store does not answer
    if session.teaching():
        _teacher_status(page_path)
    elif session.studying():
        _student_status()


def _leave() -> None:
    session.end() if session.teaching() else session.leave()


def sidebar_section(page_path: str) -> None:
    """The sidebar's Class section: start or join a class; in one, its code and a way out."""
    with st.sidebar:
        st.subheader("Class")
        if session.teaching() or session.studying():
            st.markdown(f"{'Teaching' if session.teaching() else 'In'} class "
                        f"**{session.code()}**")
            st.button("End the class" if session.teaching() else "Leave the class",
                      key="class.leave", on_click=_leave, width="stretch")
            return
        left, right = st.columns([1.3, 1], vertical_alignment="bottom")
        left.text_input("Class code", key="class.join", max_chars=12, placeholder="K7P3QX",
                        help="The code your teacher shows, to follow their screen.")
        right.button("Join", key="class.join_btn", on_click=_join, width="stretch")
        if st.button("Start a class", key="class.start", width="stretch",
                     help="Students follow your screen and send you their digits."):
            session.start()
            st.switch_page(_page("class"))


# ---------------------------------------------------------------------------------- the page

def _join_link() -> str:
    url = (st.context.url or "").split("?")[0].split("#")[0]
    base = url[: -len("class")] if url.endswith("/class") else url
    base = base if base.endswith("/") else base + "/"
    return f"{base}?class={session.code()}"


@st.cache_data(show_spinner=False, max_entries=64)
def qr_png(text: str) -> bytes:
    """The QR code of ``text`` (a join link) as a PNG, made here (segno; nothing fetched)."""
    import io

    import segno
    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=8, border=2)
    return buf.getvalue()


def _show_digit() -> None:
    """A click in the gallery: that digit becomes the input of every screen following."""
    wanted = gallery.picked("class.gallery")
    if wanted is None or not session.teaching():
        return
    for d in session.gallery():
        if d.id == wanted:
            from ui import state
            state.use_drawing(session.digit_rgba(d.pixels))
            st.session_state["class.shown"] = (d.id, d.label, d.prediction)
            st.session_state["class.rerun"] = True  # the sidebar and the class must follow
            return


@st.fragment(run_every=TEACHER_POLL_S)
def _gallery() -> None:
    if st.session_state.pop("class.rerun", False):
        st.rerun(scope="app")
    digits = session.gallery()
    st.markdown(f"### {gallery.summary(digits)}")
    shown = st.session_state.get("class.shown")
    if shown:
        st.caption(f"Digit {shown[0]} (meant {shown[1]}, read as {shown[2]}) is the input on "
                   f"every screen following; open Explore to look inside.")
    gallery.render(digits, key="class.gallery", on_pick=_show_digit)


def _end() -> None:
    session.end()


def page() -> None:
    """The Class page: for the teacher the code (large, for the back row), the join link, its QR
    code and the gallery; otherwise how to start or join."""
    if not session.teaching():
        st.title("Class")
        if session.studying():
            st.info(f"You are in class {session.code()}: your screen follows your teacher's. "
                    f"Draw a digit on the Explore page's pad (Digit from: Draw) to send it to "
                    f"the class.")
        else:
            st.info("Start a class in the sidebar (or open `?class=new`): students open the link "
                    "or type the code, and their screens follow yours. Students join with the "
                    "code in the sidebar.")
        return
    code = session.code()
    link = _join_link()
    left, mid, right = st.columns([1.6, 1.0, 1.6], vertical_alignment="top")
    with left:
        st.markdown(
            f"<div style='font-size:1.2rem;color:{style.CAPTION}'>Class code</div>"
            f"<div data-testid='class-code' style='font-size:7rem;font-weight:800;"
            f"letter-spacing:0.12em;line-height:1;color:{style.BLUE};"
            f"font-family:ui-monospace,monospace'>{code}</div>", unsafe_allow_html=True)
        st.markdown("Open this link, or the app and type the code under **Class**:")
        st.code(link, language=None, wrap_lines=True)
    with mid:
        st.image(qr_png(link), width=220, caption="Scan to join")
    with right:
        once = st.session_state.pop(session.TEACHER_LINK, None)
        if once:
            # Folded: on a projector, the class must not see it (open it on your own screen).
            with st.expander("Your teacher link (shown once): open it on your own screen"):
                st.caption("Keep it to drive this class again after a reload. Never show it: "
                           "whoever opens it drives the class.")
                st.code(_join_link().replace(f"?class={code}", once), language=None,
                        wrap_lines=True)
        hide = st.toggle("Hide the gallery", key="class.hidden")
        b1, b2 = st.columns(2)
        if b1.button("Clear the gallery", key="class.clear", width="stretch"):
            session.clear_gallery()
        b2.button("End the class", key="class.end", on_click=_end, width="stretch")
        seats.teacher_controls()
    if not hide:
        _gallery()


# ---------------------------------------------------------------------------------- sending

def _send(ref: Any, image: np.ndarray | None) -> None:
    try:
        message = session.send(ref, image, st.session_state.get("class.meant"),
                               st.session_state.get("class.nick", ""))
    except rules.ClassError as exc:
        st.session_state["class.sent"] = ("error", str(exc)[0].upper() + str(exc)[1:])
        return
    st.session_state["class.sent"] = ("ok", message)


def send_row(ref: Any, image: np.ndarray | None) -> None:
    """Beside a student's drawing pad: which digit it is, a nickname, "Send to the class"."""
    if not session.studying():
        return
    a, b, c = st.columns([1, 1.2, 1.2], vertical_alignment="bottom")
    a.selectbox("It is a", list(range(10)), index=None, key="class.meant",
                placeholder="which digit?", help="The digit you meant to draw.")
    b.text_input("Nickname (optional)", key="class.nick", max_chars=limits.NICKNAME_CHARS,
                 placeholder="shown with your digit")
    c.button("Send to the class", key="class.send", on_click=_send, args=(ref, image),
             disabled=image is None, type="primary", width="stretch")
    sent = st.session_state.pop("class.sent", None)
    if sent:
        (st.success if sent[0] == "ok" else st.error)(urlstate.plain(sent[1]))
