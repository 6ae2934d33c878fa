"""The architecture lab: a network edited as a table of rows, analysed without building it.

A row is ``{"type": "conv", "kernel": 3, "stride": 1, "padding": 1, "dilation": 1,
"channels": 8}`` (``channels`` is a conv's output channels or a linear layer's outputs; other
types ignore the fields they do not use). :func:`rows_to_layers` turns rows into the zoo's layer
records (names, input channels and flatten sizes filled in); :func:`analyse` gives per layer the
output shape, receptive field, effective stride and padding (from the receptive-field engine),
parameters and MACs, all by arithmetic: nothing is built or run, so it answers at once. Standard
library only. Every invalid network raises ``ValueError`` with a message saying what to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from viz.receptive_field import compute

NUM_CLASSES = 10
ROW_TYPES = ("conv", "bn", "relu", "dropout", "maxpool", "avgpool", "gap", "flatten", "linear")
_PREFIX = {"conv": "conv", "bn": "bn", "relu": "relu", "dropout": "drop", "maxpool": "pool",
           "avgpool": "avgpool", "gap": "gap", "flatten": "flatten", "linear": "fc"}


@dataclass(frozen=True)
class LayerReport:
    name: str
    type: str
    shape: tuple[int, ...]  # output (C, H, W), or (features,) after flatten
    rf: tuple[int, int] | None  # None: the whole input (global layer)
    stride: tuple[int, int] | None
    padding: tuple[int, int] | None
    params: int
    macs: int


@dataclass(frozen=True)
class LabReport:
    layers: tuple[LayerReport, ...]
    params: int
    macs: int

    def final_rf(self) -> tuple[int, int] | None:
        """The receptive field of the last layer that has one (global layers see everything)."""
        spatial = [layer.rf for layer in self.layers if layer.rf is not None]
        return spatial[-1] if spatial else None


def _int(row: dict[str, Any], key: str, default: int, minimum: int, where: str) -> int:
    value = row.get(key)
    if value is None or value == "" or (isinstance(value, float) and value != value):  # NaN
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {key} must be a whole number, not {value!r}") from None
    if number != value and not isinstance(value, str):
        raise ValueError(f"{where}: {key} must be a whole number, not {value!r}")
    if number < minimum:
        raise ValueError(f"{where}: {key} must be at least {minimum}, not {number}")
    return number


def _next_is_bn(rows: list[dict[str, Any]], i: int) -> bool:
    """Row ``i`` (1-based) is followed by BatchNorm, which makes a conv bias redundant."""
    return i < len(rows) and str(rows[i].get("type") or "").strip().lower() == "bn"


def rows_to_layers(rows: list[dict[str, Any]], input_shape: tuple[int, int, int] = (1, 28, 28)
                   ) -> list[dict[str, Any]]:
    """Zoo layer records from lab rows: names numbered per type, channels chained."""
    if not rows:
        raise ValueError("the network is empty: add at least one layer")
    channels, _, _ = input_shape
    flat: int | None = None
    counts: dict[str, int] = {}
    layers: list[dict[str, Any]] = []
    for i, row in enumerate(rows, start=1):
        kind = str(row.get("type") or "").strip().lower()
        where = f"row {i} ({kind or 'no type'})"
        if kind not in ROW_TYPES:
            raise ValueError(f"row {i}: unknown layer type {row.get('type')!r}; choose one of "
                             f"{', '.join(ROW_TYPES)}")
        counts[kind] = counts.get(kind, 0) + 1
        name = f"{_PREFIX[kind]}{counts[kind]}"
        if flat is not None and kind not in ("linear", "relu", "dropout"):
            raise ValueError(f"{where}: after flatten only linear, relu and dropout layers fit")
        rec: dict[str, Any] = {"name": name, "type": kind}
        if kind == "conv":
            out = _int(row, "channels", 8, 1, where)
            rec.update(
                {"in": channels, "out": out, "kernel": _int(row, "kernel", 3, 1, where),
                 "stride": _int(row, "stride", 1, 1, where),
                 "padding": _int(row, "padding", 0, 0, where),
                 "dilation": _int(row, "dilation", 1, 1, where),
                 "bias": not _next_is_bn(rows, i)})
            channels = out
        elif kind in ("maxpool", "avgpool"):
            k = _int(row, "kernel", 2, 1, where)
            rec.update({"kernel": k, "stride": _int(row, "stride", k, 1, where),
                        "padding": _int(row, "padding", 0, 0, where)})
            if rec["padding"] * 2 > k:
                raise ValueError(f"{where}: pooling padding must be at most half the kernel")
        elif kind == "bn":
            rec["channels"] = channels
        elif kind == "dropout":
            rec["p"] = 0.05
        elif kind == "flatten":
            shape = _shapes(layers, input_shape)[-1] if layers else input_shape
            flat = 1
            for d in shape:
                flat *= d
        elif kind == "linear":
            if flat is None:
                raise ValueError(f"{where}: a linear layer needs a flatten (or gap + flatten) "
                                 f"before it")
            out = _int(row, "channels", NUM_CLASSES, 1, where)
            rec.update({"in": flat, "out": out, "bias": True})
            flat = out
        layers.append(rec)
    return layers


def _shapes(layers: list[dict[str, Any]], input_shape: tuple[int, int, int]
            ) -> list[tuple[int, ...]]:
    """Output shape of every layer (channels tracked here, sizes from the engine)."""
    fields = compute({"input_size": list(input_shape[1:]), "layers": layers})
    shapes: list[tuple[int, ...]] = []
    channels, h, w = input_shape
    flat: int | None = None
    for rec, fld in zip(layers, fields):
        kind = rec["type"]
        if kind == "conv":
            channels = rec["out"]
        if kind == "flatten":
            flat = channels * h * w
        elif kind == "linear":
            flat = rec["out"]
        if flat is not None:
            shapes.append((flat,))
            continue
        if kind == "gap":
            h = w = 1
        elif fld.output_size is not None and not fld.is_global:
            h, w = fld.output_size
        shapes.append((channels, h, w))
    return shapes


def analyse(layers: list[dict[str, Any]], input_shape: tuple[int, int, int] = (1, 28, 28)
            ) -> LabReport:
    """Per-layer shapes, receptive fields, parameters and MACs of a network's layer records."""
    fields = compute({"input_size": list(input_shape[1:]), "layers": layers})
    shapes = _shapes(layers, input_shape)
    reports = []
    for rec, fld, shape in zip(layers, fields, shapes):
        params = macs = 0
        if rec["type"] == "conv":
            k = rec["kernel"]
            kh, kw = (k, k) if isinstance(k, int) else k
            per_out = rec["in"] * kh * kw
            params = rec["out"] * per_out + (rec["out"] if rec.get("bias", True) else 0)
            macs = per_out * shape[0] * shape[1] * shape[2]
        elif rec["type"] == "bn":
            params = 2 * rec["channels"]
        elif rec["type"] == "linear":
            params = rec["in"] * rec["out"] + (rec["out"] if rec.get("bias", True) else 0)
            macs = rec["in"] * rec["out"]
        spatial = not fld.is_global
        reports.append(LayerReport(
            name=rec["name"], type=rec["type"], shape=shape,
            rf=fld.rf if spatial else None, stride=fld.stride if spatial else None,
            padding=fld.padding if spatial else None, params=params, macs=macs))
    final = shapes[-1] if shapes else ()
    if final not in ((NUM_CLASSES,), (NUM_CLASSES, 1, 1)):
        shown = "x".join(str(d) for d in final)
        raise ValueError(
            f"the network must end with {NUM_CLASSES} outputs, one per digit; it ends with "
            f"{shown}. End with a conv of {NUM_CLASSES} channels whose kernel covers the whole "
            f"map (or gap), or with flatten + linear {NUM_CLASSES}.")
    return LabReport(tuple(reports), sum(r.params for r in reports), sum(r.macs for r in reports))


def layers_to_rows(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lab rows for existing layer records (e.g. a zoo architecture), for editing."""
    rows = []
    for rec in layers:
        row: dict[str, Any] = {"type": rec["type"], "kernel": None, "stride": None,
                               "padding": None, "dilation": None, "channels": None}
        if rec["type"] in ("conv", "maxpool", "avgpool"):
            row.update(kernel=rec["kernel"], stride=rec.get("stride", rec["kernel"]),
                       padding=rec.get("padding", 0))
        if rec["type"] == "conv":
            row.update(dilation=rec.get("dilation", 1), channels=rec["out"])
        if rec["type"] == "linear":
            row["channels"] = rec["out"]
        rows.append(row)
    return rows
