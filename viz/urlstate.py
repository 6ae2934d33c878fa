"""Shareable views: the app's state as URL query parameters, read back safely.

A teacher prepares ``?model=seed&layer=conv3&unit=2,14,14&method=saliency&input=sample:17``
before class; a student opens it and sees that exact view. Reading never fails: a parameter that
is unknown, malformed or out of range is dropped and reported in words, and the rest still apply.
Streamlit-free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

KEYS = ("model", "layer", "unit", "method", "input", "view")


@dataclass
class ViewState:
    model: str | None = None
    layer: str | None = None
    unit: tuple[int, int, int] | None = None  # (channel, y, x)
    method: str | None = None
    input: tuple[str, int] | None = None  # ("sample", i) or ("test", i)
    view: str | None = None
    problems: list[str] = field(default_factory=list)


def _ints(text: str, n: int) -> tuple[int, ...] | None:
    parts = text.split(",")
    if len(parts) != n:
        return None
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        return None
    return values if all(v >= 0 for v in values) else None


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
            state.problems.append(f"model '{v}' is not available (have: {', '.join(models)})")
    if (v := get("layer")) is not None:
        if not layers or v in layers:
            state.layer = v
        else:
            state.problems.append(f"layer '{v}' is not in this model")
    if (v := get("unit")) is not None:
        unit = _ints(v, 3)
        if unit is None:
            state.problems.append(f"unit '{v}' should be channel,row,column, e.g. 0,14,14")
        else:
            state.unit = unit  # range-checked by the app against the chosen layer's shape
    if (v := get("method")) is not None:
        if not methods or v in methods:
            state.method = v
        else:
            state.problems.append(f"method '{v}' is unknown (have: {', '.join(methods)})")
    if (v := get("view")) is not None:
        if not views or v in views:
            state.view = v
        else:
            state.problems.append(f"view '{v}' is unknown (have: {', '.join(views)})")
    if (v := get("input")) is not None:
        kind, _, index = v.partition(":")
        limit = {"sample": n_samples, "test": n_test}.get(kind)
        if limit is None or not index.isdigit():
            state.problems.append(f"input '{v}' should be sample:N or test:N")
        elif int(index) >= limit:
            what = "sample digits" if kind == "sample" else "test images available"
            state.problems.append(f"input '{v}': there are only {limit} {what}")
        else:
            state.input = (kind, int(index))
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
    if state.input is not None:
        out["input"] = f"{state.input[0]}:{state.input[1]}"
    if state.view:
        out["view"] = state.view
    return out
