"""A lesson for seed (python -m model.lesson) opened from file:// in Chromium, every request
recorded: nothing outside its folder is asked for; every view is drawn; strokes on the pad change
the feature maps and the saliency; window.cnnLens.forward agrees with numpy's forward; the atlas,
confusion and trust numbers in the page are the server's tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model.lesson import folder_bytes, write_lesson
from tests.app.browser.chromium import require_browser, screenshot_on_failure

# one worker: the lesson is written, and opened, once for the module
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("lesson-page")]

VIEWS = ("maps", "field", "saliency", "compare", "atlas", "confusion", "trust")
TRUST_DIGITS = 4
SEVEN = [(50, 40), (190, 40), (150, 110), (110, 200)]  # pad pixels (240x240)

# Whether a canvas in the view has something drawn: more than one colour, or one that is not blank.
DRAWN = """(name) => {
  const sec = document.querySelector(`[data-testid=view-${name}]`);
  const r = sec.getBoundingClientRect();
  if (sec.hidden || r.width === 0 || r.height === 0) return "hidden";
  for (const cv of sec.querySelectorAll("canvas")) {
    if (!cv.width || !cv.height || cv.getBoundingClientRect().width === 0) continue;
    const d = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
    for (let i = 4; i < d.length; i += 4) {
      if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2] || d[i + 3] !== d[3]) return "drawn";
    }
  }
  return "blank";
}"""


@pytest.fixture(scope="module")
def lesson(tmp_path_factory) -> Path:
    require_browser()
    return write_lesson(["seed"], tmp_path_factory.mktemp("lesson") / "seed", trust_digits=TRUST_DIGITS)


@pytest.fixture(scope="module")
def opened(lesson: Path):
    from bench.server import browser
    with browser(1280, 900) as page:
        requests: list[str] = []
        errors: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((lesson / "index.html").as_uri())
        page.wait_for_function("() => window.cnnLens && window.cnnLens.prediction !== undefined",
                               timeout=30_000)
        yield page, requests, errors


def show(page, name: str) -> None:
    page.click(f".tabs button[data-view={name}]")
    page.wait_for_function(f"() => !document.querySelector('[data-testid=view-{name}]').hidden")


def test_every_view_is_drawn_and_nothing_outside_the_folder_is_asked_for(opened, lesson) -> None:
    page, requests, errors = opened
    with screenshot_on_failure(page, lambda: "lesson-views"):
        for name in VIEWS:
            show(page, name)
            if name == "compare":  # all seven methods (Occlusion takes seconds)
                page.wait_for_function("() => document.querySelectorAll("
                                       "'[data-testid=view-compare] .tile[data-done]').length === 7",
                                       timeout=120_000)
            assert page.evaluate(DRAWN, name) == "drawn", name
            other = [v for v in VIEWS if v != name]
            assert all(page.evaluate(DRAWN, v) == "hidden" for v in other)
    folder = lesson.as_uri() + "/"
    # a blob: URL is the page's own attribution worker, made from text already in the folder
    outside = [u for u in requests if not u.startswith(folder) and not u.startswith("blob:null/")]
    assert requests and not outside, outside
    assert any(u.startswith("blob:") for u in requests)  # the maps were computed off the page's thread
    assert not errors


def test_the_folder_is_within_5_mb(lesson: Path) -> None:
    assert folder_bytes(lesson) <= 5_000_000


def test_forward_agrees_with_numpy(opened) -> None:
    from model.files.checkpoint import read_network
    from model.store import load_samples, shipped_checkpoints
    from viz.network.npforward import forward
    page = opened[0]
    path = shipped_checkpoints()["seed"]
    net = read_network(path.read_bytes(), path.name)
    image = load_samples()[0][7]
    want = forward(net, image)
    got = page.evaluate("(p) => window.cnnLens.forward(p)", image.ravel().tolist())
    assert set(got) == set(want)
    for name, a in want.items():
        b = np.asarray(got[name]["data"], dtype=np.float64).reshape(np.asarray(a).shape)
        np.testing.assert_allclose(b, a, atol=1e-4, rtol=0, err_msg=name)


SUM = "(document.querySelector('[data-testid=view-saliency]').dataset.sum || '')"


def _maps_state(page) -> str:
    return page.evaluate("() => { const l = window.cnnLens.lesson.lens; "
                         "return Array.from(l.acts.get('relu3').data.slice(0, 3000)).join(','); }")


def _stroke(page, points) -> None:
    box = page.locator("canvas.lesson-pad").bounding_box()
    k = box["width"] / 240
    page.mouse.move(box["x"] + points[0][0] * k, box["y"] + points[0][1] * k)
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x * k, box["y"] + y * k, steps=8)
    page.mouse.up()


def test_a_drawing_changes_the_maps_and_the_saliency(opened) -> None:
    page = opened[0]
    with screenshot_on_failure(page, lambda: "lesson-drawing"):
        page.click(".sample[data-sample]")
        show(page, "saliency")
        page.wait_for_function(f"() => {SUM} !== ''", timeout=60_000)
        before_sal = page.evaluate(f"() => {SUM}")
        before_pred = page.evaluate("() => window.cnnLens.prediction")
        show(page, "maps")
        before_maps = _maps_state(page)
        grid = page.evaluate("() => document.querySelector('.lens canvas.grid').toDataURL()")
        _stroke(page, SEVEN)
        assert page.evaluate("() => document.querySelector('.input-what').textContent") == "Your drawing"
        assert _maps_state(page) != before_maps
        assert page.evaluate("() => document.querySelector('.lens canvas.grid').toDataURL()") != grid
        drawn = page.evaluate("() => window.cnnLens.lesson.pixels.reduce((a, b) => a + b, 0)")
        assert drawn > 0
        show(page, "saliency")
        sec = page.locator("[data-testid=view-saliency]")
        page.wait_for_function(f"() => {SUM} !== ''", timeout=60_000)
        after = page.evaluate(f"() => {SUM}")
        assert before_sal and after != before_sal
        assert page.evaluate(DRAWN, "saliency") == "drawn"
        assert not sec.locator(".note").count()
        # the worker's map is the engine's on this thread, number for number
        here = page.evaluate("() => { const s = document.querySelector('[data-testid=view-saliency]');"
                             " return window.cnnLens.attribute(s.dataset.method, window.cnnLens.lesson"
                             ".pixels, {target: +s.dataset.target, seed: 0}); }")
        assert float(after) == pytest.approx(float(np.abs(np.asarray(here, np.float32)).sum()), rel=1e-6)
        assert page.evaluate("() => window.cnnLens.prediction") in range(10)
        assert before_pred in range(10)


def test_attribute_hook_gives_a_map_for_each_method(opened) -> None:
    page = opened[0]
    for method in ("saliency", "ig", "smoothgrad", "guided", "deeplift", "gradcam", "occlusion"):
        a = page.evaluate("(m) => window.cnnLens.attribute(m, window.cnnLens.lesson.pixels, "
                          "{target: 3, seed: 0})", method)
        assert len(a) == 784 and np.isfinite(a).all() and np.abs(a).max() > 0, method


def test_the_tables_are_the_servers(opened) -> None:
    from model import trust
    from model.atlas import stored_atlas
    from model.files.checkpoint import load_checkpoint
    from model.insight.predictions import labels_and_predictions
    from model.store import shipped_checkpoints
    from viz.teaching import confusion
    page = opened[0]
    path = shipped_checkpoints()["seed"]
    model, _ = load_checkpoint(path)
    # atlas: two layers, every channel's top values and test digits
    atlas = stored_atlas(path)
    show(page, "atlas")
    for layer in ("relu5", "conv2"):
        page.select_option("[data-testid=view-atlas] select", layer)
        rows = page.eval_on_selector_all(
            "[data-testid=view-atlas] .atlas-row",
            "rs => rs.map(r => [JSON.parse(r.dataset.values), JSON.parse(r.dataset.index), +r.dataset.max])")
        la = atlas.layer(layer)
        assert len(rows) == la.channels
        for c, (values, index, top) in enumerate(rows):
            np.testing.assert_allclose(values, la.value[c], atol=1e-6)
            assert index == la.index[c].tolist()
            assert top == pytest.approx(float(la.dataset_max[c]), abs=1e-6)
    # confusion: the matrix and the per-class table
    labels, preds = labels_and_predictions(path, model)
    m = confusion.confusion(labels, preds)
    show(page, "confusion")
    sec = page.locator("[data-testid=view-confusion]")
    assert json.loads(sec.get_attribute("data-matrix")) == m.tolist()
    acc = confusion.per_class_accuracy(m)
    cells = page.eval_on_selector_all("[data-testid=view-confusion] tbody tr",
                                      "rs => rs.map(r => Array.from(r.cells, c => c.textContent))")
    assert [row[3] for row in cells] == [f"{a * 100:.2f}%" for a in acc]
    assert [int(row[2]) for row in cells] == np.diag(m).tolist()
    # trust: recomputed here on the same digits
    images, _ = trust.fixed_digits(TRUST_DIGITS)
    rows = trust.trust_table(model, images)
    show(page, "trust")
    got = page.eval_on_selector_all(
        "[data-testid=view-trust] tbody tr",
        "rs => rs.map(r => [r.dataset.method, +r.dataset.deletion, +r.dataset.insertion, r.dataset.spearman])")
    assert [g[0] for g in got] == [r.method for r in rows] + ["random"]
    for g, r in zip(got, rows):
        assert g[1] == pytest.approx(r.deletion_auc, abs=1e-6)
        assert g[2] == pytest.approx(r.insertion_auc, abs=1e-6)
        assert float(g[3]) == pytest.approx(r.randomization_spearman, abs=1e-6)
    assert trust.verdict(rows) == page.locator("[data-testid=view-trust] .verdict").inner_text()
