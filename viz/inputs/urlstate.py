"""Shareable views: the app's state as URL query parameters, read back safely.

A teacher prepares a link; a student opens that exact view. Reading never fails: a parameter that
is unknown, malformed or out of range is dropped and reported in words. Every value from a link
is hostile, so it is shown through :func:`shown` (cut short, set as code, never as markdown).
Streamlit-free.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from viz.limits import LINK_DIGITS

KEYS = ("model", "layer", "unit", "method", "input", "sample", "view")
SHOWN = 40  # characters of a user-supplied value echoed on a page
MAX_DIGITS = LINK_DIGITS
_DIGITS = re.compile(r"[0-9]+")
_MARKDOWN = re.compile(r"([\\`*_{}\[\]<>#+!|~$@])")
_AUTOLINK = re.compile(r"(?i)(www)\.|(://)")


def _printable(text: str) -> str:
    """``text`` on one line: control and format characters (newlines, bidi overrides) -> space."""
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch
                   for ch in text)


def cut(value: Any, limit: int = SHOWN) -> str:
    """``value`` as one line of at most ``limit`` characters (an ellipsis marks a cut)."""
    text = _printable(str(value)[: limit * 4])
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown(value: Any, limit: int = SHOWN) -> str:
    """A user-supplied value for a page that renders markdown: cut to ``limit`` characters and
    set as inline code (backticks removed first), so it shows literally: ``![x](http://h/p.png)``
    is text, not an image fetched from h."""
    text = cut(str(value).replace("`", "'"), limit).strip()
    return f"`{text}`" if text else "`''`"


def plain(text: str) -> str:
    """A whole message that embeds user-supplied values, escaped for markdown: every character
    that could start a link, image, emphasis, HTML, maths or a colour directive is backslashed,
    and URLs are broken so they are not turned into links (one line)."""
    out = _MARKDOWN.sub(r"\\\1", _printable(str(text)))
    return _AUTOLINK.sub(lambda m: f"{m.group(1)}\\." if m.group(1) else ":\\/\\/", out)


def whole(value: Any, upper: int | None = None) -> int | None:
    """A non-negative whole number from a link or the browser, or None: an int (not a bool), a
    float with no fraction, or ASCII digits (``"²"`` and ``"٣"`` are not numbers here); below
    ``upper`` when given, and never more than :data:`MAX_DIGITS` digits' worth."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():  # NaN and infinities are not integers either
            return None
        number = int(value)
    elif isinstance(value, str) and len(value) <= MAX_DIGITS and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        return None
    limit = 10 ** MAX_DIGITS if upper is None else min(upper, 10 ** MAX_DIGITS)
    return number if 0 <= number < limit else None


@dataclass
class ViewState:
    model: str | None = None
    layer: str | None = None
    unit: tuple[int, int, int] | None = None  # (channel, y, x)
    method: str | None = None
    input: tuple[str, int] | None = None  # ("sample", i) or ("test", i), i from 0
    view: str | None = None
    problems: list[str] = field(default_factory=list)


def _ints(text: str, n: int) -> tuple[int, ...] | None:
    parts = text.split(",")
    if len(parts) != n:
        return None
    values = tuple(whole(p) for p in parts)
    return None if any(v is None for v in values) else values  # type: ignore[return-value]


def parse(params: Mapping[str, str | Sequence[str]], models: Sequence[str],
          layers: Sequence[str] = (), methods: Sequence[str] = (), views: Sequence[str] = (),
          n_samples: int = 0, n_test: int = 0) -> ViewState:
    """A :class:`ViewState` from query parameters, keeping only what is valid."""
    state = ViewState()

    def get(key: str) -> str | None:
        value = params.get(key)
        if isinstance(value, (list, tuple)):
            value = value[-1] if value else None
        return None if value in (None, "") else str(value)

    if (v := get("model")) is not None:
        if v in models:
            state.model = v
        else:
            state.problems.append(f"model {shown(v)} is not available (have: "
                                  f"{', '.join(models)})")
    if (v := get("layer")) is not None:
        if not layers or v in layers:
            state.layer = v
        else:
            state.problems.append(f"layer {shown(v)} is not in this model")
    if (v := get("unit")) is not None:
        unit = _ints(v, 3)
        if unit is None:
            state.problems.append(f"unit {shown(v)} should be channel,row,column (whole numbers "
                                  f"of at most {MAX_DIGITS} digits), e.g. 0,14,14")
        else:
            state.unit = unit  # range-checked by the app against the chosen layer's shape
    if (v := get("method")) is not None:
        if not methods or v in methods:
            state.method = v
        else:
            state.problems.append(f"method {shown(v)} is unknown (have: {', '.join(methods)})")
    if (v := get("view")) is not None:
        if not views or v in views:
            state.view = v
        else:
            state.problems.append(f"view {shown(v)} is unknown (have: {', '.join(views)})")
    if (v := get("input")) is not None:
        kind, _, index = v.partition(":")
        limit = {"sample": n_samples, "test": n_test}.get(kind)
        number = whole(index)
        if limit is None:
            state.problems.append(f"input {shown(v)} should be sample:N or test:N (N counts "
                                  f"from 0)")
        elif limit == 0:
            what = "sample digits" if kind == "sample" else "MNIST test set"
            state.problems.append(f"input {shown(v)}: this server has no {what}")
        elif number is None or number >= limit:
            what = "sample digits" if kind == "sample" else "test digits"
            state.problems.append(f"input {shown(v)} should be sample:N or test:N with N a "
                                  f"whole number from 0 to {limit - 1:,} (there are "
                                  f"{limit:,} {what})")
        else:
            state.input = (kind, number)
    if (v := get("sample")) is not None:  # counted from 1, as the sidebar counts
        number = whole(v)
        if number is None or not 1 <= number <= n_samples:
            state.problems.append(f"sample {shown(v)} should be a sample number from 1 to "
                                  f"{n_samples}")
        else:
            if state.input is not None and state.input != ("sample", number - 1):
                state.problems.append(f"sample={number} and input {shown(get('input'))} name "
                                      f"two digits; showing sample {number}")
            state.input = ("sample", number - 1)
    return state


def encode(state: ViewState) -> dict[str, str]:
    """Query parameters for a view (only what is set)."""
    out: dict[str, str] = {}
    if state.model:
        out["model"] = state.model
    if state.layer:
        out["layer"] = state.layer
    if state.unit is not None:
        out["unit"] = ",".join(str(v) for v in state.unit)
    if state.method:
        out["method"] = state.method
    if state.input is not None and state.input[0] == "sample":
        out["sample"] = str(state.input[1] + 1)  # as the sidebar numbers it
    elif state.input is not None:
        out["input"] = f"{state.input[0]}:{state.input[1]}"
    if state.view:
        out["view"] = state.view
    return out
