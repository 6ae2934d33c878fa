"""The in-browser lens in headless Chromium (tests/app/browser/lens_page.py under ``streamlit run``).

- every layer of the browser's forward pass matches torch (max abs 1e-4) for every shipped
  checkpoint on shipped samples;
- the hovered unit's ``data-rf`` equals the receptive-field engine's bounds for hundreds of random
  units over every layer of every zoo network;
- arrow keys, Page Up / Page Down and Enter move and pick the unit;
- for scripted drawings, the live prediction and 28x28 digit equal the server's after release;
- the browser's port of the MNIST preprocessing equals viz/inputs/preprocess.py on random drawings.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import pytest

from tests.app.browser import hover
from tests.app.browser.chromium import open_page, page_app, shared_server

# one worker runs this module and test_draw_browser.py: one lens page server, and one app
# server with the lens (test_lens_in_the_explorer and the draw tests), started once
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("lens-app")]

ROOT = Path(__file__).resolve().parents[3]


def _live(path: Path) -> bool:
    """Whether the lens runs this shipped network in the browser (within its size bound)."""
    from viz.browser.lens import size_reason, weight_text
    from viz.network.npforward import load
    net = load(path)
    return size_reason(net.arch, weight_text(net.tensors), int(net.card["macs"])) is None


CHECKPOINTS = sorted(p for p in (ROOT / "checkpoints").glob("*.safetensors") if _live(p))
ZOO = ["seed", "seed-3x3", "compact", "fast"]
LENS = "[data-testid=lens]"


@pytest.fixture(scope="module")
def app():
    with page_app("tests/app/browser/lens_page.py") as app:
        yield app


def _open(app, query: str):
    return open_page(app, query, "window.cnnLens && window.cnnLens.prediction !== undefined")


def _unit(page) -> tuple[str, list[int], list[int]]:
    el = page.locator(f"{LENS} .unit")
    name, *cyx = el.get_attribute("data-unit").split(",")
    return name, [int(v) for v in cyx], [int(v) for v in el.get_attribute("data-rf").split(",")]


def _samples() -> np.ndarray:
    with np.load(ROOT / "checkpoints" / "samples.npz") as data:
        return data["images"]


# window.cnnLens.forward on each of the given inputs, each layer's numbers as float32 bytes in
# base64 (the hook's numbers are float32s: exact), in the hook's order of layers: one evaluate,
# and no per-number serialisation of hundreds of thousands of numbers
FORWARD_B64 = """(inputs) => inputs.map((p) => {
  const b64 = (a) => { const u = new Uint8Array(a.buffer); let s = "";
    for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000));
    return btoa(s); };
  return Object.entries(window.cnnLens.forward(p))
    .map(([name, a]) => [name, a.shape, b64(Float32Array.from(a.data))]);
})"""


def _forward(page, images: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
    """The browser's forward pass of each image: {layer: array of its shape}, in its order."""
    import base64
    runs = page.evaluate(FORWARD_B64, [im.reshape(-1).tolist() for im in images])
    return [{name: np.frombuffer(base64.b64decode(data), np.float32).reshape(shape)
             for name, shape, data in run} for run in runs]


@pytest.mark.parametrize("path", CHECKPOINTS, ids=lambda p: p.stem)
def test_forward_matches_torch(app, path: Path) -> None:
    import torch

    from model.files.checkpoint import load_checkpoint
    from model.insight.activations import activations, as_input
    torch.set_num_threads(1)
    page = _open(app, f"model={path.stem}&sample=0")
    model, _ = load_checkpoint(path)
    images = _samples()
    picked = (0, 37, 101, 163, 199)
    for i, ours in zip(picked, _forward(page, [images[i] for i in picked]), strict=True):
        ref = activations(model, as_input(images[i]))
        assert list(ours) == list(ref)
        for name, want in ref.items():
            assert ours[name].shape == want.shape, name
            err = float(np.abs(ours[name] - want).max())
            assert err <= 1e-4, f"{path.stem} sample {i} layer {name}: max abs error {err}"
    # the page shows the network's prediction for its input (sample 0)
    logits = list(activations(model, as_input(images[0])).values())[-1]
    shown = int(page.locator(f"{LENS} .pred-digit").inner_text())
    assert shown == int(np.argmax(logits.reshape(-1)))


def test_the_attribution_hook_gives_the_servers_maps(app) -> None:
    """window.cnnLens.attribute(method, pixels, opts) in the app's lens: the server's maps
    (model.saliency.attribute) for a chosen target, Grad-CAM's layer and SmoothGrad's seed."""
    from model import saliency
    from model.files.checkpoint import load_checkpoint
    from model.insight.activations import as_input
    page = _open(app, "model=seed&sample=0")
    model, _ = load_checkpoint(ROOT / "checkpoints" / "seed.safetensors")
    image = _samples()[37]
    x = as_input(image)
    for method, opts in (("saliency", {"target": 2}), ("gradcam", {"target": 5, "layer": "relu3"}),
                         ("smoothgrad", {"target": 7, "seed": 4})):
        got = page.evaluate("([m, p, o]) => window.cnnLens.attribute(m, p, o)",
                            [method, image.reshape(-1).tolist(), opts])
        want = saliency.attribute(method, model, x, opts["target"], layer=opts.get("layer"),
                                  seed=opts.get("seed", 0))
        err = float(np.abs(np.reshape(got, (28, 28)) - want).max() / np.abs(want).max())
        assert err <= 1e-4, f"{method}: off the server's map by {err:.2e}"


def _engine_bounds(arch: str) -> dict:
    from model.zoo import ARCHITECTURES
    from viz.receptive_field import compute
    return {f.name: f for f in compute({"input_size": [28, 28], "layers": ARCHITECTURES[arch].layers()})}


def _hover_unit(page, canvas: str, h: int, w: int, y: int, x: int) -> None:
    box = page.locator(f"{LENS} canvas.{canvas}").bounding_box()
    page.mouse.move(box["x"] + (x + 0.5) * box["width"] / w,
                    box["y"] + (y + 0.5) * box["height"] / h)


def _want(f, y: int, x: int) -> list[int]:
    """The engine's bounds of unit (y, x) of field row f, as the lens's data-rf writes them."""
    if f.is_global:
        return [0, 27, 0, 27]
    r = f.region(y, x)
    return [r.h.start, r.h.end, r.w.start, r.w.end]


@pytest.mark.parametrize("spec", [f"untrained:{a}" for a in ZOO]
                         + ["thin:seed-original", "untrained:resnet-mini"])
def test_hovered_field_matches_engine(app, spec: str) -> None:
    """Every layer in the menu, in the engine's order; on each spatial layer its four corners
    (where padding clips the field) and 8 random units, on each 1x1 or global layer its one
    unit: the hovered unit and its field are the engine's. The units are hovered in one evaluate
    (tests/app/browser/hover.py); one unit per network with the real mouse."""
    arch = spec.split(":")[1]
    page = _open(app, f"model={spec}&sample=5")
    fields = _engine_bounds(arch)
    rng = random.Random(arch)
    names = page.locator(f"{LENS} select.layer option").evaluate_all("os => os.map(o => o.value)")
    assert names == list(fields)
    plan = []
    for name, f in fields.items():
        size = f.output_size
        if f.is_global or size is None or size == (1, 1):
            plan.append([name, 1, 1, [[0, 0]]])
        else:
            plan.append([name, *size, [list(p) for p in hover.picks(rng, *size, 8)]])
    seen = page.evaluate(hover.LENS_HOVER, plan)
    assert len(seen) == sum(len(p[3]) for p in plan)
    spatial = {p[0]: p[1:3] for p in plan if p[1:3] != [1, 1]}
    for name, y, x, unit, rf in seen:
        got_name, (_c, gy, gx), got_rf = hover.parse(unit, rf)
        if name in spatial:
            assert (got_name, gy, gx) == (name, y, x)
        assert got_name == name
        assert got_rf == _want(fields[name], y, x), f"{spec} {name} ({y}, {x})"
    assert len(seen) >= 60
    # the real pointer: the deepest spatial layer chosen in the menu, its last unit hovered
    name = list(spatial)[-1]
    (h, w), f = spatial[name], fields[name]
    page.locator(f"{LENS} select.layer").select_option(name)
    _hover_unit(page, "focus", h, w, h - 1, w - 2)
    got_name, (_c, gy, gx), rf = _unit(page)
    assert (got_name, gy, gx) == (name, h - 1, w - 2)
    assert rf == _want(f, h - 1, w - 2), f"{spec} {name} by mouse"


def test_a_join_is_drawn_and_says_what_feeds_it(app) -> None:
    """resnet-mini's projection add: its 32 maps drawn like any layer's, its branches named, its
    numbers those of torch."""
    import torch

    from model.insight.activations import activations, as_input
    from model.zoo import build
    page = _open(app, "model=untrained:resnet-mini&sample=3&layer=res2_add")
    option = page.locator(f"{LENS} select.layer option[value=res2_add]").inner_text()
    assert "res2_add · 32x14x14 ← res2_bn2 + res2_projbn" in option
    head = page.locator(f"{LENS} .grid-head").inner_text()
    assert head.startswith("res2_add: all 32 feature maps (14x14)")
    assert "receptive field r = 13x13, effective stride S = 2, padding P = 6" in head
    assert "adds res2_bn2 + res2_projbn (its field: the largest of theirs, aligned)" in head
    grid = page.locator(f"{LENS} canvas.grid").bounding_box()
    assert grid["width"] > 200 and grid["height"] > 100
    page.locator(f"{LENS} select.layer").select_option("res2_proj")
    assert "reads res1_relu2" in page.locator(f"{LENS} .grid-head").inner_text()
    torch.manual_seed(0)  # the page's untrained network (tests/app/browser/lens_page.py)
    model = build("resnet-mini").eval()
    image = _samples()[3]
    ours = page.evaluate("p => window.cnnLens.forward(p)", image.reshape(-1).tolist())
    for name, want in activations(model, as_input(image)).items():
        got = np.asarray(ours[name]["data"], dtype=np.float32).reshape(want.shape)
        assert float(np.abs(got - want).max()) <= 1e-4, name


def test_keyboard_moves_and_picks(app) -> None:
    page = _open(app, "model=seed&sample=3&layer=conv3")
    name, (c, y, x), _ = _unit(page)
    assert name == "conv3"
    page.locator(f"{LENS} canvas.focus").focus()
    page.keyboard.press("Home")
    assert _unit(page)[1] == [c, 0, 0]
    page.keyboard.press("ArrowUp")  # stays inside the map
    page.keyboard.press("ArrowLeft")
    assert _unit(page)[1] == [c, 0, 0]
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    assert _unit(page)[1] == [c, 1, 3]
    assert _unit(page)[2] == [1 * 1 - 3, 1 * 1 - 3 + 6, 3 - 3, 3 - 3 + 6]  # conv3: r 7, S 1, P 3
    page.keyboard.press("End")
    assert _unit(page)[1] == [c, 27, 27]
    page.keyboard.press("PageDown")
    want_c = min(c + 1, 11)
    assert _unit(page)[1] == [want_c, 27, 27]
    page.keyboard.press("Enter")
    page.get_by_text(f"server unit: conv3,{want_c},27,27").wait_for(timeout=30_000)


def _stroke(page, points: list[tuple[float, float]]) -> None:
    pad = page.locator(f"{LENS} canvas.pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    k = box["width"] / 240

    def at(p):
        return box["x"] + p[0] * k, box["y"] + p[1] * k
    page.mouse.move(*at(points[0]))
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*at(p), steps=3)
    page.mouse.up()


DRAWINGS = {
    "one": [[(120, 30), (122, 120), (124, 210)]],
    "seven": [[(50, 40), (190, 40), (150, 110), (110, 200)]],
    "zero": [[(120, 30), (60, 70), (55, 150), (120, 210), (180, 150), (175, 70), (120, 30)]],
    "four": [[(90, 30), (60, 130), (180, 130)], [(150, 40), (150, 215)]],
    "tall-thin": [[(118, 10), (121, 230)]],
}


@pytest.mark.parametrize("name", list(DRAWINGS))
def test_live_prediction_equals_server(app, name: str) -> None:
    page = _open(app, "model=seed&sample=1&draw=1")
    page.locator(f"{LENS} canvas.pad").wait_for(state="visible")
    for stroke in DRAWINGS[name]:
        _stroke(page, stroke)
    live = page.evaluate("() => window.cnnLens.prediction")
    want = f"server drawing: prediction {live}, live {live}, same digit True"
    try:  # the server's answer to the last release (earlier strokes answered before it)
        page.get_by_text(want).wait_for(timeout=30_000)
    except Exception:  # noqa: BLE001 - say what the server said instead
        said = page.get_by_text("server drawing").all_inner_texts()
        pytest.fail(f"{name}: live prediction {live}, server said {said}")


def test_preprocessing_port_matches_server(app) -> None:
    """40 random drawings, sent in one evaluate (as strings of 0s and 1s: the drawings' only
    values) to window.cnnLens.toMnist: each 28x28 digit equals viz.inputs.preprocess's."""
    from viz.inputs import preprocess
    page = _open(app, "model=compact&sample=0")
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:120, 0:96]
    grays = []
    for _ in range(40):
        ink = np.zeros((120, 96), bool)
        for _ in range(rng.integers(1, 4)):
            a, b = rng.uniform(5, 90, 2), rng.uniform(5, 90, 2)
            radius = rng.uniform(2, 7)
            for t in np.linspace(0, 1, 40):
                cx, cy = a + (b - a) * t
                ink |= (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy * 1.2) ** 2 <= radius ** 2
        grays.append(np.where(ink, 0.0, 1.0))
    got = page.evaluate("""(grays) => grays.map((g) => {
        const d = window.cnnLens.toMnist(Array.from(g, Number), 96, 120);
        return d && d.join(","); })""",
                        ["".join("01"[int(v)] for v in g.reshape(-1)) for g in grays])
    assert len(got) == len(grays)
    for gray, digit in zip(grays, got, strict=True):
        assert digit is not None
        ours = np.asarray(digit.split(","), dtype=np.int64).reshape(28, 28)
        np.testing.assert_array_equal(ours, preprocess.to_mnist(gray))


def test_png_export(app) -> None:
    page = _open(app, "model=seed&sample=2&large=1")
    with page.expect_download() as info:
        page.locator(f"{LENS} button.export").click()
    assert info.value.suggested_filename.startswith("cnn-lens-seed-")


def test_lens_in_the_explorer(app) -> None:
    """The app with the lens as its Feature maps view: a layer chosen in the lens becomes the
    page's layer, a picked unit gets its effective field from the server, and a drawing becomes
    the page's input with the same prediction."""
    page = app[1]  # the module's page
    url = shared_server("app.py", {"CNN_LENS_LENS": "1"})  # the draw tests' server too
    page.goto(url)
    page.wait_for_function("() => window.cnnLens && window.cnnLens.prediction !== undefined",
                           timeout=90_000)
    page.locator(f"{LENS} select.layer").select_option("relu3")
    page.wait_for_function(  # the page's layer follows (its link names it)
        "() => window.location.search.includes('layer=relu3')", timeout=30_000)
    page.locator(f"{LENS} canvas.focus").focus()
    page.keyboard.press("Home")
    page.keyboard.press("Enter")
    page.get_by_text("Picked: channel").wait_for(timeout=90_000)
    page.locator("[data-testid=unit-field] .unit[data-unit$=',0,0']",
                 has_text="Picked unit").wait_for(timeout=90_000)
    assert page.locator("[data-testid=unit-field] .unit").get_attribute(
        "data-unit").startswith("relu3,")
    page.locator(f"{LENS} button.draw-toggle").click()
    for stroke in DRAWINGS["seven"]:
        _stroke(page, stroke)
    live = page.evaluate("() => window.cnnLens.prediction")
    try:
        page.get_by_text("Input: your drawing").wait_for(timeout=60_000)
    except Exception:
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        page.screenshot(path=str(ROOT / "test-artifacts" / "lens_explorer.png"),
                        full_page=True)
        raise
    # Draw mode: one prediction, the lens's, beside the pad (no header above it); the lens
    # of the page before may linger a moment while Streamlit swaps the elements
    deadline = time.monotonic() + 30
    while page.locator(f"{LENS} .pred-digit").count() != 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert page.locator(f"{LENS} .pred-digit").inner_text() == str(live)
