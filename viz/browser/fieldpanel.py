"""What the unit-field panel (``ui/components/unitfield/``) draws, as a small JSON-able dict (torch-free).

The panel is the Receptive field view's picker and pictures, drawn by the browser: one channel's
feature map to hover and pick units on, and three pictures of the input for the picked unit (its
theoretical field, its effective field, its attribution). Hovering a unit redraws the theoretical
field in the same frame, with no round trip; a pick goes to Python for the effective field and the
attribution, which need the real network.

The server sends, per pick, about 3,000 small numbers:

- ``image``: the 28x28 input, 784 ints 0-255, row-major.
- ``rf``: the layer's receptive-field row from the engine, in the lens's format
  (:func:`viz.browser.lens.rf_row`: ``r``, ``S``, ``P`` and ``size`` as [rows, cols] pairs, null for a
  global layer). Unit ``(y, x)`` reads input rows ``y*S - P .. y*S - P + r - 1`` and the same
  columns with ``x``, inclusive and unclipped.
- ``map``: the picked channel's map, ``{"h", "w", "data"}`` (floats, 4 significant digits), or
  None (a layer without a spatial map, or a panel that is not a picker).
- ``erf`` and ``attr``: the picked unit's effective field and attribution as
  :func:`viz.pictures.raster.overlay_levels` makes them for the PNG pictures (0..1 and -1..1), sent as
  ints 0..LEVELS and -LEVELS..LEVELS (:data:`viz.pictures.style.LEVELS`, 1000).
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
