"""The architecture lab: a network edited as a table of rows, analysed without building it.

A row is ``{"type": "conv", "kernel": 3, "stride": 1, "padding": 1, "dilation": 1,
"channels": 8}`` (``channels`` is a conv's output channels or a linear layer's outputs; other
types ignore the fields they do not use). :func:`rows_to_layers` turns rows into the zoo's layer
records (names, input channels and flatten sizes filled in; each type's mapping is its entry
in ``viz.network.layertypes``); :func:`analyse` (``viz.network.layers.analyse``) gives per layer the output
shape, receptive field, effective stride and padding (from the receptive-field engine),
parameters and MACs, all by arithmetic: nothing is built or run, so it answers at once;
:func:`check` adds the upload limits of ``viz.network.card``. Every invalid network raises
``ValueError`` with a message saying what to change.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from viz.network.card import LIMITS, MAX_LAYERS, check_limits
from viz.network.layers import (
    FIELD_CHANGERS,
    INPUT_SHAPE,
    LAYER_TYPES,
    TABLE_COLUMNS,
    LabReport,
    LayerInfo,
    analyse,
    describe,
)
from viz.network.layertypes import AFTER_FLATTEN, TYPES, RowContext, listed

__all__ = ["COLUMNS", "ROW_TYPES", "TABLE_COLUMNS", "LabReport", "analyse", "check",
           "layers_to_rows", "report_csv", "rows_to_layers", "table_rows", "table_rows_to_rows"]

ROW_TYPES = LAYER_TYPES
COLUMNS = ("type", "kernel", "stride", "padding", "dilation", "channels", "groups")  # of a lab row


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
    more than ``viz.network.card.MAX_LAYERS`` rows is refused at once, before any row is read."""
    if not rows:
        raise ValueError("the network is empty: add at least one layer")
    _check_row_count(rows)
    layers: list[dict[str, Any]] = []
    ctx = RowContext("", input_shape[0], None, False, lambda key, default, least: default,
                     lambda: describe(layers, input_shape)[-1].shape if layers else input_shape)
    counts: dict[str, int] = {}
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
        counts[kind] = counts.get(kind, 0) + 1
        name = f"{layer_type.prefix}{counts[kind]}"
        if ctx.features is not None and kind not in AFTER_FLATTEN:
            raise ValueError(f"{where}: after flatten only {listed(AFTER_FLATTEN)} layers fit")
        ctx.where, ctx.next_is_bn = where, _next_is_bn(rows, i)
        ctx.number = _cells(row, where)
        layers.append({"name": name, "type": kind, **layer_type.from_row(row, ctx)})
    return layers


def _cells(row: dict[str, Any], where: str) -> Callable[[str, int, int], int]:
    """``number(key, default, minimum)`` of one row's whole-number cells."""
    return lambda key, default, minimum: _int(row, key, default, minimum, where)


def layers_to_rows(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lab rows for existing layer records (e.g. a zoo architecture), for editing."""
    rows = []
    for rec in layers:
        row: dict[str, Any] = {"type": rec["type"], "kernel": None, "stride": None,
                               "padding": None, "dilation": None, "channels": None}
        if rec["type"] in TYPES:
            row.update(TYPES[rec["type"]].to_row(rec))
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# Tables, CSV and comparison (for the lab page; plain data, no Streamlit)
# ---------------------------------------------------------------------------------------------

def _side(pair: tuple[int, int] | int | None, missing: str) -> str:
    """'54' for a square (54, 54) or 54, '54x40' otherwise, ``missing`` for a global layer."""
    if pair is None:
        return missing
    if isinstance(pair, int):
        return str(pair)
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


def shape_text(shape: tuple[int, ...]) -> str:
    """'16x14x14' (channels x height x width), or '10' for a vector."""
    return "x".join(str(d) for d in shape)


def table_rows(report: LabReport) -> list[dict[str, Any]]:
    """One row per layer: name, type, output CxHxW, receptive field r, effective stride S,
    effective padding P (in input pixels; 'all' / '-' for a layer that sees the whole input),
    parameters and MACs."""
    return [{"layer": r.name, "type": r.type, "output": shape_text(r.shape),
             "r": _side(r.rf, "all"), "S": _side(r.stride, "-"), "P": _side(r.padding, "-"),
             "params": r.params, "MACs": r.macs} for r in report.layers]


def report_csv(report: LabReport) -> str:
    """The per-layer table as CSV text (header row, one line per layer, '\\n' line ends)."""
    import csv
    import io
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=TABLE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table_rows(report))
    return buf.getvalue()


def growth(report: LabReport, every: bool = False) -> list[LayerInfo]:
    """The layers after which r and S are drawn: convs and pools (``every``: every spatial one)."""
    return [r for r in report.layers if not r.is_global and (every or r.type in FIELD_CHANGERS)]


def weight_layers(report: LabReport) -> int:
    """How many conv and linear layers the network has (its depth as usually counted)."""
    return sum(1 for r in report.layers if r.type in ("conv", "linear"))


def before_head(report: LabReport, input_shape: tuple[int, int, int] = INPUT_SHAPE
                ) -> tuple[int, ...]:
    """The shape the head (the last conv or linear layer) reads: the map the decision uses."""
    last = max((i for i, r in enumerate(report.layers) if r.type in ("conv", "linear")),
               default=None)
    if last is None or last == 0:
        return input_shape
    return report.layers[last - 1].shape


@dataclass(frozen=True)
class Summary:
    """One network's line in the comparison."""

    name: str
    params: int
    macs: int
    rf: tuple[int, int] | None
    before_head: tuple[int, ...]
    layers: int  # conv and linear layers

    def row(self) -> dict[str, Any]:
        return {"network": self.name, "params": self.params, "MACs": self.macs,
                "final r": _side(self.rf, "all"), "before the head": shape_text(self.before_head),
                "conv + linear layers": self.layers}


def summarise(name: str, report: LabReport) -> Summary:
    return Summary(name, report.params, report.macs, report.final_rf(), before_head(report),
                   weight_layers(report))


def _area(rf: tuple[int, int] | None) -> str:
    return "whole-image" if rf is None else f"{rf[0]}x{rf[1]}"


def _times(a: int, b: int) -> str:
    """How many times ``a`` is ``b``: '7.3x', '153x'."""
    ratio = a / b if b else float("inf")
    return f"{ratio:.1f}x" if ratio < 10 else f"{ratio:,.0f}x"


def compare_sentence(summaries: list[Summary]) -> str:
    """What the numbers say, one clause per network measured against the first one."""
    if len(summaries) < 2:
        return ""
    base = summaries[0]
    clauses = []
    for other in summaries[1:]:
        if other.rf == base.rf:
            field = f"reaches the same {_area(other.rf)} field as {base.name}"
        else:
            field = f"reaches a {_area(other.rf)} field (against {_area(base.rf)} for {base.name})"
        diff = other.params - base.params
        if diff < 0:
            params = f"with {-diff:,} fewer parameters ({other.params:,} against {base.params:,})"
        elif diff > 0:
            params = (f"with {diff:,} more parameters ({_times(other.params, base.params)} "
                      f"{base.name}'s)")
        else:
            params = "with as many parameters"
        if other.macs >= base.macs:
            macs = f"needs {_times(other.macs, base.macs)} the MACs"
        else:
            macs = f"needs {_times(base.macs, other.macs)} fewer MACs"
        clauses.append(f"{other.name} {field} {params} and {macs}")
    return "; ".join(clauses) + "."


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
        if isinstance(row["type"], str) and not row["type"].strip():
            row["type"] = None
        if any(v is not None for v in row.values()):
            rows.append(row)
    return rows


def _check_row_count(rows: list[dict[str, Any]]) -> None:
    """Refuse a table over the server's layer limit, with the limits' message (a cost that grows
    with the rows is never paid for a table that would be refused anyway)."""
    if len(rows) > MAX_LAYERS:
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
