"""What the unit-field panel draws, as a small JSON-able dict (torch-free).

The panel is the Receptive field view's picker: one channel's map to hover and pick units on,
and the picked unit's theoretical field, effective field and attribution. Hovering is drawn in
the browser from the engine's r, S and P; only a pick comes back to Python. About 3,000 small
numbers per pick; the payload's keys are listed in docs/lens.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from viz.browser.lens import rf_row
from viz.network.layers import INPUT_SHAPE, LayerInfo
from viz.pictures.raster import overlay_levels
from viz.pictures.style import LEVELS

IMAGE = INPUT_SHAPE[1:]  # (28, 28)
SIDE = INPUT_SHAPE[-1]


def _levels(overlay: np.ndarray | None, signed: bool) -> list[int] | None:
    if overlay is None:
        return None
    ov = np.asarray(overlay, dtype=np.float64)
    if ov.shape != IMAGE:
        raise ValueError(f"an overlay must be {SIDE}x{SIDE}, not {ov.shape}")
    if not np.isfinite(ov).all():
        raise ValueError("the unit's effective field or attribution has NaN or infinite values "
                         "(the network's numbers overflow on this input)")
    return np.rint(overlay_levels(ov, signed) * LEVELS).astype(np.int32).ravel().tolist()


def payload(image: np.ndarray, row: LayerInfo, unit: tuple[int, int, int],
            fmap: np.ndarray | None = None, erf: np.ndarray | None = None,
            attr: np.ndarray | None = None) -> dict[str, Any]:
    """The panel's data for one input, one layer and one picked unit ``(c, y, x)``.

    ``fmap``: the picked channel's (H, W) map to pick units on (None: no picker).
    """
    img = np.asarray(image)
    if img.shape != IMAGE:
        raise ValueError(f"the input must be {SIDE}x{SIDE}, not {img.shape}")
    c, y, x = (int(v) for v in unit)
    if not (0 <= y < row.size and 0 <= x < row.size):
        raise ValueError(f"unit ({y}, {x}) is outside {row.name}'s {row.size}x{row.size} map")
    out: dict[str, Any] = {
        "image": np.clip(img, 0, 255).astype(np.uint8).ravel().tolist(),
        "layer": row.name,
        "rf": rf_row(row),
        "unit": {"c": c, "y": y, "x": x},
        "map": None,
        "erf": _levels(erf, signed=False),
        "attr": _levels(attr, signed=True),
    }
    if fmap is not None:
        m = np.asarray(fmap, dtype=np.float32)
        if m.ndim != 2 or m.shape != (row.size, row.size):
            raise ValueError(f"the map of {row.name} must be {row.size}x{row.size}, not "
                             f"{m.shape}")
        if not np.isfinite(m).all():
            raise ValueError(f"the map of {row.name} has NaN or infinite values (the network's "
                             f"numbers overflow on this input)")
        out["map"] = {"h": int(m.shape[0]), "w": int(m.shape[1]),
                      "data": [float(f"{v:.4g}") for v in m.ravel().tolist()]}
    return out
