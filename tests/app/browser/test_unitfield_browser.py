"""The unit-field panel in headless Chromium (tests/app/browser/unitfield_page.py under ``streamlit run``).

- the hovered unit's ``data-unit`` and ``data-rf`` equal the receptive-field engine's bounds for
  random units over every layer of every zoo network (valid convs included);
- arrow keys move the unit and Enter sends it to Python, which answers with it;
- the pictures blend the input and the overlays exactly as the server's PNG pictures do.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from tests.app.browser import hover
from tests.app.browser.chromium import open_page, page_app

# one worker runs this module: the unit-field page's server started once
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("unitfield-page")]

ROOT = Path(__file__).resolve().parents[3]
ZOO = ["seed", "seed-3x3", "compact", "fast"]


@pytest.fixture(scope="module")
def app():
    with page_app("tests/app/browser/unitfield_page.py") as app:
        yield app


def _open(app, query: str):
    return open_page(app, query, "window.cnnUnitField && window.cnnUnitField.panels")


def _panel(name: str) -> str:
    return f".st-key-uf-{name} [data-testid=unit-field]"


def _unit(page, name: str) -> tuple[str, list[int], list[int]]:
    el = page.locator(f"{_panel(name)} .unit")
    layer, *cyx = el.get_attribute("data-unit").split(",")
    return layer, [int(v) for v in cyx], [int(v) for v in el.get_attribute("data-rf").split(",")]


def _engine(arch: str) -> dict:
    from model.architectures import get
    from viz.receptive_field import compute
    return {f.name: f for f in compute({"input_size": [28, 28], "layers": get(arch).layers()})}


def _bounds(f, y: int, x: int) -> list[int]:
    r = f.region(y, x)
    return [r.h.start, r.h.end, r.w.start, r.w.end]


@pytest.mark.parametrize("arch", ZOO)
def test_hovered_field_matches_engine(app, arch: str) -> None:
    """Every layer's panel: on each picker its four corners (where padding clips the field) and
    6 random units, hovered, then the pointer leaves (the picked unit (0, 0) shows again); a
    panel without a picker shows unit (0, 0, 0). The units are hovered in one evaluate
    (tests/app/browser/hover.py); one unit per network with the real mouse."""
    page = _open(app, f"arch={arch}&sample=5")
    fields = _engine(arch)
    rng = random.Random(arch)
    # the page's panels mount one by one: wait for all of them
    page.wait_for_function("(names) => names.every((n) => window.cnnUnitField.panels[n])",
                           arg=list(fields), timeout=60_000)
    plan = []
    for name, f in fields.items():
        size = f.output_size
        if f.is_global or size is None or size == (1, 1):
            plan.append([name, 0, 0, []])
        else:
            plan.append([name, *size, [list(p) for p in hover.picks(rng, *size, 6)]])
    seen = page.evaluate(hover.UNITFIELD_HOVER, plan)
    assert len(seen) == sum(len(p[3]) + 1 for p in plan)
    for name, y, x, unit, rf in seen:
        f = fields[name]
        layer, (_c, gy, gx), got = hover.parse(unit, rf)
        assert layer == name
        if y < 0:  # at rest: unit (0, 0, 0), the picked one
            assert (_c, gy, gx) == (0, 0, 0), name
            assert got == ([0, 27, 0, 27] if f.is_global else _bounds(f, 0, 0)), name
        else:
            assert (gy, gx) == (y, x)
            assert got == _bounds(f, y, x), f"{arch} {name} ({y}, {x})"
    assert sum(y >= 0 for _, y, *_ in seen) >= 40
    # the real pointer: the deepest layer with a picker, a unit hovered, then left
    name, h, w, _ = [p for p in plan if p[3]][-1]
    canvas = page.locator(f"{_panel(name)} canvas.picker")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + (w - 2 + 0.5) * box["width"] / w,
                    box["y"] + (h - 1 + 0.5) * box["height"] / h)
    layer, (_c, gy, gx), rf = _unit(page, name)
    assert (layer, gy, gx) == (name, h - 1, w - 2)
    assert rf == _bounds(fields[name], h - 1, w - 2), f"{arch} {name} by mouse"
    page.mouse.move(0, 0)  # leave: the panel shows its picked unit again
    assert _unit(page, name)[1] == [0, 0, 0]


def test_keyboard_moves_and_picks(app) -> None:
    page = _open(app, "arch=seed&sample=3")
    canvas = page.locator(f"{_panel('conv3')} canvas.picker")
    canvas.scroll_into_view_if_needed()
    canvas.focus()
    for key in ["ArrowRight"] * 3 + ["ArrowDown"] * 2 + ["ArrowLeft"]:
        page.keyboard.press(key)
    name, cyx, rf = _unit(page, "conv3")
    assert (name, cyx) == ("conv3", [0, 2, 2])
    assert rf == _bounds(_engine("seed")["conv3"], 2, 2)
    page.keyboard.press("Home")
    assert _unit(page, "conv3")[1] == [0, 0, 0]
    page.keyboard.press("End")
    assert _unit(page, "conv3")[1] == [0, 27, 27]
    page.keyboard.press("Enter")  # picks: the server hears it and answers with that unit
    page.get_by_text("server unit: conv3,0,27,27").wait_for(timeout=30_000)
    page.locator(f"{_panel('conv3')} .unit", has_text="Picked unit").wait_for(timeout=30_000)
    assert _unit(page, "conv3")[1] == [0, 27, 27]


def test_pictures_blend_as_the_server_does(app) -> None:
    from viz.pictures.raster import input_rgb
    page = _open(app, "arch=seed&sample=3")
    # the page's panels mount one by one: wait for this one (the first is all _open waits for)
    page.wait_for_function("() => window.cnnUnitField.panels.relu5", timeout=30_000)
    with np.load(ROOT / "checkpoints" / "samples.npz") as data:
        image = data["images"][3]
    for kind, levels, signed in (("theo", None, False), ("erf", "erf", False),
                                 ("attr", "attr", True)):
        got = np.asarray(page.evaluate(f"() => window.cnnUnitField.panels.relu5.tile('{kind}')"),
                         dtype=np.float64).reshape(28, 28, 4)
        lv = None
        if levels:
            lv = np.asarray(page.evaluate(f"() => window.cnnUnitField.panels.relu5.d.{levels}"),
                            dtype=np.float64).reshape(28, 28) / 1000
        want = input_rgb(image, lv, signed)
        # within rounding: the canvas stores whole levels and its colour table whole numbers
        assert float(np.abs(got[..., :3] - want).max()) <= 1.5, kind
        assert (got[..., 3] == 255).all()
    # the blend is visible: the overlays change most pixels
    erf = np.asarray(page.evaluate("() => window.cnnUnitField.panels.relu5.tile('erf')"))
    theo = np.asarray(page.evaluate("() => window.cnnUnitField.panels.relu5.tile('theo')"))
    assert (erf != theo).mean() > 0.5
