"""The heavy views computed in the browser (the app on ``seed`` in headless Chromium): drawing on
the Saliency view's pad changes its map, drawing on the All methods view's pad changes its grid
(Occlusion from the Web Worker too), and hovering a unit in the Receptive field view shows its
effective field, equal to the server's (``model.insight.erf``). One server, one browser."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.app.browser.chromium import open_page, page_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = 4  # the link's sample (counts from 1)
LINK = f"model=seed&sample={SAMPLE}&layer=relu5"
TOL = 1e-4  # of the server map's largest |value|


@pytest.fixture(scope="module")
def app():
    with page_app("app.py", 1280, 1000) as app:
        yield app


def _image() -> np.ndarray:
    from model.store import load_samples
    return load_samples()[0][SAMPLE - 1]


def _seed():
    from model.files.checkpoint import torch_model
    from viz.network import npforward
    return torch_model(npforward.load(ROOT / "checkpoints" / "seed.safetensors"))


def _maps(page) -> dict[str, np.ndarray]:
    got = page.evaluate("() => Object.fromEntries(Object.entries(window.cnnSaliency.liveMaps)"
                        ".map(([k, v]) => [k, v && Array.from(v)]))")
    return {k: None if v is None else np.asarray(v).reshape(28, 28) for k, v in got.items()}


def _draw(page) -> None:
    """A stroke down the middle of the pad, then one across it (a '+')."""
    box = page.locator("[data-testid=saliency-map] canvas.pad").bounding_box()
    at = lambda fx, fy: (box["x"] + fx * box["width"], box["y"] + fy * box["height"])  # noqa: E731
    for a, b in (((0.5, 0.2), (0.5, 0.8)), ((0.25, 0.5), (0.75, 0.5))):
        page.mouse.move(*at(*a))
        page.mouse.down()
        for t in np.linspace(0, 1, 8)[1:]:
            page.mouse.move(*at(a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])))
        page.mouse.up()


def test_drawing_changes_the_saliency_map(app) -> None:
    import torch

    from model import saliency
    from model.insight.activations import as_input
    page = open_page(app, f"{LINK}&view=saliency&method=saliency",
                     "window.cnnSaliency && window.cnnSaliency.liveMaps")
    before = _maps(page)["trained|saliency"]
    model = _seed()  # the page's digit first: the server's map, computed in the browser
    x = as_input(_image())
    with torch.no_grad():
        target = int(model(x)[0].argmax())
    server = saliency.attribute("saliency", model, x, target, layer="relu5", window=11, stride=1)
    assert np.abs(before - server).max() <= TOL * np.abs(server).max()
    shown = page.evaluate("() => Array.from(window.cnnSaliency.panel.pixels('raw'))")
    _draw(page)
    page.wait_for_function("() => window.cnnSaliency.live.pixels !== null")
    after = _maps(page)["trained|saliency"]
    assert np.abs(after - before).max() > 0.1 * np.abs(before).max()
    assert page.evaluate("() => Array.from(window.cnnSaliency.panel.pixels('raw'))") != shown
    assert "Your drawing" in page.locator("[data-testid=saliency-map] .live-note").inner_text()


def test_drawing_changes_the_all_methods_grid(app) -> None:
    from model.saliency import METHODS
    # relu8: Occlusion's 14x14 window in steps of 2 (64 patches, where relu5 has 324)
    page = open_page(app, f"model=seed&sample={SAMPLE}&layer=relu8&view=compare",
                     "window.cnnSaliency && window.cnnSaliency.live && "
                     "window.cnnSaliency.live.waiting.size === 0")
    before = _maps(page)
    assert set(before) == {f"{r}|{m}" for r in ("trained", "random weights") for m in METHODS}
    assert "Spearman" in page.locator("[data-testid=saliency-map] .live-note").inner_text()
    tiles = [page.evaluate("(k) => window.cnnSaliency.panel.pixels(k)", k) for k in range(14)]
    _draw(page)
    page.wait_for_function("() => window.cnnSaliency.live.pixels !== null && "
                           "window.cnnSaliency.live.waiting.size === 0", timeout=60_000)
    after = _maps(page)
    for m in METHODS:  # every map of the trained row follows the drawing, Occlusion's too
        a, b = before[f"trained|{m}"], after[f"trained|{m}"]
        assert a is not None and b is not None and not np.allclose(a, b), m
    assert [page.evaluate("(k) => window.cnnSaliency.panel.pixels(k)", k)
            for k in range(14)] != tiles


def test_hovering_a_unit_shows_its_effective_field(app) -> None:
    from model.insight.activations import as_input
    from model.insight.erf import effective_field
    page = open_page(app, f"{LINK}&view=field&unit=2,14,14",
                     "window.cnnUnitField && window.cnnUnitField.panels && "
                     "window.cnnUnitField.panels.relu5 && window.cnnUnitField.panels.relu5.shown")
    canvas = page.locator("[data-testid=unit-field] canvas.picker")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    from viz.network.layers import describe
    from viz.network.npforward import load
    from viz.teaching import fields
    row = {r.name: r for r in describe(load(ROOT / "checkpoints" / "seed.safetensors").layers)}[
        "relu5"]
    model, x = _seed(), as_input(_image())
    for y, xx in ((5, 9), (20, 3)):
        page.mouse.move(box["x"] + (xx + 0.5) * box["width"] / 28,
                        box["y"] + (y + 0.5) * box["height"] / 28)
        page.wait_for_function(f"() => window.cnnUnitField.panels.relu5.shown.key === "
                               f"'relu5,2,{y},{xx}'")
        shown = np.asarray(page.evaluate(
            "() => Array.from(window.cnnUnitField.panels.relu5.shown.erf)")).reshape(28, 28)
        server = effective_field(model, "relu5", (2, y, xx), x)
        assert np.abs(shown - server).max() <= TOL * np.abs(server).max(), (y, xx)
        unit = page.locator("[data-testid=unit-field] .unit")
        assert unit.get_attribute("data-unit") == f"relu5,2,{y},{xx}"
        region = fields.unit_region(row, y, xx)  # the server's sentence on it
        assert fields.describe(row, region, server).split(". ", 1)[1] in unit.inner_text()
