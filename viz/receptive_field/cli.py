"""The calculator: JSON records and a readable table of the fields, and its command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from viz.receptive_field.arithmetic import compute
from viz.receptive_field.results import LayerField


def to_records(fields: list[LayerField]) -> list[dict[str, Any]]:
    """The calculator's JSON records: name, type, rf, effective_stride, effective_padding,
    output_size (``[h, w]`` pairs; ``null`` where unknown or, for global layers, meaningless)
    and ``global``."""
    def pair(values: tuple[Any, Any]) -> list[Any] | None:
        return None if values[0] is None or values[1] is None else [values[0], values[1]]

    return [
        {"name": f.name, "type": f.type, "rf": pair(f.rf),
         "effective_stride": pair(f.stride), "effective_padding": pair(f.padding),
         "output_size": pair(f.output_size) if f.output_size else None, "global": f.is_global}
        for f in fields
    ]


def format_table(fields: list[LayerField]) -> str:
    """A readable fixed-width table of the fields (``h x w`` pairs, squares shown once)."""
    def cell(values: tuple[Any, Any] | None) -> str:
        if values is None or values[0] is None:
            return "-"
        return str(values[0]) if values[0] == values[1] else f"{values[0]}x{values[1]}"

    header = ("layer", "type", "rf", "stride", "padding", "output")
    rows = [header]
    for f in fields:
        if f.is_global:
            rows.append((f.name, f.type, "whole input", "-", "-", cell(f.output_size)))
        else:
            rows.append((f.name, f.type, cell(f.rf), cell(f.stride), cell(f.padding),
                         cell(f.output_size)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(r, widths, strict=True))).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m viz.receptive_field SPEC.json [--table] [--input-size H W]``."""
    parser = argparse.ArgumentParser(
        prog="python -m viz.receptive_field",
        description="Receptive field, effective stride, effective padding and output size of "
                    "every layer of a CNN described by a JSON spec.")
    parser.add_argument("spec", help='JSON spec file ("-" reads standard input)')
    parser.add_argument("--table", action="store_true", help="print a readable table")
    parser.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"),
                        help="input height and width (overrides the spec's input_size)")
    args = parser.parse_args(argv)
    try:
        if args.spec == "-":
            spec = json.load(sys.stdin)
        else:
            with open(args.spec, encoding="utf-8") as fh:
                spec = json.load(fh)
        fields = compute(spec, args.input_size)
    except (OSError, ValueError) as exc:  # JSONDecodeError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.table:
        text = format_table(fields)
    else:  # a JSON array, one layer per line
        text = "[\n" + ",\n".join("  " + json.dumps(r) for r in to_records(fields)) + "\n]"
    try:
        print(text)
    except BrokenPipeError:  # e.g. piped into head
        sys.stderr.close()
    return 0
