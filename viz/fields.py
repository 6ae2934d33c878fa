"""Receptive fields for the explorer: the one place the app talks to the receptive-field engine.

The app only uses :class:`FieldRow` (one row of the per-layer table), :func:`field_table`,
:func:`unit_region`, :func:`effective_field` and :func:`describe`. When the engine
(``viz.receptive_field`` with ``model.rf_adapter``) is present its numbers are used; otherwise the
same closed-form recurrences are computed here from the torch modules:

    r_out = r_in + (k_eff - 1) * S_in        (k_eff = dilation * (k - 1) + 1)
    S_out = S_in * stride
    P_out = P_in + padding * S_in

so that unit ``i`` of a layer sees input pixels ``i*S - P .. i*S - P + r - 1`` (unclipped).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from model.zoo import count_macs, layer_shapes
from viz.features import forward_to

INPUT_SIZE = 28


@dataclass(frozen=True)
class FieldRow:
    """Receptive-field facts for one layer's output (square fields: one number per axis)."""

    name: str
    type: str
    r: int  # receptive field size in input pixels
    stride: int  # effective stride (input pixels between neighbouring units)
    padding: int  # effective padding: input pixels left of unit 0's field
    shape: tuple[int, ...]  # output shape (C, H, W) or (C,)
    params: int
    macs: int
    is_global: bool  # the unit sees the whole input

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

    @property
    def clipped(self) -> tuple[int, int, int, int]:
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


def _kind(module: nn.Module) -> str:
    return {nn.Conv2d: "conv", nn.BatchNorm2d: "bn", nn.ReLU: "relu", nn.Dropout: "dropout",
            nn.MaxPool2d: "maxpool", nn.AvgPool2d: "avgpool", nn.AdaptiveAvgPool2d: "gap",
            nn.Flatten: "flatten", nn.Linear: "linear"}.get(type(module), type(module).__name__)


def _pair(v) -> int:
    return int(v[0] if isinstance(v, tuple) else v)


def field_table(model: nn.Module) -> list[FieldRow]:
    """One :class:`FieldRow` per top-level layer, in order."""
    shapes = dict(layer_shapes(model))
    macs = count_macs(model)
    rows: list[FieldRow] = []
    r, s, p, n = 1, 1, 0, INPUT_SIZE
    for name, m in model.named_children():
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k, st, pad = _pair(m.kernel_size), _pair(m.stride), _pair(m.padding)
            d = _pair(getattr(m, "dilation", 1))
            k_eff = d * (k - 1) + 1
            r, p, s = r + (k_eff - 1) * s, p + pad * s, s * st
        elif isinstance(m, (nn.AdaptiveAvgPool2d, nn.Linear)):
            r, p, s = r + (n - 1) * s, p, s * n
        out = shapes[name]
        n = out[-1] if len(out) == 3 else 1
        params = sum(t.numel() for t in m.parameters())
        is_global = n == 1 or r >= 2 * INPUT_SIZE - 1  # every unit sees every pixel
        rows.append(FieldRow(name, _kind(m), int(r), int(s), int(p), tuple(out), int(params),
                             int(macs.get(name, 0)), bool(is_global)))
    return rows


def row_for(table: list[FieldRow], layer: str) -> FieldRow:
    for row in table:
        if row.name == layer:
            return row
    raise ValueError(f"no layer named {layer!r}")


def unit_region(row: FieldRow, y: int, x: int) -> Region:
    """Input pixels that unit (y, x) of this layer can see (inclusive, unclipped)."""
    if not (0 <= y < row.size and 0 <= x < row.size):
        raise ValueError(f"unit ({y}, {x}) is outside {row.name}'s {row.size}x{row.size} map")
    y0, x0 = y * row.stride - row.padding, x * row.stride - row.padding
    return Region(y0, y0 + row.r - 1, x0, x0 + row.r - 1)


def effective_field(model: nn.Module, layer: str, unit: tuple[int, int, int],
                    x: torch.Tensor) -> np.ndarray:
    """|d unit / d input| for this input (28x28): where the unit is actually sensitive.

    Uses ``torch.autograd.grad`` on the input only: no hooks, no parameter ``.grad`` touched.
    """
    c, uy, ux = unit
    inp = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = forward_to(model, inp, layer)
        value = out[0, c] if out.dim() == 2 else out[0, c, uy, ux]
        (grad,) = torch.autograd.grad(value, inp)
    return grad[0, 0].abs().numpy()


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


def _engine_available() -> bool:  # pragma: no cover - depends on the branch merged
    try:
        import model.rf_adapter  # noqa: F401
    except ImportError:
        return False
    return True
