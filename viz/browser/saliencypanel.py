"""What the saliency panel (``ui/components/saliencymap/``) draws, as a small JSON-able dict (torch-free).

The panel draws one attribution map twice, in the browser: over the input (grey ink on white
paper; the overlay fully transparent at 0, so the digit shows through, at an opacity the viewer
sets with a slider that needs no round trip) and alone, both on one diverging scale centred at 0
(RdBu reversed: red = evidence for the class, blue = against), with the colour bar and the value
of the pixel under the pointer.

- ``image``: the 28x28 input, 784 ints 0-255, row-major.
- ``attr``: the map, 784 floats (4 significant digits), row-major.
- ``lim``: the scale's limit, :func:`viz.pictures.figures.symmetric_limit` of the map (the 99.5th
  percentile of |value|): the colours run from ``-lim`` to ``+lim`` and clip beyond.
- ``overlay``: the overlay's colour scale, ``[[t, r, g, b, alpha], ...]`` from
  :data:`viz.pictures.style.OVERLAY_DIVERGING` (the plotly charts' scale: its one source).
- ``label``: what the map is (e.g. "Integrated Gradients for class 3"), for captions and the
  screen-reader text.

The "All methods" view sends :func:`grid_payload` instead: every method's map for the trained
network (and for a copy with random weights), each divided by its own largest |value| (methods
have different units), all drawn on one scale -1..1.
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
