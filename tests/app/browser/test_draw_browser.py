"""The explorer's Draw mode and the canvases' text alternatives in headless Chromium (the app
under ``streamlit run``), one server and one browser for the module.

Draw mode:

- at 1400 px with the mouse: choose Draw, draw a 7, lift the pen: the stroke stays on the pad,
  the input (the lens's and the sidebar's) and the prediction follow, the pad does not move when
  the drawing becomes the page's input, and the pad, the input and the prediction sit side by
  side; one note and one prediction; the pad keeps its strokes when the view is switched away and
  back (the lens is mounted afresh);
- at 390 px with touch events (a phone): the pad takes the width, does not let the page scroll
  while a finger draws, and keeps the stroke after release.

Text alternatives: each canvas says what it shows, in numbers that match the network's, and
changes with it:

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
from tests.app.browser.chromium import shared_browser, shared_server

# one worker runs this module and test_lens_browser.py: their app server with the lens, once
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("lens-app")]

LENS = "[data-testid=lens]"
PAD = f"{LENS} canvas.pad"
SEVEN = [(50, 40), (190, 40), (150, 110), (110, 200)]  # pad pixels (240x240)
INK = """(c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 128) n++; return n; }"""


_GONE: list = []  # the page _go opened last


@pytest.fixture(scope="module")
def app():
    """The shared server (with the lens) and Chromium; each page in a context of its own."""
    browser = shared_browser()
    yield shared_server("app.py", {"CNN_LENS_LENS": "1"}).rstrip("/"), browser
    while _GONE:
        _GONE.pop().close()


def _open_draw(browser, url: str, width: int, height: int, touch: bool = False):
    page = browser.new_page(viewport={"width": width, "height": height}, has_touch=touch,
                            is_mobile=touch)
    page.goto(url)
    page.wait_for_function("() => window.cnnLens && window.cnnLens.prediction !== undefined",
                           timeout=90_000)
    wait_idle(page, 60_000)
    source = page.locator(".st-key-in-source").get_by_text("Draw", exact=True)
    if touch:  # a phone: the sidebar starts folded away
        page.locator("[data-testid=stExpandSidebarButton]").click()
    source.click(timeout=60_000)
    wait_idle(page, 60_000)
    # Until the rerun has replaced the page's elements: one lens, its pad shown (on a loaded
    # machine a later rerun can still hold the old lens, hidden, beside the new one for a while).
    # (The lens lives in a shadow root: Playwright's locators see into it, querySelector not.)
    pads = page.locator(PAD)
    for _ in range(240):
        if pads.count() == 1 and pads.first.is_visible():
            break
        page.wait_for_timeout(500)
    pads.wait_for(state="visible", timeout=10_000)
    if touch:  # fold the sidebar again: the pad is on the page under it
        page.locator("[data-testid=stSidebarCollapseButton] button").click()
        page.wait_for_function("() => document.querySelector('[data-testid=stSidebar]')"
                               ".getBoundingClientRect().right <= 0", timeout=10_000)
    page.locator(PAD).scroll_into_view_if_needed()
    page.wait_for_timeout(500)  # let the scroll and the sidebar settle before measuring
    return page


def _at(box: dict, p: tuple[float, float]) -> tuple[float, float]:
    k = box["width"] / 240
    return box["x"] + p[0] * k, box["y"] + p[1] * k


def _settled(page) -> None:
    """The drawing became the page's input and the app finished running."""
    page.get_by_text("Input: your drawing").wait_for(timeout=60_000)
    wait_idle(page, 60_000)


def _close(a: dict, b: dict, tol: float = 1.0) -> bool:
    return all(abs(a[k] - b[k]) <= tol for k in ("x", "y", "width", "height"))


def test_mouse_drawing_stays_and_nothing_moves(app) -> None:
    url, browser = app
    page = _open_draw(browser, url, 1400, 900)
    try:
        pad = page.locator(PAD)
        assert pad.evaluate(INK) == 0
        assert pad.get_attribute("aria-label").startswith("Drawing pad: empty")
        # one note (the sidebar's), one prediction (the lens's): no header above the pad
        assert page.get_by_text("Draw a digit on the pad").count() == 1
        before = pad.bounding_box()
        page.mouse.move(*_at(before, SEVEN[0]))
        page.mouse.down()
        for p in SEVEN[1:]:
            page.mouse.move(*_at(before, p), steps=4)
        page.mouse.up()
        live = page.evaluate("() => window.cnnLens.prediction")
        live_digit = page.evaluate("() => window.cnnLens.liveDigit")
        _settled(page)
        page.wait_for_timeout(500)  # any late re-layout would show now
        after = pad.bounding_box()
        assert _close(before, after), (before, after)  # the pad did not move
        assert pad.evaluate(INK) > 1000  # the 7 stays on the pad
        assert live == 7
        assert page.evaluate("() => window.cnnLens.prediction") == live
        # the lens's input is the drawing; the sidebar shows what the network sees
        pixels = page.evaluate("() => Array.from(window.cnnLens.lens.pixels)")
        assert pixels == live_digit and sum(pixels) > 0
        assert page.get_by_text("What the network sees").count() == 1
        assert page.get_by_text("Input: your drawing").count() == 1
        assert page.locator(f"{LENS} .pred-digit").inner_text() == "7"
        assert page.get_by_text("Prediction", exact=True).count() == 1
        label = pad.get_attribute("aria-label")
        assert "your digit" in label and "reads it as 7" in label
        # side by side at 1400 px: pad, input and prediction on one row
        inp = page.locator(f"{LENS} canvas.input").bounding_box()
        pred = page.locator(f"{LENS} .pred").bounding_box()
        assert after["x"] + after["width"] <= inp["x"] <= pred["x"]
        bottom = after["y"] + after["height"]
        assert inp["y"] < bottom and pred["y"] < bottom  # beside the pad, not under it
        # another view and back: the lens is mounted afresh and its pad keeps the 7
        page.get_by_role("radiogroup").get_by_text("Receptive field", exact=True).click()
        wait_idle(page, 60_000)
        page.get_by_role("radiogroup").get_by_text("Feature maps", exact=True).click()
        page.locator(PAD).wait_for(state="visible", timeout=60_000)
        wait_idle(page, 60_000)
        assert page.locator(PAD).evaluate(INK) > 1000
    finally:
        page.close()


def test_touch_drawing_on_a_phone(app) -> None:
    url, browser = app
    page = _open_draw(browser, url, 390, 844, touch=True)
    try:
        pad = page.locator(PAD)
        assert pad.evaluate("c => getComputedStyle(c).touchAction") == "none"
        before = pad.bounding_box()
        assert before["width"] >= 0.8 * 390  # a full-width pad for a finger
        cdp = page.context.new_cdp_session(page)

        def touch(kind: str, p=None) -> None:
            points = [] if p is None else [{"x": p[0], "y": p[1], "id": 1}]
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})
        touch("touchStart", _at(before, SEVEN[0]))
        for a, b in zip(SEVEN, SEVEN[1:], strict=False):
            for t in (0.25, 0.5, 0.75, 1.0):
                touch("touchMove", _at(before, (a[0] + (b[0] - a[0]) * t,
                                                a[1] + (b[1] - a[1]) * t)))
        during = pad.bounding_box()
        touch("touchEnd")
        assert _close(before, during), (before, during)  # the page did not scroll
        _settled(page)
        page.wait_for_timeout(500)
        assert pad.evaluate(INK) > 1000
        assert _close(before, pad.bounding_box())
        assert page.evaluate("() => window.cnnLens.prediction") == 7
    finally:
        page.close()


# ----------------------------------------------------------------------- text alternatives

MAP_LABEL = re.compile(r"^Channel (\d+) of (\w+), (\d+)x(\d+); strongest unit row (\d+), col "
                       r"(\d+), value (-?[\d.]+); unit row (\d+), col (\d+)")


def _go(app, query: str, ready: str):
    url, browser = app
    while _GONE:  # the previous test's page
        _GONE.pop().close()
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    _GONE.append(page)
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
    # relu8: Occlusion's 14x14 window in steps of 2 (64 patches, where relu5 has 324), so the
    # fourteen maps arrive sooner; the labels are made alike for every layer
    page = _go(app, "model=seed&input=sample:3&layer=relu8&view=compare",
               "document.querySelector('[data-testid=stMain]') && "
               "window.cnnSaliency && window.cnnSaliency.panel")
    # the grid is computed in this browser, each map as it arrives: wait for all fourteen
    page.wait_for_function("() => window.cnnSaliency.liveMaps && "
                           "Object.keys(window.cnnSaliency.liveMaps).length === 14",
                           timeout=120_000)
    tiles = page.locator("[data-testid=saliency-map] .grid canvas")
    labels = [tiles.nth(i).get_attribute("aria-label") for i in range(tiles.count())]
    assert len(labels) == 14  # seven methods, trained and random weights
    assert all(re.search(r"\((trained|random weights)\): (strongest for at row \d+, col \d+"
                         r"|against at|the same value everywhere|not available)", t)
               for t in labels), labels
    assert sum("strongest for at row" in t for t in labels) >= 7
