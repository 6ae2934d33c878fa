"""The unit-field panel's data (viz/browser/fieldpanel.py) and the overlay arithmetic it shares with the
PNG pictures (viz/pictures/raster.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model.architectures import get
from viz.browser import fieldpanel
from viz.browser.lens import unit_bounds
from viz.network.layers import describe
from viz.pictures import raster


@pytest.fixture(scope="module")
def rows():
    return {r.name: r for r in describe(get("seed").layers())}


def test_overlay_levels_by_hand() -> None:
    erf = np.zeros((28, 28))
    erf[3, 4], erf[5, 6] = 2.0, 0.5
    t = raster.overlay_levels(erf, signed=False)
    assert t[3, 4] == 1.0 and t[5, 6] == 0.25 and t.sum() == 1.25
    # signed: divided by the 99.5th percentile of |value| (one extreme pixel is clipped)
    attr = np.zeros((28, 28))
    attr[0, :10] = -1.0
    attr[1, 0] = 50.0
    lim = float(np.percentile(np.abs(attr), 99.5))
    s = raster.overlay_levels(attr, signed=True)
    assert lim == pytest.approx(1.0)
    assert s[1, 0] == 1.0 and s[0, 0] == pytest.approx(-1.0 / lim)
    assert not raster.overlay_levels(np.zeros((28, 28)), signed=True).any()


def test_input_rgb_blends_by_hand() -> None:
    image = np.zeros((28, 28), np.uint8)
    image[0, 0] = 255
    plain = raster.input_rgb(image)
    assert plain[0, 0].tolist() == [255, 255, 255] and plain[1, 1].tolist() == [0, 0, 0]
    levels = np.zeros((28, 28))
    levels[0, 0] = 1.0  # fully covered: the overlay's yellow
    levels[1, 1] = 0.5 ** (1 / raster.SENSITIVITY_GAMMA)  # half covered
    rgb = raster.input_rgb(image, levels)
    assert rgb[0, 0].tolist() == list(raster.YELLOW)
    assert rgb[1, 1] == pytest.approx(np.array(raster.YELLOW) / 2)
    assert rgb[2, 2].tolist() == [0, 0, 0]
    signed = raster.input_rgb(image, -levels, signed=True)  # grey ink on white paper, blue
    assert signed[2, 2].tolist() == [255, 255, 255]
    assert signed[0, 0] == pytest.approx(raster.RDBU_R[0])


def test_payload_matches_the_engine(rows) -> None:
    image = (np.arange(784) % 256).reshape(28, 28).astype(np.uint8)
    row = rows["relu5"]
    fmap = np.linspace(-1, 1, row.size * row.size).reshape(row.size, row.size)
    erf = np.zeros((28, 28))
    erf[10, 10] = 4.0
    erf[11, 10] = 1.0
    attr = np.zeros((28, 28))
    attr[12, 12] = -3.0
    d = fieldpanel.payload(image, row, (5, 19, 14), fmap=fmap, erf=erf, attr=attr)
    json.dumps(d)  # plain JSON
    assert d["image"] == image.ravel().tolist()
    assert d["layer"] == "relu5" and d["unit"] == {"c": 5, "y": 19, "x": 14}
    r = row.region(19, 14)
    assert list(unit_bounds(d, 19, 14)) == [r.y0, r.y1, r.x0, r.x1]
    assert d["rf"]["r"] == [row.r, row.r] and d["rf"]["S"] == [row.stride, row.stride]
    assert d["erf"][10 * 28 + 10] == 1000 and d["erf"][11 * 28 + 10] == 250
    assert sum(d["erf"]) == 1250
    assert d["attr"][12 * 28 + 12] == -1000 and sum(map(abs, d["attr"])) == 1000
    assert d["map"]["h"] == d["map"]["w"] == row.size
    assert d["map"]["data"][0] == -1.0 and d["map"]["data"][-1] == 1.0
    assert np.allclose(d["map"]["data"], fmap.ravel(), atol=5e-4)


def test_payload_without_picker_or_overlays(rows) -> None:
    head = next(r for r in rows.values() if r.is_global)
    d = fieldpanel.payload(np.zeros((28, 28)), head, (3, 0, 0))
    assert d["map"] is None and d["erf"] is None and d["attr"] is None
    assert d["rf"]["global"] is True and unit_bounds(d, 0, 0) == (0, 27, 0, 27)


@pytest.mark.parametrize("bad, message", [
    (dict(image=np.zeros((27, 28))), "28x28"),
    (dict(unit=(0, 28, 0)), "outside"),
    (dict(fmap=np.zeros((3, 3))), "must be 28x28"),
    (dict(erf=np.zeros((28,))), "overlay"),
    (dict(attr=np.full((28, 28), np.nan)), "NaN or infinite"),
    (dict(fmap=np.full((28, 28), np.inf)), "NaN or infinite"),
])
def test_payload_rejects(rows, bad, message) -> None:
    args = dict(image=np.zeros((28, 28)), row=rows["relu5"], unit=(0, 0, 0))
    args.update(bad)
    with pytest.raises(ValueError, match=message):
        fieldpanel.payload(**args)
