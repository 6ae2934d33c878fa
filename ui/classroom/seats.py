"""Who holds a seat, and the teacher's hand on seats and gallery.

- :func:`browser_key` and :func:`address_key`: who asks, for the store's rate limits on new
  seats and sends (the only places that read the browser cookie and the proxy's header);
- :func:`store_notice`: a plain line while the class's store does not answer (teacher and
  students), gone when it is back;
- :func:`teacher_controls`: on the teacher's Class page, the seats (count, each seat's digits
  and when it last reported in; remove one, its digits with it), lock the class, hold digits
  for approval, approve or remove a digit.

Session-state keys: ``class.lock``, ``class.approve``, ``class.seat_pick``,
``class.digit_pick`` (the controls) and ``class.ctl_msg`` (their last message).
"""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from model.classroom import rules
from model.classroom import store as class_store
from ui.classroom import session
from viz import limits
from viz.inputs import urlstate

COOKIE = "cnnlens_route"
CONTROLS_POLL_S = 2.0
NOTICE_POLL_S = 5.0
MSG = "class.ctl_msg"


def browser_key(context: Any = None) -> str:
    """This browser, for the limits: its ``cnnlens_route`` cookie when the deployment's
    signature on it checks out (a made-up id is never trusted), else the Streamlit session."""
    from model.classroom.browser_id import browser_id

    context = st.context if context is None else context
    try:
        raw = context.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001 - no request (tests, background): no cookie
        raw = None
    checked = browser_id(raw) if isinstance(raw, str) else None
    if checked:
        return "c:" + checked
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    ctx = get_script_run_ctx()
    return "s:" + ctx.session_id if ctx is not None else ""


def address_key(context: Any = None) -> str:
    """This browser's address: the connection's, or behind the proxy (a loopback connection)
    the last ``X-Forwarded-For`` entry, the one the proxy itself added (earlier ones are the
    browser's to forge)."""
    context = st.context if context is None else context
    try:
        ip = context.ip_address
        forwarded = context.headers.get("X-Forwarded-For") or ""
    except Exception:  # noqa: BLE001 - no request
        return ""
    ip = str(ip or "")[:64]
    last = str(forwarded)[-200:].split(",")[-1].strip()[:64]
    if last and (not ip or ip.startswith("127.") or ip == "::1"):
        return last
    return ip or "local"


def who() -> tuple[str, str]:
    """(browser, address) of the current request."""
    return browser_key(), address_key()


if who not in class_store.WHO:
    class_store.WHO.append(who)


# ---------------------------------------------------------------------------------- faults

def _down() -> float | None:
    s = session.store()
    return getattr(s, "down_since", None)


def _notice_line(since: float) -> None:
    who_is = "Your changes are kept and shared" if session.teaching() else "Your screen follows"
    st.warning(f"The class's records cannot be reached (for {time.time() - since:.0f} s): the "
               f"server's store is busy or down. {who_is} again as soon as it is back; nothing "
               f"to do meanwhile.", icon=":material/cloud_off:")


@st.fragment(run_every=NOTICE_POLL_S)
def _notice_while_down() -> None:
    """Polls only while the store is down, so the line goes when it is back."""
    session.class_info(session.code())  # a read: tells whether the store answers again
    since = _down()
    if since is not None:
        _notice_line(since)


def store_notice() -> None:
    """In a class: a plain line while its store does not answer (no timer otherwise: the
    pages already poll the class, and a run that finds the store down starts one)."""
    if (session.teaching() or session.studying()) and _down() is not None:
        _notice_while_down()


# ---------------------------------------------------------------------------------- the teacher

def _hash() -> str:
    return rules.secret_hash(st.session_state.get(session.SECRET, ""))


def _act(what: str, **kwargs: Any) -> None:
    """One teacher action on the store; its refusal (or the store down) becomes a message."""
    code = session.code()
    try:
        getattr(session.store(), what)(code, _hash(), now=time.time(), **kwargs)
    except rules.ClassError as exc:
        st.session_state[MSG] = str(exc)[0].upper() + str(exc)[1:]
        return
    session.class_info(code, fresh=True)  # every screen of this process reads it again


def _options() -> None:
    _act("options", locked=bool(st.session_state.get("class.lock")),
         approve=bool(st.session_state.get("class.approve")))


def _remove_seat() -> None:
    seat = st.session_state.get("class.seat_pick")
    if isinstance(seat, str) and rules.seat(seat) is not None:
        _act("remove_seat", student=seat)


def _digit_pick() -> int | None:
    return urlstate.whole(st.session_state.get("class.digit_pick"))


def _remove_digit() -> None:
    digit = _digit_pick()
    if digit is not None:
        _act("remove_digit", digit=digit)


def _approve(all_waiting: bool) -> None:
    digit = None if all_waiting else _digit_pick()
    if all_waiting or digit is not None:
        _act("approve", digit=digit)


def _ago(seconds: float) -> str:
    return f"{seconds:.0f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"


def _digit_text(d: class_store.Digit) -> str:
    read = "" if d.label == d.prediction else f" (read {d.prediction})"
    return f"{d.label}{read}"


@st.fragment(run_every=CONTROLS_POLL_S)
def teacher_controls() -> None:
    """The teacher's seats and gallery controls (the Class page)."""
    if not session.teaching():
        return
    code, now = session.code(), time.time()
    s = session.store()
    info = s.info(code, now)
    try:
        seats = s.seats(code, _hash(), now)
    except rules.ClassError:
        seats = []
    shown, waiting = s.digits(code), s.digits(code, waiting=True)
    message = st.session_state.pop(MSG, None)
    if message:
        st.error(urlstate.plain(message))
    if info is not None:  # the switches follow the store (another tab of the teacher's)
        st.session_state.setdefault("class.lock", info.locked)
        st.session_state.setdefault("class.approve", info.approve)
    fresh = [x for x in seats if x.fresh]
    a, b = st.columns(2)
    a.toggle("Lock the class (no new students)", key="class.lock", on_change=_options,
             help="Students seated now stay; nobody new can join.")
    b.toggle("Approve digits before showing them", key="class.approve", on_change=_options,
             help="Digits sent wait here until you approve them.")
    by_seat: dict[str, list[class_store.Digit]] = {}
    for d in shown + waiting:
        by_seat.setdefault(d.seat, []).append(d)
    with st.expander(f"Seats: {len(fresh)} of {limits.CLASS_STUDENTS} taken "
                     f"({len(seats) - len(fresh)} left)", expanded=False):
        rows = [{"seat": x.seat[:6], "here": "yes" if x.fresh else "left",
                 "following": "yes" if x.following else "no", "last seen": _ago(now - x.seen),
                 "digits": ", ".join(_digit_text(d) for d in by_seat.get(x.seat, []))}
                for x in seats]
        if rows:
            st.dataframe(rows, hide_index=True, width="stretch")
            left, right = st.columns([2, 1], vertical_alignment="bottom")
            left.selectbox("Seat", [x.seat for x in seats], key="class.seat_pick",
                           format_func=lambda v: f"{v[:6]} ({len(by_seat.get(v, []))} digits)")
            right.button("Remove the seat and its digits", key="class.seat_rm",
                         on_click=_remove_seat, width="stretch")
        else:
            st.caption("Nobody has joined yet.")
    pool = waiting + shown
    if pool:
        label = f"{len(waiting)} digit(s) wait for approval" if waiting else "Gallery digits"
        with st.expander(label, expanded=bool(waiting)):
            ids = [d.id for d in pool]
            names = {d.id: f"#{d.id}: {_digit_text(d)} from seat {d.seat[:6]}"
                     f"{' (waiting)' if not d.approved else ''}" for d in pool}
            st.selectbox("Digit", ids, key="class.digit_pick",
                         format_func=lambda v: names.get(v, str(v)))
            picked = next((d for d in pool if d.id == _digit_pick()), None)
            if picked is not None:
                st.image(rules.digit_array(picked.pixels), width=84)
            c1, c2, c3 = st.columns(3)
            c1.button("Remove the digit", key="class.digit_rm", on_click=_remove_digit,
                      width="stretch")
            c2.button("Approve the digit", key="class.digit_ok", on_click=_approve,
                      args=(False,), disabled=not waiting, width="stretch")
            c3.button("Approve all waiting", key="class.digit_all", on_click=_approve,
                      args=(True,), disabled=not waiting, width="stretch")
