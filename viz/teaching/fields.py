"""Receptive fields for the explorer: the per-layer table, a unit's region, plain sentences.

Torch-free. The numbers come from the layer records through ``viz.network.layers.describe`` (the
receptive-field engine ``viz.receptive_field`` plus shape, parameter and MAC arithmetic); the
effective field (gradients of the real network) is ``model.insight.erf.effective_field``.

A unit ``i`` of a layer with field ``r``, effective stride ``S`` and effective padding ``P`` sees
input pixels ``i*S - P .. i*S - P + r - 1`` (unclipped: the part outside 0..27 is zero padding).
"""

from __future__ import annotations

import numpy as np

from viz.network import layers as _layers
from viz.network.layers import LayerInfo, LayerRecord
from viz.receptive_field import Region

INPUT_SIZE = _layers.INPUT_SHAPE[1]  # the side of a digit


def field_table(layers: list[LayerRecord]) -> list[LayerInfo]:
    """One :class:`~viz.network.layers.LayerInfo` per layer of a network, in order."""
    return _layers.describe(layers)


def row_for(table: list[LayerInfo], layer: str) -> LayerInfo:
    return _layers.find(table, layer)


def clamp_unit(row: LayerInfo, c: int, y: int, x: int) -> tuple[int, int, int]:
    """A unit ``(c, y, x)`` moved onto the layer's output (channel or feature, row, column): a
    unit named by a browser or a link may lie outside it; the nearest unit inside is used."""
    channels = int(row.shape[0])
    return (min(max(int(c), 0), channels - 1), min(max(int(y), 0), row.size - 1),
            min(max(int(x), 0), row.size - 1))


def unit_region(row: LayerInfo, y: int, x: int) -> Region:
    """Input pixels that unit (y, x) of this layer can see (inclusive, unclipped + read)."""
    return row.region(y, x)


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


def describe(row: LayerInfo, region: Region, erf: np.ndarray | None = None) -> str:
    """One or two plain sentences about what this unit can see."""
    cy0, cy1, cx0, cx1 = region.clipped or (0, -1, 0, -1)
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
        text += (" For this input no pixel moves it (the ReLUs on its path are off for this "
                 "input).")
    return text


def dense_only(table: list[LayerInfo]) -> str | None:
    """For a network without feature maps (it flattens the image first: a multilayer
    perceptron), the sentence every view says about what its units see; None for a network
    with feature maps."""
    if not table or any(len(info.shape) == 3 for info in table):
        return None
    first = next((info.name for info in table if info.type == "linear"), table[-1].name)
    pixels = INPUT_SIZE * INPUT_SIZE
    return (f"This network has no feature maps: it flattens the {INPUT_SIZE}x{INPUT_SIZE} image "
            f"into {pixels} numbers first, so every unit of its first dense layer ({first}) "
            f"sees the whole image (a weight for each of the {pixels} pixels), and so does "
            f"every unit after it: there is no receptive field to grow.")


# The per-layer table's columns (viz.network.layers.TABLE_COLUMNS) in words, and whether the layer sees
# the whole input
_IN_WORDS = {"r": "receptive_field", "S": "effective_stride", "P": "effective_padding",
             "MACs": "macs"}
_csv = [_IN_WORDS.get(column, column) for column in _layers.TABLE_COLUMNS]
_csv.insert(_csv.index("effective_padding") + 1, "sees_whole_input")
CSV_COLUMNS = tuple(_csv)


def table_csv(table: list[LayerInfo]) -> str:
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
