"""The canvases' text alternatives in headless Chromium (the app under ``streamlit run``, one
server and one browser for the module): each says what its canvas shows, in numbers that match
the network's, and changes with it.

- the lens: the feature map (channel, size, strongest unit and its value, the unit under the
  pointer) follows Page Down and the arrow keys; the grid of every map names the layer's
  strongest unit and follows a layer change;
- the unit-field panel: its map and the picked unit's effective field and attribution;
- the saliency grid (All methods): each map says where it is strongest for and against.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from bench.server import wait_idle
from tests.app.chromium import page_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LENS = "[data-testid=lens]"
MAP_LABEL = re.compile(r"^Channel (\d+) of (\w+), (\d+)x(\d+); strongest unit row (\d+), col "
                       r"(\d+), value (-?[\d.]+); unit row (\d+), col (\d+)")


@pytest.fixture(scope="module")
def app():
    with page_app("app.py", 1400, 900) as (url, page):
        yield url.rstrip("/"), page


def _go(app, query: str, ready: str):
    url, page = app
    page.goto(f"{url}/?{query}")
    page.wait_for_function(f"() => {ready}", timeout=90_000)
    wait_idle(page, 90_000)
    return page


def _label(page, selector: str) -> str:
    return page.locator(selector).first.get_attribute("aria-label")


def _fmt(v: float) -> str:  # canvas.js fmt
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.2f}" if abs(v) >= 1 else f"{v:.3f}"


def test_lens_labels_follow_channel_unit_and_layer(app) -> None:
    page = _go(app, "model=seed&input=sample:3&layer=relu5&view=maps",
               "window.cnnLens && window.cnnLens.prediction !== undefined")
    acts = page.evaluate("() => { const l = window.cnnLens.lens; "
                         "const a = l.acts.get('relu5'); return {shape: a.shape, "
                         "data: Array.from(a.data)}; }")
    data = np.asarray(acts["data"], np.float64).reshape(acts["shape"])
    focus = f"{LENS} canvas.focus"
    first = MAP_LABEL.match(_label(page, focus))
    assert first, _label(page, focus)
    c, layer, h, w, sy, sx, value = first.groups()[:7]
    c = int(c)
    assert (layer, int(h), int(w)) == ("relu5", 28, 28)
    y, x = np.unravel_index(np.argmax(data[c]), data[c].shape)
    assert (int(sy), int(sx)) == (y, x) and value == _fmt(data[c, y, x])
    grid = _label(page, f"{LENS} canvas.grid")
    gc, gy, gx = np.unravel_index(np.argmax(data), data.shape)
    assert grid.startswith(f"All 16 feature maps of relu5, 28x28 each; strongest: channel {gc}, "
                           f"row {gy}, col {gx}, value {_fmt(data[gc, gy, gx])}.")

    page.locator(focus).focus()
    page.keyboard.press("Home")  # the unit to row 0, col 0 (the channel stays)
    page.keyboard.press("PageDown")  # the next channel
    nxt = MAP_LABEL.match(_label(page, focus))
    c2 = min(c + 1, 15)
    assert nxt and int(nxt.group(1)) == c2
    y2, x2 = np.unravel_index(np.argmax(data[c2]), data[c2].shape)
    assert (int(nxt.group(5)), int(nxt.group(6))) == (y2, x2)
    before = nxt.group(8, 9)
    page.keyboard.press("ArrowRight")
    moved = MAP_LABEL.match(_label(page, focus))
    assert moved.group(8) == before[0] and int(moved.group(9)) == int(before[1]) + 1

    page.locator(f"{LENS} select.layer").select_option("relu3")
    assert _label(page, f"{LENS} canvas.grid").startswith("All ")
    assert " of relu3, 28x28 each; strongest: channel " in _label(page, f"{LENS} canvas.grid")
    assert MAP_LABEL.match(_label(page, focus)).group(2) == "relu3"


def test_unit_field_labels_follow_the_unit(app) -> None:
    page = _go(app, "model=seed&input=sample:3&layer=conv3&view=field&unit=2,5,7",
               "window.cnnUnitField && window.cnnUnitField.panels "
               "&& window.cnnUnitField.panels.conv3")
    uf = "[data-testid=unit-field]"
    picker = _label(page, f"{uf} canvas.picker")
    m = MAP_LABEL.match(picker)
    assert m and m.group(1, 2) == ("2", "conv3") and m.group(8, 9) == ("5", "7"), picker
    erf = _label(page, f"{uf} canvas.erf")
    assert erf.startswith("The effective field of the unit at channel 2, row 5, col 7 of conv3")
    assert "strongest at row" in erf
    attr = _label(page, f"{uf} canvas.attr")
    assert attr.startswith("DeepLift attribution of the unit at channel 2, row 5, col 7")
    page.locator(f"{uf} canvas.picker").focus()
    page.keyboard.press("ArrowDown")
    moved = MAP_LABEL.match(_label(page, f"{uf} canvas.picker"))
    assert moved.group(8, 9) == ("6", "7")
    assert moved.group(5, 6, 7) == m.group(5, 6, 7)  # the same channel, the same strongest


def test_saliency_grid_labels_say_where_each_map_is_strongest(app) -> None:
    page = _go(app, "model=seed&input=sample:3&layer=relu5&view=compare",
               "document.querySelector('[data-testid=stMain]') && "
               "window.cnnSaliency && window.cnnSaliency.panel")
    tiles = page.locator("[data-testid=saliency-map] .grid canvas")
    labels = [tiles.nth(i).get_attribute("aria-label") for i in range(tiles.count())]
    assert len(labels) == 14  # seven methods, trained and random weights
    assert all(re.search(r"\((trained|random weights)\): (strongest for at row \d+, col \d+"
                         r"|against at|the same value everywhere|not available)", t)
               for t in labels), labels
    assert sum("strongest for at row" in t for t in labels) >= 7
