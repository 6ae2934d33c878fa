"""A widget's value in the session, checked before the widget is drawn.

A browser can send any value for any widget (a string for a slider, NaN for a number box, a list
for a toggle), and Streamlit hands it to the widget as it is: the widget, or the arithmetic after
it, would raise. Each widget whose value the app reads calls :func:`check` first: a value that is
not what the widget holds is dropped (the widget draws its default) and the page says what was
wrong and what to do.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

from viz.inputs.urlstate import shown


@dataclass(frozen=True)
class Kind:
    """What a widget holds: a test of a value and the words for it ("a whole number from 1 to
    200")."""

    ok: Callable[[Any], bool]
    words: str


def whole(lo: int, hi: int) -> Kind:
    """A whole number in ``lo..hi`` (an int, or a float with no fraction; not a bool)."""
    def ok(v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return False
        return (isinstance(v, int) or (math.isfinite(v) and v.is_integer())) and lo <= v <= hi
    return Kind(ok, f"a whole number from {lo:,} to {hi:,}")


def number(lo: float, hi: float) -> Kind:
    """A finite number in ``lo..hi``."""
    def ok(v: Any) -> bool:
        return (not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
                and lo <= v <= hi)
    return Kind(ok, f"a number from {lo:g} to {hi:g}")


def one_of(options: Sequence[Any]) -> Kind:
    """One of ``options`` (compared by type too: ``True`` is not ``1``)."""
    def ok(v: Any) -> bool:
        return any(type(v) is type(o) and v == o for o in options)
    listed = ", ".join(str(o) for o in list(options)[:8]) + (", …" if len(options) > 8 else "")
    return Kind(ok, f"one of {listed}")


SWITCH = Kind(lambda v: isinstance(v, bool), "on or off")


def check(key: str, kind: Kind, what: str, where: Any = None) -> str | None:
    """Drop the session's value of widget ``key`` when it is not ``kind``, and say so on the page
    (in ``where``: ``st.sidebar`` for a sidebar widget; default the page). ``what``: the widget
    in words ("The Sample slider"). Returns the message shown, or None when the value was fine
    (or there was none)."""
    try:
        if key not in st.session_state:
            return None
        value = st.session_state[key]
        fine = kind.ok(value)
    except Exception:  # noqa: BLE001 - a value Streamlit itself cannot read is dropped too
        value, fine = "(unreadable)", False
    if fine:
        return None
    with contextlib.suppress(Exception):  # (already gone)
        del st.session_state[key]
    message = (f"{what} got {shown(value)} from your browser, which is not {kind.words}: it is "
               f"back at its default. Set it again if you had changed it.")
    (where or st).caption(message)
    return message
