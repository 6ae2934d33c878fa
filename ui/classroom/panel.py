"""The class on screen: the sidebar's Class section, the teacher's Class page (code, join link,
QR code, gallery) and the "Send to the class" row beside a student's drawing pad.

Session-state keys (besides ``ui/classroom/session.py``'s): ``class.join`` (the typed code),
``class.meant`` and ``class.nick`` (the send row), ``class.sent`` (its message),
``class.hidden`` (the teacher hid the gallery), ``class.gallery`` (the gallery component),
``class.shown`` and ``class.rerun`` (a digit clicked), ``class.end``, ``class.clear`` and
``class.start`` (buttons).
"""

from __future__ import annotations

import base64
import html
from typing import Any

import numpy as np
import streamlit as st

from model.classroom import rules
from ui.classroom import follow, gallery, seats, session
from viz import limits
from viz.inputs import urlstate
from viz.pictures import style

TEACHER_POLL_S = 1.0  # the teacher's screen refreshes its counts and gallery this often

# The Class page's head: the code on one line at every width (its size follows the width of its
# box: container units), the join link beside it, and the QR code beside them where the width
# allows, else below (a flex row that wraps: nothing overlaps).
CSS = """
<style>
.cl-head { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 0.75rem 2.5rem;
           margin-bottom: 1.5rem; }
.cl-main { flex: 1 1 22rem; min-width: 0; container-type: inline-size; }
.cl-label { font-size: 1.2rem; color: var(--cnn-caption); }
.cl-code { font-size: clamp(2.4rem, 20cqi, 9rem); font-weight: 800; letter-spacing: 0.12em;
           line-height: 1.05; white-space: nowrap; color: var(--cnn-blue);
           font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.cl-join { margin: 0.6rem 0 0.3rem 0; }
.cl-link { font-family: ui-monospace, monospace; font-size: 1.05rem; overflow-wrap: anywhere;
           background: var(--cnn-panel); border-radius: 0.4rem; padding: 0.45rem 0.7rem; }
.cl-qr { flex: 0 0 auto; margin: 0; text-align: center; color: var(--cnn-caption); }
.cl-qr img { width: clamp(160px, 17vw, 260px); max-width: none; height: auto;
             aspect-ratio: 1 / 1; object-fit: contain; display: block;
             image-rendering: pixelated; }
.cl-present .cl-qr img { width: clamp(200px, 22vw, 380px); }
</style>
"""


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
    if follow.poll_due():
        st.rerun(scope="app")
    info = session.class_info(session.code())
    if info is None or info.ended:
        st.warning(f"Class {session.code()} has ended. You can keep exploring on your own.")
        return
    joined, here = session.counts(session.code())
    text, switch = st.columns([3, 1], vertical_alignment="center")
    _follow_rule()
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


def _follow_rule() -> None:
    """One line under the student's bar: what follows the teacher and what stays the
    student's (the digit), and a way back to the teacher's digit."""
    if not session.following():
        st.caption("Your clicks stay on your screen. \"Follow again\": the view follows your "
                   "teacher, and a digit you drew or picked stays yours.")
        return
    if not session.own_input():
        st.caption("Your teacher picks the page, network, view, layer and unit, and the digit "
                   "until you draw or pick your own: then it stays yours.")
        return
    rule, back = st.columns([3, 1], vertical_alignment="center")
    rule.caption(":material/draw: Your teacher picks the page, network, view, layer and unit; "
                 "the digit on your screen is yours and stays.")
    back.button("Show the teacher's digit", key="class.take", on_click=session.take_teachers,
                width="stretch", help="Your own digit is replaced by the one on your "
                                      "teacher's screen (and follows it again).")


def _send_slot() -> None:
    """A student's "Send to the class" row, under the bar on every page (following or not):
    the drawing, if the input is one."""
    from ui import common, state
    try:
        ctx = common.context()
    except RuntimeError:
        return
    image = ctx.image if state.input_source() == state.DRAW else None
    send_row(ctx.key, image)


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
        _send_slot()


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
        left.text_input("Class code", key="class.join", max_chars=12,
                        placeholder=f"{rules.CODE_LENGTH}-letter code",
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


def only_this_machine(link: str) -> bool:
    """Whether ``link`` names this machine only (localhost, 127.x, ::1): no student can open it."""
    from urllib.parse import urlsplit

    host = (urlsplit(link).hostname or "").lower()
    return host in ("localhost", "::1", "0.0.0.0") or host.startswith("127.") \
        or host.endswith(".localhost")


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
    session.keep_present()  # a reload of the projector's page stays in presenter mode
    from ui import state
    qr = base64.b64encode(qr_png(link)).decode("ascii")
    st.markdown(
        style.css(CSS) +
        f"<div class='cl-head{' cl-present' if state.presenting() else ''}'>"
        f"<div class='cl-main'><div class='cl-label'>Class code</div>"
        f"<div data-testid='class-code' class='cl-code'>{code}</div>"
        f"<div class='cl-join'>Open this link, or the app and type the code under "
        f"<b>Class</b>:</div><div class='cl-link' data-testid='class-link'>"
        f"{html.escape(link)}</div></div>"
        f"<figure class='cl-qr' data-testid='class-qr'><img src='data:image/png;base64,{qr}' "
        f"alt='QR code of the join link'><figcaption>Scan to join</figcaption></figure></div>",
        unsafe_allow_html=True)
    if only_this_machine(link):
        st.warning("This link names this computer only: students cannot open it. Open the app "
                   "by this computer's network address (as `streamlit run` prints under "
                   "Network URL) and start the class there, or give students that address "
                   "and the code.")
    once = st.session_state.pop(session.TEACHER_LINK, None)
    if once:
        # Folded: on a projector, the class must not see it (open it on your own screen).
        with st.expander("Your teacher link (shown once): open it on your own screen"):
            st.caption("Keep it to drive this class again after a reload. Never show it: "
                       "whoever opens it drives the class.")
            st.code(_join_link().replace(f"?class={code}", once), language=None,
                    wrap_lines=True)
    with st.container(horizontal=True, vertical_alignment="center", gap="medium",
                      key="class-controls"):
        hide = st.toggle("Hide the gallery", key="class.hidden")
        if st.button("Clear the gallery", key="class.clear"):
            session.clear_gallery()
        st.button("End the class", key="class.end", on_click=_end)
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
    """Under a student's bar: which digit it is, a nickname, "Send to the class" (with no
    drawing, how to make one)."""
    if not session.studying():
        return
    if image is None and "class.sent" not in st.session_state:
        st.caption(":material/draw: To send a digit to the class: **Digit from: Draw** in the "
                   "sidebar, then draw it on the pad of the Feature maps view.")
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
