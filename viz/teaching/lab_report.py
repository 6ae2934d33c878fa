"""The lab's tables, CSV and comparisons of a network's report (plain data, no Streamlit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from viz.network.layers import (
    FIELD_CHANGERS,
    INPUT_SHAPE,
    TABLE_COLUMNS,
    LabReport,
    LayerInfo,
)


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
    reads = report.layers[last].inputs  # (a graph network's head may read an earlier layer)
    if reads and reads[0] != report.layers[last - 1].name:
        return next((r.shape for r in report.layers if r.name == reads[0]), input_shape)
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
    accuracy: float | None = None  # test accuracy of its shipped checkpoint's card, if any

    def row(self) -> dict[str, Any]:
        return {"network": self.name, "params": self.params, "MACs": self.macs,
                "final r": _side(self.rf, "all"), "before the head": shape_text(self.before_head),
                "conv + linear layers": self.layers,
                "test accuracy (shipped)": ("-" if self.accuracy is None
                                            else f"{self.accuracy:.2%}")}


def summarise(name: str, report: LabReport, accuracy: float | None = None) -> Summary:
    """One network's line; ``accuracy``: its shipped checkpoint's test accuracy (from the
    card), None when no trained checkpoint ships."""
    return Summary(name, report.params, report.macs, report.final_rf(), before_head(report),
                   weight_layers(report), accuracy)


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
        if other.accuracy is not None and base.accuracy is not None:
            macs += (f", for {other.accuracy:.2%} test accuracy against {base.accuracy:.2%} "
                     f"(their shipped checkpoints)")
        clauses.append(f"{other.name} {field} {params} and {macs}")
    return "; ".join(clauses) + "."
