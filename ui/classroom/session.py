"""A class in one browser session: who this session is in it (teacher, student, following),
starting, joining, leaving, the class link, and the gallery sends. Following and publishing the
teacher's view is :mod:`ui.classroom.follow`; how a class works is in docs/classroom.md."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from model import store as model_store
from model.classroom import rules
from model.classroom.backends import open_store
from model.classroom.store import ClassInfo, Store
from ui import cache, state, urls
from viz.inputs import urlstate
from viz.limits import CLASS_DRAWING_CHARS

POLL_S = 0.5  # a follower asks for news this often (the teacher's changes show within ~0.5 s)
SHARED_S = 0.25  # one read of a class serves every session of this process for this long
SEEN_S = 5.0  # a follower tells the store it is here this often
MAX_DRAWING_CHARS = CLASS_DRAWING_CHARS
FOLLOWED_PAGES = ("explore", "tour")

CODE, ROLE, SECRET, STUDENT = "class.code", "class.role", "class.secret", "class.student"
FOLLOW, APPLIED, PUBLISHED, PAGE = "class.follow", "class.applied", "class.published", "class.page"
READ, NOTICE, TEACHER_LINK, SEEN = "class.read", "class.notice", "class.teacher_link", "class.seen"
GIVEN, TAKE = "class.given", "class.take"
INPUT_PARAMS = ("input", "sample")  # the link parameters that name the input


# ---------------------------------------------------------------------------------- the store

@st.cache_resource(show_spinner=False)
def _store(runs: str, redis_url: str) -> Store:
    return open_store(Path(runs))


def store() -> Store:
    """This process's class store (SQLite in the runs folder, or Redis)."""
    import os

    from model.classroom.store import REDIS_ENV
    return _store(str(model_store.runs_dir()), os.environ.get(REDIS_ENV, ""))


class _Shared:
    """The latest read of each class, shared by every session of the process for
    :data:`SHARED_S` s: 30 followers polling cost one read, not 30."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reads: dict[tuple[str, str], tuple[float, Any]] = {}

    def get(self, what: str, code: str, read) -> Any:
        now = time.monotonic()
        with self.lock:
            hit = self.reads.get((what, code))
            if hit is not None and now - hit[0] < SHARED_S:
                return hit[1]
        value = read()
        with self.lock:
            if len(self.reads) > 1000:
                self.reads.clear()
            self.reads[(what, code)] = (now, value)
        return value

    def forget(self, code: str) -> None:
        with self.lock:
            for key in [k for k in self.reads if k[1] == code]:
                del self.reads[key]


@st.cache_resource(show_spinner=False)
def _shared() -> _Shared:
    return _Shared()


def class_info(code: str, fresh: bool = False) -> ClassInfo | None:
    if fresh:
        _shared().forget(code)
    return _shared().get("info", code, lambda: store().info(code, time.time()))


def counts(code: str) -> tuple[int, int]:
    """(joined, following now) of class ``code``."""
    return _shared().get("counts", code, lambda: store().counts(code, time.time()))


# ---------------------------------------------------------------------------------- who am I

def code() -> str | None:
    return st.session_state.get(CODE)


def teaching() -> bool:
    return st.session_state.get(ROLE) == "teacher" and bool(st.session_state.get(SECRET))


def studying() -> bool:
    return st.session_state.get(ROLE) == "student" and code() is not None


def following() -> bool:
    return studying() and bool(st.session_state.get(FOLLOW, True))


def _secret_hash() -> str:
    return rules.secret_hash(st.session_state.get(SECRET, ""))


def _leave() -> None:
    for key in (CODE, ROLE, SECRET, FOLLOW, APPLIED, PUBLISHED, PAGE, TEACHER_LINK, SEEN, GIVEN,
                TAKE):
        st.session_state.pop(key, None)


def _student_id() -> str:
    return st.session_state.setdefault(STUDENT, rules.new_seat())


def start() -> str:
    """Start a class with this session as its teacher; returns its code."""
    secret = rules.new_secret()
    for _ in range(20):
        new = rules.new_code()
        if store().create(new, rules.secret_hash(secret), time.time()):
            break
    else:  # 20 taken codes in a row: the store is not working
        raise rules.ClassError("no free class code could be drawn; try again.")
    _leave()
    st.session_state.update({CODE: new, ROLE: "teacher", SECRET: secret,
                             TEACHER_LINK: f"?class={new}&teacher={secret}"})
    return new


def join(text: Any) -> bool:
    """Join the class with code ``text`` as a student; a message names what was wrong."""
    wanted = rules.code(text)
    if wanted is None:
        st.session_state[NOTICE] = (f"{urlstate.shown(text, 12)} is not a class code: a class "
                                    f"code is {rules.CODE_LENGTH} letters and digits, as your "
                                    f"teacher's screen shows it.")
        return False
    try:
        store().join(wanted, _student_id(), time.time())
    except rules.ClassError as exc:
        st.session_state[NOTICE] = str(exc)[0].upper() + str(exc)[1:]
        return False
    _leave()
    # Joining takes the teacher's screen, input included, unless the student has a drawing.
    st.session_state.update({CODE: wanted, ROLE: "student", FOLLOW: True, APPLIED: -1})
    return True


def resume_teaching(wanted: str, secret: str) -> bool:
    """The teacher link: this session drives class ``wanted`` again (after a reload)."""
    if not isinstance(secret, str) or len(secret) > 100 or not store().is_teacher(
            wanted, rules.secret_hash(secret), time.time()):
        st.session_state[NOTICE] = ("That teacher link does not match a running class: start a "
                                    "new one, or open the class as a student.")
        return False
    _leave()
    st.session_state.update({CODE: wanted, ROLE: "teacher", SECRET: secret})
    return True


def end() -> None:
    if teaching():
        store().end(code(), _secret_hash(), time.time())
        _shared().forget(code())
    _leave()


def leave() -> None:
    """A student leaves the class (the address bar forgets its code)."""
    if studying():
        store().seen(code(), _student_id(), False, time.time())
        st.session_state[READ] = st.query_params.get("class")
    _leave()


def clear_gallery() -> None:
    if teaching():
        store().clear(code(), _secret_hash(), time.time())
        _shared().forget(code())


def set_following(on: bool) -> None:
    st.session_state[FOLLOW] = bool(on)
    if on:
        st.session_state[APPLIED] = -1  # catch up at once
    _tell_seen(force=True)


def own_input() -> bool:
    """Whether a student's input is its own (drawn or picked since the teacher's screen last
    gave one): the teacher's changes then leave it as it is."""
    if not studying():
        return False
    given = st.session_state.get(GIVEN)
    if given is None:  # nothing given yet: a drawing made before joining stays
        return state.input_source() == state.DRAW and state.drawing() is not None
    return state.input_signature() != given


def take_teachers() -> None:
    """A student asks for the teacher's input again (its own is replaced at the next run)."""
    st.session_state[TAKE] = True
    st.session_state[APPLIED] = -1


def _tell_seen(force: bool = False) -> None:
    now = time.time()
    if studying() and (force or now - st.session_state.get(SEEN, 0.0) > SEEN_S):
        st.session_state[SEEN] = now
        store().seen(code(), _student_id(), following(), now)


# ---------------------------------------------------------------------------------- the link

def read_link(page_path: str) -> None:
    """Once per ``?class=`` value: ``new`` starts a class, a code joins it, a code with
    ``&teacher=SECRET`` (the teacher link) resumes teaching it."""
    value = st.query_params.get("class")
    if value is None or value == st.session_state.get(READ):
        return
    st.session_state[READ] = value
    if value == "new":
        present = st.query_params.get("present") == "1"
        start()
        if present:  # ?class=new&present=1: the projector's Class page, in presenter mode
            state.start_presenting(True)
        from ui import common
        st.switch_page(common.PAGES["class"],  # the code, large, and the gallery
                       query_params={"present": "1"} if present else None)
    wanted = rules.code(value)
    secret = st.query_params.get("teacher")
    if wanted is not None and secret is not None:
        resume_teaching(wanted, secret)
        params = {k: v for k, v in st.query_params.to_dict().items()
                  if k not in ("class", "teacher")}
        st.query_params.from_dict(params)  # the secret leaves the address bar (a projector)
        return
    if wanted == code() and studying():
        return
    seat = rules.seat(st.query_params.get("seat"))
    if seat is not None:  # a reload (or a shared link): the seat it had, counted once
        st.session_state[STUDENT] = seat
    if join(value):
        st.session_state[READ] = wanted


def link_params() -> dict[str, str]:
    """What a student's address bar keeps besides the view: the class code and the student's
    seat (a reload rejoins in the same seat, so it does not count again toward the limit)."""
    return {"class": code(), "seat": _student_id()} if studying() else {}


def _own_params() -> dict[str, str]:
    """What stays in a student's address bar when the teacher's view replaces it: the class,
    the seat and the student's own presenter mode."""
    params = link_params()
    if state.presenting() or st.query_params.get("present") == "1":
        params["present"] = "1"
    return params


def keep_present() -> None:
    """A page that writes no view link (the Class page) keeps presenter mode in the address
    bar, so a reload of the projector's page stays in it."""
    wanted = "1" if state.presenting() else None
    if st.query_params.get("present") != wanted:
        if wanted:
            st.query_params["present"] = wanted
        else:
            del st.query_params["present"]


def notice() -> str | None:
    return st.session_state.pop(NOTICE, None)


# A student's address bar keeps the class code; a teacher's pages never queue behind the class's
# for a page slot (the projector's screen and every follower wait on them).
if link_params not in urls.KEEP:
    urls.KEEP.append(link_params)
if teaching not in cache.UNQUEUED:
    cache.UNQUEUED.append(teaching)


# ---------------------------------------------------------------------------------- the gallery

def send(ref: Any, image: np.ndarray | None, meant: Any, nickname: Any) -> str:
    """A student's digit to the gallery, read by the class's network (the teacher's, when it is
    a shared one; else this session's ``ref``). Returns what to tell the student; ClassError
    says what was refused."""
    if not studying():
        raise rules.ClassError("join a class first.")
    if image is None:
        raise rules.ClassError("draw a digit on the pad first.")
    pixels = rules.pixels(np.asarray(image))
    label = rules.label(meant)
    nick = rules.nickname(nickname)
    from ui.cache import forward
    info = class_info(code())
    try:
        teacher_model = json.loads(info.state).get("params", {}).get("model") if info else None
    except (ValueError, AttributeError):
        teacher_model = None
    net = urls.model_names().get(teacher_model, ref) if isinstance(teacher_model, str) else ref
    digit = rules.digit_array(pixels)
    _, probs = forward(net, digit)
    prediction = int(np.argmax(probs))
    store().send(code(), _student_id(), pixels, label, prediction, nick, time.time())
    _shared().forget(code())
    return (f"Sent: your {label} is in the class gallery (the network read it as a "
            f"{prediction}).")


def gallery() -> list:
    """The class's gallery (the teacher's screen), one read shared by the process."""
    return _shared().get("digits", code(), lambda: store().digits(code())) if code() else []


def digit_rgba(pixels: bytes) -> np.ndarray:
    """A gallery digit as the drawing pad's pixels (dark ink on white, 224x224), to make it the
    input of every screen."""
    img = rules.digit_array(pixels)
    ink = np.kron(255 - img, np.ones((8, 8), dtype=np.uint8))
    rgba = np.empty(ink.shape + (4,), dtype=np.uint8)
    rgba[..., :3] = ink[..., None]
    rgba[..., 3] = 255
    return rgba
