"""Receptive fields for the explorer: the one place the app talks to the receptive-field engine.

The numbers come from the engine (``viz.receptive_field`` via ``model.rf_adapter``), which reads
the geometry of the real torch modules; the effective field comes from ``model.erf``. The app only
uses :class:`FieldRow` (one row of the per-layer table), :func:`field_table`, :func:`unit_region`,
:func:`effective_field` and :func:`describe`, so adapting to an engine change is a one-file edit.

A unit ``i`` of a layer with field ``r``, effective stride ``S`` and effective padding ``P`` sees
input pixels ``i*S - P .. i*S - P + r - 1`` (unclipped: the part outside 0..27 is zero padding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from model.erf import effective_receptive_field
from model.rf_adapter import receptive_field_table
from model.zoo import count_macs, layer_shapes
from viz.features import private_copy

INPUT_SIZE = 28


@dataclass(frozen=True)
class FieldRow:
    """Receptive-field facts for one layer's output (square fields: one number per axis)."""

    name: str
    type: str
    r: int  # receptive field size in input pixels (global layers: the whole input they see)
    stride: int | None  # effective stride (input pixels between units); None when global
    padding: int | None  # effective padding: how far unit 0's field starts before pixel 0
    shape: tuple[int, ...]  # output shape (C, H, W) or (C,)
    params: int
    macs: int
    is_global: bool  # the unit sees the whole input
    field: object = None  # the engine's LayerField (gives regions)

    @property
    def size(self) -> int:
        return self.shape[-1] if len(self.shape) == 3 else 1


@dataclass(frozen=True)
class Region:
    """The theoretical receptive field of one unit on the input (inclusive pixel bounds)."""

    y0: int
    y1: int
    x0: int
    x1: int  # unclipped: may lie outside 0..27 (in the padding)
    size: int = INPUT_SIZE
    read: tuple[int, int, int, int] | None = None  # image pixels actually read (engine)

    @property
    def clipped(self) -> tuple[int, int, int, int]:
        """(y0, y1, x0, x1) of the image pixels the unit reads (inclusive)."""
        if self.read is not None:
            return self.read
        n = self.size - 1
        return max(self.y0, 0), min(self.y1, n), max(self.x0, 0), min(self.x1, n)

    @property
    def padding_fraction(self) -> float:
        """Share of the field that lies in the zero padding, outside the image."""
        cy0, cy1, cx0, cx1 = self.clipped
        inside = max(cy1 - cy0 + 1, 0) * max(cx1 - cx0 + 1, 0)
        total = (self.y1 - self.y0 + 1) * (self.x1 - self.x0 + 1)
        return 1.0 - inside / total

    @property
    def centre(self) -> tuple[float, float]:
        return (self.y0 + self.y1) / 2, (self.x0 + self.x1) / 2


def field_table(model: nn.Module) -> list[FieldRow]:
    """One :class:`FieldRow` per top-level layer, in order (engine numbers, real shapes)."""
    shapes = dict(layer_shapes(model))
    macs = count_macs(model)
    modules = dict(model.named_children())
    rows: list[FieldRow] = []
    for f in receptive_field_table(model, (INPUT_SIZE, INPUT_SIZE)):
        if f.name not in modules:
            continue
        if f.is_global:
            region = f.region(0, 0)
            r = region.h.end - region.h.start + 1
        else:
            r = int(f.h.r)
        params = sum(t.numel() for t in modules[f.name].parameters())
        rows.append(FieldRow(f.name, f.type, r, f.h.stride, f.h.padding, tuple(shapes[f.name]),
                             int(params), int(macs.get(f.name, 0)), bool(f.is_global), f))
    return rows


def row_for(table: list[FieldRow], layer: str) -> FieldRow:
    for row in table:
        if row.name == layer:
            return row
    raise ValueError(f"no layer named {layer!r}")


def unit_region(row: FieldRow, y: int, x: int) -> Region:
    """Input pixels that unit (y, x) of this layer can see (inclusive, unclipped + read)."""
    if not (0 <= y < row.size and 0 <= x < row.size):
        raise ValueError(f"unit ({y}, {x}) is outside {row.name}'s {row.size}x{row.size} map")
    reg = row.field.region(int(y), int(x))  # type: ignore[attr-defined]
    read = None
    if reg.h.clipped is not None and reg.w.clipped is not None:
        read = (*reg.h.clipped, *reg.w.clipped)
    return Region(reg.h.start, reg.h.end, reg.w.start, reg.w.end, read=read)


def effective_field(model: nn.Module, layer: str, unit: tuple[int, int, int],
                    x: torch.Tensor) -> np.ndarray:
    """|d unit / d input| for this input (28x28): where the unit is actually sensitive.

    The engine's ``model.erf`` registers a hook and toggles eval mode, so it runs on a private
    copy: the shared model is never touched.
    """
    c, uy, ux = unit
    clone = private_copy(model)
    out_dims = _out_dims(model, layer)
    index = (c,) if out_dims == 1 else (c, uy, ux)
    return effective_receptive_field(clone, layer, index, x).astype(np.float32)


def _out_dims(model: nn.Module, layer: str) -> int:
    shapes = dict(layer_shapes(model))
    if layer not in shapes:
        raise ValueError(f"no layer named {layer!r}")
    return len(shapes[layer])


def central_mass(erf: np.ndarray, region: Region, share: float = 0.5) -> int:
    """Side of the smallest odd square around the field's centre holding ``share`` of the ERF."""
    total = float(erf.sum())
    if total <= 0:
        return 0
    cy, cx = (int(round(v)) for v in region.centre)
    for k in range(1, 2 * INPUT_SIZE, 2):
        h = k // 2
        box = erf[max(cy - h, 0):cy + h + 1, max(cx - h, 0):cx + h + 1]
        if box.sum() >= share * total:
            return k
    return 2 * INPUT_SIZE


def describe(row: FieldRow, region: Region, erf: np.ndarray | None = None) -> str:
    """One or two plain sentences about what this unit can see."""
    cy0, cy1, cx0, cx1 = region.clipped
    h, w = cy1 - cy0 + 1, cx1 - cx0 + 1
    if row.is_global or (h >= INPUT_SIZE and w >= INPUT_SIZE):
        text = (f"This {row.name} unit sees the whole {INPUT_SIZE}x{INPUT_SIZE} image "
                f"(its theoretical field is {row.r}x{row.r}).")
    else:
        text = f"This unit can only see {row.r}x{row.r} pixels"
        if (h, w) != (row.r, row.r):
            text += f", of which {h}x{w} lie on the image (the rest is zero padding)"
        text += "."
    if erf is not None and erf.sum() > 0:
        k = central_mass(erf, region)
        if k == 0:
            pass
        elif k < row.r:
            text += f" Half of its sensitivity to this input is in the middle {k}x{k}."
        else:
            text += " Its sensitivity is spread over its whole field."
    elif erf is not None:
        text += " For this input it is insensitive everywhere (its ReLU is off)."
    return text


CSV_COLUMNS = ("layer", "type", "output", "receptive_field", "effective_stride",
               "effective_padding", "sees_whole_input", "params", "macs")


def table_csv(table: list[FieldRow]) -> str:
    """The receptive-field table as CSV (one row per layer; sizes in input pixels)."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in table:
        writer.writerow([r.name, r.type, "x".join(map(str, r.shape)), r.r,
                         "" if r.stride is None else r.stride,
                         "" if r.padding is None else r.padding,
                         "yes" if r.is_global else "no", r.params, r.macs])
    return buf.getvalue()
