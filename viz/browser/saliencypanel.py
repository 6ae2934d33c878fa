"""What the saliency panel draws, as a small JSON-able dict (torch-free).

The panel draws one attribution map over the input and alone, on one diverging scale centred at
0, and answers the opacity slider and the pointer's value in the browser. :func:`grid_payload`
is the "All methods" view's grid (each map as a share of its own largest |value|). The payload's
keys are listed in docs/lens.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from viz.network.layers import INPUT_SHAPE
from viz.pictures.figures import symmetric_limit
from viz.pictures.style import LEVELS, OVERLAY_DIVERGING

IMAGE = INPUT_SHAPE[1:]  # (28, 28)
SIDE = INPUT_SHAPE[-1]


def _stops(scale: list) -> list[list[float]]:
    out = []
    for t, colour in scale:
        parts = [float(v) for v in colour[colour.index("(") + 1:-1].split(",")]
        out.append([float(t), *parts[:3], parts[3] if len(parts) > 3 else 1.0])
    return out


OVERLAY_STOPS = _stops(OVERLAY_DIVERGING)


def payload(image: np.ndarray, attr: np.ndarray, label: str) -> dict[str, Any]:
    """The panel's data for one input and one attribution map (both 28x28)."""
    img, a = np.asarray(image), np.asarray(attr, dtype=np.float64)
    if img.shape != IMAGE or a.shape != IMAGE:
        raise ValueError(f"the input and the map must be {SIDE}x{SIDE}, not {img.shape} and "
                         f"{a.shape}")
    if not np.isfinite(a).all():
        raise ValueError("the attribution map has NaN or infinite values")
    return {
        "image": np.clip(img, 0, 255).astype(np.uint8).ravel().tolist(),
        "attr": [float(f"{v:.4g}") for v in a.ravel().tolist()],
        "lim": float(f"{symmetric_limit(a):.4g}"),
        "overlay": OVERLAY_STOPS,
        "label": str(label),
    }


# A grid map's values are sent as ints -LEVELS..LEVELS (share of its largest |value|).


def share_of_max(a: np.ndarray) -> np.ndarray:
    """A map divided by its own largest |value| (-1..1); an all-zero map stays zero."""
    a = np.asarray(a, dtype=np.float64)
    peak = float(np.abs(a).max()) if a.size else 0.0
    return a / peak if peak > 0 else a


def grid_payload(image: np.ndarray, rows: dict[str, dict[str, np.ndarray]],
                 blank: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """The grid's data: ``rows`` is {row label: {method label: 28x28 map}}, every row with the
    same methods in the same order; ``blank``: methods that could not run here (drawn empty)."""
    img = np.asarray(image)
    if img.shape != IMAGE:
        raise ValueError(f"the input must be {SIDE}x{SIDE}, not {img.shape}")
    if not rows:
        raise ValueError("the grid needs at least one row of maps")
    methods = list(next(iter(rows.values())))
    maps = []
    for name, row in rows.items():
        if list(row) != methods:
            raise ValueError(f"row {name!r} has methods {list(row)}, not {methods}")
        for method, a in row.items():
            a = np.asarray(a, dtype=np.float64)
            if a.shape != IMAGE or not np.isfinite(a).all():
                raise ValueError(f"the map of {method} ({name}) must be {SIDE}x{SIDE} and finite")
            maps.append(np.rint(share_of_max(a) * LEVELS).astype(np.int32).ravel().tolist())
    return {
        "image": np.clip(img, 0, 255).astype(np.uint8).ravel().tolist(),
        "rows": list(rows),
        "methods": methods,
        "blank": [m for m in methods if m in blank],
        "maps": maps,  # row-major over (row, method)
    }
