"""Every session-state key that more than one module reads or writes, and the functions that do.

A key belongs to the module that draws its widget or keeps it; another module that needs it
calls a function here, never ``st.session_state`` with that key:

- ``present.on``: presenter mode (``app.py``'s toggle); read by every page.
- ``model.*`` and ``in.*``: the sidebar (``ui/sidebar.py``); a link (``ui/urls.py``), the train
  page, the atlas views and the lens select a model or an input with :func:`select_model`,
  :func:`select_sample`, :func:`select_test_digit` and :func:`use_drawing`. The sidebar's widget
  keys are built here (:func:`sample_key`, :func:`test_key`). ``ui/cache.py`` reads ``model.upload``
  (:data:`UPLOAD`).
- ``layer.name``, ``view``, ``sal.method``, ``rf.unit`` and ``rf.channel.LAYER``: the explorer
  (``ui/explorer.py`` and its views); the picked unit is a :class:`viz.network.unit.Unit`
  (:func:`pick_unit`, :func:`picked_unit`), kept as its record ``{"layer", "c", "y", "x"}``.

- ``class.*``: the class a session teaches or follows (``ui/classroom/session.py`` lists them);
  other modules ask :func:`in_class`; following sets the channel with :func:`select_channel`.

Keys only one module touches stay in it (``url.*``, ``lens.*``, ``atlas.*``, ``cm.*``,
``trust.*``, ``tour.*``, ``lab.*``, ``train.*``, ``fm.*``, ``cmp.*``): its docstring lists them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from model.store import ModelRef
from viz.network.unit import Unit

PRESENT = "present.on"  # the presenter-mode toggle
MODEL = "model.choice"  # the sidebar's network picker
UPLOAD = "model.upload"  # {"name", "data", "digest"} of an uploaded checkpoint
SOURCE = "in.source"  # the sidebar's "Digit from" radio
DIGIT = "in.digit"  # the sidebar's digit filter of the samples
TEST_DIGIT = "in.test_digit"  # its digit filter of the test set
WRONG = "in.wrong"  # its "Misclassified only" box
DRAWING = "in.drawing"  # the drawing pad's RGBA pixels
INPUT_REF = "in.ref"  # ("sample", i) or ("test", i): the input a link can name
LAYER = "layer.name"  # the explorer's layer picker
VIEW = "view"  # the explorer's view selector (a view's title)
METHOD = "sal.method"  # the Saliency view's method
UNIT = "rf.unit"  # the picked unit's record
SAMPLE_KEYS = "in.sample."  # the sidebar's sample sliders, one per digit filter
TEST_KEYS = "in.test."  # its test-digit sliders, one per digit filter and "Misclassified only"
CHANNEL_KEYS = "rf.channel."  # the Receptive field view's channel pickers, one per layer

SAMPLES, TEST_SET, DRAW, UPLOAD_SOURCE = "Samples", "Test set", "Draw", "Upload"
SOURCES = [SAMPLES, TEST_SET, DRAW, UPLOAD_SOURCE]


# ---------------------------------------------------------------------------------- presenting

def presenting() -> bool:
    """Whether presenter mode is on."""
    return bool(st.session_state.get(PRESENT))


def start_presenting(on: bool) -> bool:
    """Presenter mode's value this run: as the toggle left it, else ``on`` (a link's
    ``?present=1``), kept for the toggle."""
    return bool(st.session_state.setdefault(PRESENT, on))


# ---------------------------------------------------------------------------------- the sidebar

def sample_key(digit: Any) -> str:
    """The sidebar's sample slider for the digit filter ``digit`` ("any" or 0..9)."""
    return f"{SAMPLE_KEYS}{digit}"


def test_key(digit: Any, wrong: bool) -> str:
    """The sidebar's test-digit slider for a digit filter and the "Misclassified only" box."""
    return f"{TEST_KEYS}{digit}.{wrong}"


def channel_key(layer: str) -> str:
    """The Receptive field view's channel picker of ``layer``."""
    return f"{CHANNEL_KEYS}{layer}"


def chosen_model() -> ModelRef | None:
    return st.session_state.get(MODEL)


def select_model(ref: ModelRef) -> None:
    """Choose ``ref`` in the sidebar (before its picker is drawn: a callback, or a link)."""
    st.session_state[MODEL] = ref


def uploaded() -> dict[str, Any] | None:
    """The uploaded checkpoint kept for this session, ``{"name", "data", "digest"}``, or None."""
    return st.session_state.get(UPLOAD)


def input_source() -> str | None:
    return st.session_state.get(SOURCE)


def select_sample(index: int) -> None:
    """Show sample ``index`` (0-based) in the sidebar (before its widgets are drawn)."""
    st.session_state.update({SOURCE: SAMPLES, DIGIT: "any", sample_key("any"): int(index) + 1})


def select_test_digit(index: int) -> None:
    """Show test digit ``index`` (0-based) in the sidebar (before its widgets are drawn)."""
    st.session_state.update({SOURCE: TEST_SET, TEST_DIGIT: "any", WRONG: False,
                             test_key("any", False): int(index) + 1})


def use_drawing(rgba: np.ndarray) -> None:
    """Make a drawing (the pad's RGBA pixels) the input: the sidebar's Draw source."""
    st.session_state[DRAWING] = rgba
    st.session_state[SOURCE] = DRAW


def drawing() -> np.ndarray | None:
    return st.session_state.get(DRAWING)


def input_signature(linked: bool = False) -> tuple:
    """What the input is: the sample or test digit the sidebar showed last run, a drawing's
    digest, an upload's name and size. Two equal signatures, the same input; a class tells a
    student's own input from the one the teacher's screen gave it this way. ``linked``: right
    after a link set the sidebar's widgets (before they are drawn), the digit they will show."""
    ss = st.session_state
    source = ss.get(SOURCE) or SAMPLES
    if source == DRAW:
        rgba = drawing()
        if rgba is None:
            return (source, None)
        import hashlib
        return source, hashlib.sha1(np.ascontiguousarray(rgba).tobytes()).hexdigest()
    if source == UPLOAD_SOURCE:
        up = ss.get("in.upload")
        return source, (up.get("name"), len(up.get("data") or b"")) if isinstance(up, dict) \
            else None
    ref = input_ref()
    if linked and source == SAMPLES and ss.get(DIGIT) == "any":
        ref = ("sample", int(ss.get(sample_key("any")) or 1) - 1)
    elif linked and source == TEST_SET and ss.get(TEST_DIGIT) == "any" and not ss.get(WRONG):
        ref = ("test", int(ss.get(test_key("any", False)) or 1) - 1)
    return "ref", ref


def set_input_ref(ref: tuple[str, int] | None) -> None:
    """What a link can name of this run's input: ("sample", i), ("test", i) or None."""
    st.session_state[INPUT_REF] = ref


def input_ref() -> tuple[str, int] | None:
    return st.session_state.get(INPUT_REF)


# ---------------------------------------------------------------------------------- the explorer

def layer() -> str | None:
    return st.session_state.get(LAYER)


def select_layer(name: str) -> None:
    st.session_state[LAYER] = name


def view() -> str | None:
    """The explorer view's title."""
    return st.session_state.get(VIEW)


def show_view(title: str) -> None:
    st.session_state[VIEW] = title


def method() -> str | None:
    return st.session_state.get(METHOD)


def select_method(name: str) -> None:
    st.session_state[METHOD] = name


def picked_unit() -> Unit | None:
    """The explorer's unit, or None (none picked, or a record that is not a unit). It may lie
    outside its layer (a link, a forged state): the view moves it inside."""
    return Unit.from_record(st.session_state.get(UNIT))


def pick_unit(unit: Unit) -> None:
    """Make ``unit`` the explorer's unit, its channel picker included (before that picker is
    drawn: a callback, a link, or the view before its widgets)."""
    st.session_state[UNIT] = unit.record()
    st.session_state[channel_key(unit.layer)] = unit.c


def select_channel(layer: str, channel: int) -> None:
    """Show ``channel`` in ``layer``'s channel picker (before it is drawn)."""
    st.session_state[channel_key(layer)] = int(channel)


def keep_unit(unit: Unit) -> None:
    """Make ``unit`` the explorer's unit, its channel picker left as it is (it shows
    ``unit.c`` already)."""
    st.session_state[UNIT] = unit.record()


# ---------------------------------------------------------------------------------- components

def component_field(key: str, field: str) -> Any:
    """One field of the browser component ``key``'s state (the browser's to send: anything, or
    nothing)."""
    try:
        value = st.session_state.get(key)
        return value.get(field) if hasattr(value, "get") else None
    except Exception:  # noqa: BLE001 - a forged state must not raise in a callback
        return None


def component_unit(key: str) -> Unit | None:
    """The unit last picked in the component ``key`` (the lens, a unit-field panel), checked
    (:meth:`viz.network.unit.Unit.from_browser`), or None."""
    return Unit.from_browser(component_field(key, "unit"))


# ---------------------------------------------------------------------------------- the class

CLASS_KEYS = "class."  # ui/classroom/session.py's keys


def in_class() -> str | None:
    """"teacher" or "student" while this session is in a class, else None."""
    role = st.session_state.get("class.role")
    return role if role in ("teacher", "student") and st.session_state.get("class.code") else None


def remembered(key: str, default: Any) -> None:
    """Give widget ``key`` its value from the last visit (Streamlit forgets widgets it did not
    draw, e.g. while another page was open)."""
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(f"{key}.kept", default)


def remember(key: str) -> None:
    """Keep widget ``key``'s value for :func:`remembered` on a later visit."""
    st.session_state[f"{key}.kept"] = st.session_state.get(key)
