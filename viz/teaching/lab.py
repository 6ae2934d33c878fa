"""The architecture lab: a network edited as a table of rows, analysed without building it.

A row is ``{"type": "conv", "kernel": 3, "stride": 1, "padding": 1, "dilation": 1,
"channels": 8}`` (``channels`` is a conv's output channels or a linear layer's outputs; other
types ignore the fields they do not use). :func:`rows_to_layers` turns rows into the zoo's layer
records (names, input channels and flatten sizes filled in; each type's mapping is its entry
in ``viz.network.layertypes``); :func:`analyse` (``viz.network.layers.analyse``) gives per layer the output
shape, receptive field, effective stride and padding (from the receptive-field engine),
parameters and MACs, all by arithmetic: nothing is built or run, so it answers at once;
:func:`check` adds the upload limits of ``viz.network.card``. Every invalid network raises
``ValueError`` with a message saying what to change. The report's tables and comparisons are
``viz.teaching.lab_report``'s, the explanation of a broken edit ``viz.teaching.lab_fix``'s.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from viz.limits import LAB_INPUTS_CHARS, LAYER_NAME_CHARS, NETWORK_LAYERS
from viz.network.card import LIMITS, check_limits
from viz.network.layers import (
    INPUT,
    INPUT_SHAPE,
    JOIN_TYPES,
    LAYER_TYPES,
    TABLE_COLUMNS,
    LabReport,
    analyse,
    describe,
)
from viz.network.layertypes import AFTER_FLATTEN, TYPES, RowContext, listed

__all__ = ["COLUMNS", "ROW_TYPES", "TABLE_COLUMNS", "TEXT_COLUMNS", "LabReport",
           "Summary", "analyse", "area", "before_head", "cell", "check", "compare_sentence",
           "growth", "layers_to_rows", "millions", "report_csv",
           "rows_to_layers", "shape_text", "summarise", "table_rows", "table_rows_to_rows",
           "weight_layers"]

ROW_TYPES = LAYER_TYPES
COLUMNS = ("name", "type", "kernel", "stride", "padding", "dilation", "channels",
           "groups", "inputs")  # of a row
TEXT_COLUMNS = ("name", "type", "inputs")  # the other columns hold whole numbers
# ``inputs``: the layers a row reads, comma-separated names ("input": the image); blank: the row
# above. An add or concat row joins two or more (``_inputs``)
# What every row may fill whatever its type; any other filled cell must be one its type reads.
ROW_IDENTITY = ("name", "type", "inputs")
_NAME = re.compile(r"[A-Za-z0-9_-]+")  # a layer name (as in an uploaded checkpoint's card)
RESERVED_NAMES = ("input",)  # what a graph record's inputs call the image


def _int(row: dict[str, Any], key: str, default: int, minimum: int, where: str) -> int:
    value = row.get(key)
    if value is None or value == "" or (isinstance(value, float) and value != value):  # NaN
        return default
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: infinity
        raise ValueError(f"{where}: {key} must be a whole number, not {value!r}") from None
    if number != value and not isinstance(value, str):
        raise ValueError(f"{where}: {key} must be a whole number, not {value!r}")
    if number < minimum:
        raise ValueError(f"{where}: {key} must be at least {minimum}, not {number}")
    return number


def _next_is_bn(rows: list[dict[str, Any]], i: int) -> bool:
    """Row ``i`` (1-based) is followed by BatchNorm, which makes a conv bias redundant."""
    return i < len(rows) and str(rows[i].get("type") or "").strip().lower() == "bn"


def rows_to_layers(rows: list[dict[str, Any]], input_shape: tuple[int, int, int] = INPUT_SHAPE
                   ) -> list[dict[str, Any]]:
    """Zoo layer records from lab rows: names numbered per type, channels chained. A table of
    more than ``viz.limits.NETWORK_LAYERS`` rows is refused at once, before any row is read."""
    if not rows:
        raise ValueError("the network is empty: add at least one layer")
    _check_row_count(rows)
    layers: list[dict[str, Any]] = []
    made: dict[str, tuple[int, int | None]] = {INPUT: (input_shape[0], None)}  # name: (C, F)
    reads: list[str] = [INPUT]  # what the row being read reads (its inputs, or the row above)

    def shape() -> tuple[int, ...]:  # the output shape of the layer the row reads
        if reads[0] == INPUT:
            return input_shape
        return next(i.shape for i in describe(layers, input_shape) if i.name == reads[0])

    ctx = RowContext("", input_shape[0], None, False, lambda key, default, least: default, shape)
    names = layer_names(rows)
    for i, row in enumerate(rows, start=1):
        kind = str(row.get("type") or "").strip().lower()
        where = f"row {i} ({kind or 'no type'})"
        if kind in ("", "nan", "none"):  # a blank cell (None or NaN from a table)
            raise ValueError(f"row {i} has no layer type: choose one of {', '.join(ROW_TYPES)}"
                             f", or delete the row")
        if kind not in ROW_TYPES:
            raise ValueError(f"row {i}: unknown layer type {row.get('type')!r}; choose one of "
                             f"{', '.join(ROW_TYPES)}")
        layer_type = TYPES[kind]
        name = names[i - 1]
        named = _inputs(row.get("inputs"), kind, where, made)
        reads[:] = named or [layers[-1]["name"] if layers else INPUT]
        ctx.channels, ctx.features = made[reads[0]]
        if ctx.features is not None and kind not in AFTER_FLATTEN:
            raise ValueError(f"{where}: after flatten only {listed(AFTER_FLATTEN)} layers fit")
        ctx.where, ctx.next_is_bn = where, _next_is_bn(rows, i)
        read = _Reads(row)  # which cells the type reads, to refuse the others by name
        ctx.number = _cells(read, where)
        rec = {"name": name, "type": kind, **layer_type.from_row(read, ctx)}
        if named:
            rec["inputs"] = named
        if layer_type.merge is not None:  # a join's channels from its inputs' (add: the same)
            ctx.channels = layer_type.merge(rec, [(made[n][0],) for n in named or ()])[0]
        layers.append(rec)
        made[name] = (ctx.channels, ctx.features)
        _refuse_unread(row, read.keys_read, kind, f"row {i} ({name})")
    return layers


def _a(kind: str) -> str:
    return f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind}"


def _inputs(text: Any, kind: str, where: str, made: dict[str, Any]) -> list[str] | None:
    """The layer names an inputs cell lists (None when blank: the row above), each the layer
    of an earlier row or "input" (the image); a join (add, concat) lists two or more, any other
    row one."""
    if text is None or (isinstance(text, str) and not text.strip()):
        if kind in JOIN_TYPES:
            raise ValueError(f"{where}: {_a(kind)} row joins two or more layers: list them in "
                             f"its inputs, e.g. conv2, relu1")
        return None
    if not isinstance(text, str) or len(text) > LAB_INPUTS_CHARS:
        raise ValueError(f"{where}: inputs are layer names separated by commas, e.g. conv2, "
                         f"relu1")
    names = [n.strip() for n in text.split(",") if n.strip()]
    for n in names:
        if n not in made:
            raise ValueError(f"{where}: its inputs name {n[:40]!r}, which is not the layer of a "
                             f"row above it; name layers of earlier rows, or {INPUT!r} for the "
                             f"image")
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: its inputs name the same layer twice")
    if kind in JOIN_TYPES and len(names) < 2:
        raise ValueError(f"{where}: {_a(kind)} row joins two or more layers, but its inputs "
                         f"name {len(names)}")
    if kind not in JOIN_TYPES and len(names) != 1:
        raise ValueError(f"{where}: {_a(kind)} row reads one layer, but its inputs name "
                         f"{len(names)}; join branches with an add or concat row")
    return names or None


def _name(row: dict[str, Any]) -> str | None:
    """The row's own layer name (None when blank)."""
    value = row.get("name")
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def layer_names(rows: list[dict[str, Any]]) -> list[str]:
    """Each row's layer name: its own (an architecture's, kept), else its type's prefix and the
    next number no other row uses (``conv1``, ``pool2``); ValueError for a bad or repeated one."""
    taken = _given_names(rows)
    counts: dict[str, int] = {}
    names = []
    for row in rows:
        name = _name(row)
        if name is None:  # a new row: prefix + number, around the names already in the table
            kind = str(row.get("type") or "").strip().lower()
            prefix = TYPES[kind].prefix if kind in TYPES else "layer"
            counts[prefix] = counts.get(prefix, 0) + 1
            while f"{prefix}{counts[prefix]}" in taken:
                counts[prefix] += 1
            name = f"{prefix}{counts[prefix]}"
        names.append(name)
    return names


def _given_names(rows: list[dict[str, Any]]) -> set[str]:
    """The names the table gives, checked: letters, digits, '_' or '-', unique, not 'input'."""
    seen: dict[str, int] = {}
    for i, row in enumerate(rows, start=1):
        name = _name(row)
        if name is None:
            continue
        if len(name) > LAYER_NAME_CHARS or not _NAME.fullmatch(name):
            raise ValueError(f"row {i}: a layer name is 1 to {LAYER_NAME_CHARS} letters, digits, "
                             f"'_' or '-', not {name[:LAYER_NAME_CHARS]!r}; change it or clear "
                             "the cell")
        if name in RESERVED_NAMES:
            raise ValueError(f"row {i}: {name!r} names the image itself; call the layer "
                             f"something else")
        if name in seen:
            raise ValueError(f"rows {seen[name]} and {i} are both named {name!r}; names must "
                             f"be unique (rename one, or clear its name for a new one)")
        seen[name] = i
    return set(seen)


class _Reads(dict):
    """A row that records which of its cells were read (``get`` and ``[]``)."""

    def __init__(self, row: dict[str, Any]) -> None:
        super().__init__(row)
        self.keys_read: set[str] = set()

    def get(self, key: Any, default: Any = None) -> Any:
        self.keys_read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: Any) -> Any:
        self.keys_read.add(key)
        return super().__getitem__(key)


def _refuse_unread(row: dict[str, Any], read: set[str], kind: str, where: str) -> None:
    """ValueError naming a filled cell that a row of type ``kind`` does not use (a kernel on a
    dropout row would otherwise be dropped without a word)."""
    unused = [key for key in COLUMNS if key not in ROW_IDENTITY and key not in read
              and cell(row.get(key)) is not None]
    if not unused:
        return
    uses = [key for key in COLUMNS if key not in ROW_IDENTITY and key in read]
    nor = unused[0] if len(unused) == 1 else f"{', '.join(unused[:-1])} or {unused[-1]}"
    has = (f"a {kind} row uses {listed(tuple(uses))}" if uses else
           f"only the name and type apply to a {kind} row")
    raise ValueError(f"{where}: {kind} has no {nor} ({has}); clear "
                     f"{'that cell' if len(unused) == 1 else 'those cells'}")


def _cells(row: dict[str, Any], where: str) -> Callable[[str, int, int], int]:
    """``number(key, default, minimum)`` of one row's whole-number cells."""
    return lambda key, default, minimum: _int(row, key, default, minimum, where)


def layers_to_rows(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lab rows for existing layer records (e.g. a zoo architecture), for editing."""
    rows = []
    for rec in layers:
        row: dict[str, Any] = {col: None for col in COLUMNS}
        row.update({"name": rec.get("name"), "type": rec["type"]})
        if rec["type"] in TYPES:
            row.update(TYPES[rec["type"]].to_row(rec))
        if rec.get("inputs"):  # a graph network's layer: the inputs cell names what it reads
            row["inputs"] = ", ".join(rec["inputs"])
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# The editor's cells, and short numbers
# ---------------------------------------------------------------------------------------------

def cell(value: Any) -> Any:
    """A table cell as plain Python: blanks (None, NaN, pd.NA) become None, numpy numbers
    become int or float (a float with a fraction stays one, so the lab can reject it)."""
    if value is None:
        return None
    try:
        if value != value:  # NaN
            return None
    except TypeError:  # pd.NA refuses comparison
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def table_rows_to_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lab rows from an edited table's records (rows blank in every cell are skipped)."""
    rows = []
    for record in records:
        row = {col: cell(record.get(col)) for col in COLUMNS}
        for col in TEXT_COLUMNS:
            if isinstance(row[col], str) and not row[col].strip():
                row[col] = None
        if any(v is not None for v in row.values()):
            rows.append(row)
    return rows


def _check_row_count(rows: list[dict[str, Any]]) -> None:
    """Refuse a table over the server's layer limit, with the limits' message (a cost that grows
    with the rows is never paid for a table that would be refused anyway)."""
    if len(rows) > NETWORK_LAYERS:
        raise ValueError(f"this network is too big: {len(rows):,} layers; {LIMITS}.")


def check(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], LabReport]:
    """(layer records, report) of a table, or ValueError saying what to change (a table over
    the layer limit is refused before it is read)."""
    _check_row_count(rows)
    layers = rows_to_layers(rows)
    report = analyse(layers)
    check_limits(report)  # the upload limits, with their message
    return layers, report


def millions(n: int) -> str:
    """'5.68 M', '1.55 G', '43.8 k' for a count."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:,}"


def area(rf: tuple[int, int] | None) -> str:
    return "whole image" if rf is None else f"{rf[0]}x{rf[1]}"


# the lab's tables and summaries, by their old names here (a broken edit's explanation: lab_fix)
from viz.teaching.lab_report import (  # noqa: E402
    Summary,
    before_head,
    compare_sentence,
    growth,
    report_csv,
    shape_text,
    summarise,
    table_rows,
    weight_layers,
)
