"""The saliency panel in headless Chromium (tests/app/browser/saliency_page.py under ``streamlit run``):
its colours, scale and readout are the server's numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.app.browser.chromium import open_page, page_app
from tests.app.browser.saliency_page import saliency_map

# one worker: the saliency page's server starts once for the module
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("saliency-page")]

ROOT = Path(__file__).resolve().parents[3]
PANEL = "[data-testid=saliency-map]"


@pytest.fixture(scope="module")
def app():
    with page_app("tests/app/browser/saliency_page.py") as app:
        yield app


def _open(app, query: str):
    return open_page(app, query, "window.cnnSaliency && window.cnnSaliency.panel")


@pytest.fixture
def page(app):
    return _open(app, "sample=3")


def _pixels(page, kind: str | int) -> np.ndarray:
    return np.asarray(page.evaluate("k => window.cnnSaliency.panel.pixels(k)", kind),
                      dtype=np.float64).reshape(28, 28, 4)


def _expected_over(image: np.ndarray, attr: np.ndarray, lim: float, opacity: float):
    from viz.browser.saliencypanel import OVERLAY_STOPS
    stops = np.asarray(OVERLAY_STOPS)
    t = np.clip((attr / lim + 1) / 2, 0, 1)
    rgba = np.stack([np.interp(t, stops[:, 0], stops[:, k]) for k in range(1, 5)], axis=-1)
    paper = (255 - 0.5 * image.astype(np.float64))[..., None]
    a = rgba[..., 3:] * opacity
    return paper * (1 - a) + rgba[..., :3] * a


def test_colours_scale_and_readout(page) -> None:
    from viz.pictures.figures import symmetric_limit
    from viz.pictures.raster import RDBU_R, colourise
    with np.load(ROOT / "checkpoints" / "samples.npz") as data:
        image = data["images"][3]
    attr = saliency_map(3)
    lim = symmetric_limit(attr)
    shown = float(page.locator(f"{PANEL} .hi").inner_text())
    assert shown == pytest.approx(lim, rel=5e-3)  # the scale's end, 3 significant digits
    # what the browser holds: the server's map and limit to 4 significant digits
    sent = np.asarray(page.evaluate("() => window.cnnSaliency.panel.d.attr")).reshape(28, 28)
    sent_lim = page.evaluate("() => window.cnnSaliency.panel.d.lim")
    assert np.allclose(sent, attr, rtol=5e-4, atol=0) and sent_lim == pytest.approx(lim, rel=5e-4)
    attr, lim = sent, sent_lim
    # the map alone: the server's diverging colours, clipped at +-lim (within canvas rounding)
    raw = _pixels(page, "raw")
    assert np.abs(raw[..., :3] - colourise(attr, RDBU_R, -lim, lim)).max() <= 1.5
    # over the input at the default opacity, then at another one set in the browser
    assert np.abs(_pixels(page, "over")[..., :3] - _expected_over(image, attr, lim, 0.65)).max() \
        <= 1.5
    page.locator(f"{PANEL} input.opacity").fill("0.3")
    assert page.locator(f"{PANEL} .opacity-value").inner_text() == "0.30"
    assert np.abs(_pixels(page, "over")[..., :3] - _expected_over(image, attr, lim, 0.3)).max() \
        <= 1.5
    # the value under the pointer is the map's
    box = page.locator(f"{PANEL} canvas.raw").bounding_box()
    attr = saliency_map(3)
    lim = symmetric_limit(attr)
    for y, x in ((5, 7), (14, 14), (0, 0), (27, 27)):
        page.mouse.move(box["x"] + (x + 0.5) * box["width"] / 28,
                        box["y"] + (y + 0.5) * box["height"] / 28)
        readout = page.locator(f"{PANEL} .readout[data-pixel='{y},{x}']")
        readout.wait_for(timeout=5_000)
        text = readout.inner_text()
        assert f"pixel {image[y, x]}," in text
        value = float(text.split("value ")[1].split(" ")[0])
        assert value == pytest.approx(attr[y, x], rel=5e-3)
        assert ("beyond the scale" in text) == (abs(attr[y, x]) > lim)


def test_grid_colours_and_readout(app) -> None:
    from viz.browser.saliencypanel import share_of_max
    from viz.pictures.raster import RDBU_R, colourise
    page = _open(app, "sample=3&grid=1")
    maps = [saliency_map(3), -saliency_map(4), np.zeros((28, 28)),
            saliency_map(5), saliency_map(6), np.zeros((28, 28))]
    for k, a in enumerate(maps):
        got = _pixels(page, k)
        want = colourise(np.rint(share_of_max(a) * 1000) / 1000, RDBU_R, -1, 1)
        assert np.abs(got[..., :3] - want).max() <= 1.5, k
    assert page.locator(f"{PANEL} .grid .na").count() == 2  # method C: blank, and says so
    heads = page.locator(f"{PANEL} .grid .head").all_inner_texts()
    assert heads == ["A", "B", "C"]
    tile = page.locator(f"{PANEL} .grid canvas").nth(1).bounding_box()  # B, trained
    page.mouse.move(tile["x"] + 9.5 * tile["width"] / 28, tile["y"] + 4.5 * tile["height"] / 28)
    readout = page.locator(f"{PANEL} .readout[data-pixel='4,9']")
    readout.wait_for(timeout=5_000)
    share = float(readout.inner_text().split(": ")[1].split(", ")[1].split(" ")[0])
    assert share == pytest.approx(share_of_max(maps[1])[4, 9], abs=0.0051)
