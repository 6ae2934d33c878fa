"""When an edit breaks the lab's network: which layer, which change, and what fixes it."""

from __future__ import annotations

import re
from typing import Any

from viz.limits import LAB_FIX_TRIES, NETWORK_LAYERS
from viz.network.layers import FIELD_CHANGERS, INPUT_SHAPE, describe
from viz.network.layertypes import TYPES
from viz.teaching.lab import COLUMNS, _name, cell, check, layer_names, rows_to_layers

_LAYER_IN_MESSAGE = re.compile(r"layer '([A-Za-z0-9_-]+)'")


def _names(rows: list[dict[str, Any]]) -> list[str]:
    """Each row's layer name as the lab gives it (its own, or type + number); the type or
    'row N' where the table cannot be read that far."""
    try:
        return layer_names(rows)
    except ValueError:
        return [_name(row) or str(row.get("type") or f"row {i}")
                for i, row in enumerate(rows, start=1)]


def _works(rows: list[dict[str, Any]]) -> bool:
    try:
        check(rows)
    except ValueError:
        return False
    return True


def _shown(value: Any) -> str:
    return "blank" if value is None else str(value)


def _keep_size_fix(good: list[dict[str, Any]], rows: list[dict[str, Any]], i: int
                   ) -> tuple[int, str] | None:
    """(padding, 'HxW'): the padding of row ``i`` (0-based) that gives it the output size it had
    in ``good`` and makes the whole table work, or None."""
    if not _works(good) or rows[i].get("inputs") is not None:
        return None
    try:
        before = describe(rows_to_layers(good))
        edited = rows_to_layers(rows[: i + 1])[-1]
    except ValueError:
        return None
    if edited["type"] not in FIELD_CHANGERS or len(before[i].shape) != 3:
        return None
    side_in = before[i - 1].shape[1] if i else INPUT_SHAPE[1]
    want = before[i].shape[1:]
    kind = TYPES[edited["type"]]
    k, stride = int(edited["kernel"]), int(kind.value(edited, "stride"))
    span = (int(edited.get("dilation") or 1)) * (k - 1) + 1
    from viz.receptive_field import output_length
    for pad in range(0, min(span, 128) + 1):
        if output_length(side_in, span, stride, pad, pad) == want[0]:
            trial = [dict(r) for r in rows]
            trial[i]["padding"] = pad
            if _works(trial):
                return pad, "x".join(map(str, want))
    return None


def explain_break(good: list[dict[str, Any]], rows: list[dict[str, Any]], problem: str) -> str:
    """What to tell a teacher when ``rows`` fails with ``problem`` (the check's message) and
    ``good`` is the last table that worked: the breaking layer with its row, the edit that broke
    it and, when one is found by trying (at most ``LAB_FIX_TRIES`` tables), the change that fixes
    it: a padding that keeps the edited layer's size, setting a cell back, or deleting a new
    row. One paragraph, no trailing full stop."""
    names = _names(rows)
    row_of = {name: i for i, name in enumerate(names, start=1)}
    text = _LAYER_IN_MESSAGE.sub(
        lambda m: f"layer '{m.group(1)}' (row {row_of[m.group(1)]})"
        if m.group(1) in row_of else m.group(0), problem.rstrip(". "), count=1)
    if not good or len(rows) > NETWORK_LAYERS:
        return text
    changes: list[tuple[int, str, Any, Any]] = []  # (row index, key, before, now)
    added: list[int] = []
    if len(good) == len(rows):
        changes = [(i, key, cell(g.get(key)), cell(r.get(key)))
                   for i, (g, r) in enumerate(zip(good, rows)) for key in COLUMNS
                   if cell(g.get(key)) != cell(r.get(key))]
    elif len(rows) == len(good) + 1:  # one row added: which one
        added = [i for i in range(len(rows)) if rows[:i] + rows[i + 1:] == good]
    said = []
    for i, key, old, new in changes[:3]:
        said.append(f"row {i + 1} ({names[i]}): {key} {_shown(old)} → {_shown(new)}")
    for i in added[:1]:
        said.append(f"the new row {i + 1} ({names[i]})")
    if not said:
        return text
    text += f". It stopped working with {'your change to ' if changes else ''}{'; '.join(said)}"
    fix = None
    tries = 0
    rows_changed = sorted({i for i, *_ in changes})
    for i in rows_changed[:3]:
        keys = {key for j, key, *_ in changes if j == i}
        if keys <= {"kernel", "stride", "dilation", "padding"} and keys != {"padding"}:
            found = _keep_size_fix(good, rows, i)
            tries += 1
            if found is not None:
                fix = (f"padding {found[0]} on row {i + 1} keeps {names[i]}'s output at "
                       f"{found[1]} and makes the network work again")
                break
    if fix is None:
        for i, key, old, _new in changes:
            if tries >= LAB_FIX_TRIES:
                break
            trial = [dict(r) for r in rows]
            trial[i][key] = old
            tries += 1
            if _works(trial):
                fix = f"setting row {i + 1}'s {key} back to {_shown(old)} makes it work again"
                break
    if fix is None and added:
        fix = f"deleting row {added[0] + 1} makes it work again"
    return text + (f". {fix[0].upper()}{fix[1:]}" if fix else "")
