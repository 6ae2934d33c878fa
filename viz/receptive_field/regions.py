"""Which units of a layer read a given input pixel (the inverse of a unit's clipped region)."""

from __future__ import annotations

from viz.receptive_field.parsing import _is_int
from viz.receptive_field.results import LayerField, _clipped_span


def units_seeing(layer_field: LayerField, y: int, x: int
                 ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Rows and columns of the units of ``layer_field`` whose clipped region contains (y, x).

    Returns ``(rows, cols)``, sorted tuples: unit ``(i, j)`` sees pixel ``(y, x)`` exactly when
    ``i in rows and j in cols``. Usually each is a run of consecutive indices; with dilation the
    clipped regions of neighbouring border units can skip a pixel, so not always. Needs the
    input size.
    """
    if layer_field.input_size is None:
        raise ValueError("units_seeing needs the input size: pass input_size to compute()")
    found = []
    for axis, p in ((0, y), (1, x)):
        n_in = layer_field.input_size[axis]
        if not _is_int(p) or not 0 <= p < n_in:
            what = ("row", "column")[axis]
            raise ValueError(f"pixel {what} {p!r} is outside the {n_in}-pixel input")
        a = (layer_field.h, layer_field.w)[axis]
        assert a.size is not None
        if layer_field.is_global:
            candidates = range(a.size)
        else:
            assert a.r is not None and a.stride is not None and a.padding is not None
            first = max(0, -(-(p + a.padding - a.r + 1) // a.stride))
            last = min(a.size - 1, (p + a.padding) // a.stride)
            candidates = range(first, last + 1)
        hits = [u for u in candidates
                if (span := _clipped_span(layer_field._net, layer_field.name, axis, u, u))
                and span[0] <= p <= span[1]]
        found.append(tuple(hits))
    return (found[0], found[1])
