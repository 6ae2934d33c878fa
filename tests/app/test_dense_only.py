"""A dense-only network (flatten, linear, ReLU, linear: the course's MLP before any CNN) in
every explorer view: it opens without an exception, and the views say in words that every unit
of its first dense layer sees the whole image.

The network is untrained (a fixed seed), saved with ``model.files.checkpoint.save_checkpoint``
as a training run's final checkpoint, which the model selector lists. In Chromium (marked
``browser``): the lens runs the zoo's ``mlp`` (untrained) as torch does, every unit of every layer
reports the whole image as its field, and the lens says so in words.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.app.browser.chromium import open_page, page_app
from tests.app.test_app import fresh, ok, texts

ROOT = Path(__file__).resolve().parents[2]

MLP = [{"name": "flatten", "type": "flatten"},
       {"name": "fc1", "type": "linear", "in": 784, "out": 32, "bias": True},
       {"name": "relu1", "type": "relu"},
       {"name": "drop1", "type": "dropout", "p": 0.2},
       {"name": "fc2", "type": "linear", "in": 32, "out": 10, "bias": True}]
WHOLE = "sees the whole image"


def save_mlp(runs: Path) -> Path:
    """An untrained MLP saved as a training run's final checkpoint in ``runs``."""
    import torch

    from model.files.checkpoint import save_checkpoint
    from model.zoo import build_from_config
    torch.manual_seed(0)
    model = build_from_config("mlp-untrained", MLP).eval()
    return save_checkpoint(model, {"note": "untrained"}, runs / "mlp-untrained" / "final")


def open_mlp(runs: Path, lens: bool = False) -> AppTest:
    """The app showing the untrained MLP (a run in ``runs``, as the model selector lists it)."""
    from model.store import ModelRef
    path = save_mlp(runs)
    at = fresh(lens)
    at.selectbox(key="model.choice").select(ModelRef.checkpoint(path)).run()
    ok(at)
    assert "mlp-untrained" in texts(at) and not at.error, [e.value for e in at.error]
    return at


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> AppTest:
    runs = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CNN_LENS_RUNS_DIR", str(runs))
        yield open_mlp(runs)


VIEW_TITLES = ("Feature maps", "Receptive field", "Saliency", "All methods", "Atlas",
               "Confusion", "Trust")
# what each view says about the network (on every layer), besides opening without an error
SAYS = {"Feature maps": "fc1 outputs 32 numbers",
        "Receptive field": "there is no receptive field to grow",
        "All methods": "Grad-CAM left blank",
        "Atlas": "The atlas shows what excites each channel"}
DENSE = ("This network has no feature maps: it flattens the 28x28 image into 784 numbers first, "
         "so every unit of its first dense layer (fc1) sees the whole image")


@pytest.mark.parametrize("view", VIEW_TITLES)
def test_every_view_opens_on_a_dense_only_network(app: AppTest, view: str) -> None:
    app.session_state["view"] = view
    app.run()
    ok(app)
    if view == "Saliency":  # the default method reads no layer: pick one that does
        app.radio(key="sal.method").set_value("gradcam").run()
    if view in ("Confusion", "Trust"):  # whole-network views: no layer picker
        assert not app.error, [e.value for e in app.error]
        return
    names = [r["name"] for r in MLP]
    assert len(app.selectbox(key="layer.name").options) == len(names)
    for name in names:
        app.selectbox(key="layer.name").select(name).run()
        assert app.selectbox(key="layer.name").value == name
        ok(app)
        assert not app.error, (view, name, [e.value for e in app.error])
        if view in SAYS and (view != "Feature maps" or name == "fc1"):
            assert SAYS[view] in texts(app) and DENSE in texts(app), (view, name)
        if view == "Receptive field":
            assert f"This {name} unit sees the whole 28x28 image" in texts(app)


def test_saliency_methods_on_a_dense_only_network(app: AppTest) -> None:
    from model.saliency import METHODS
    app.session_state["view"] = "Saliency"
    app.run()
    for method in METHODS:
        app.radio(key="sal.method").set_value(method).run()
        # a method that reads a layer shows the picker; the others read none
        shown = [s for s in app.selectbox if s.key == "layer.name"]
        assert bool(shown) == METHODS[method].uses_layer, method
        if shown:
            app.selectbox(key="layer.name").select("fc1").run()
        ok(app)
        assert not app.error, (method, [e.value for e in app.error])
        if method == "gradcam":  # no feature maps anywhere: said, not an error
            assert "Grad-CAM needs a layer with feature maps; fc1 has none, nor has any" \
                in texts(app) and DENSE in texts(app)
        else:
            assert f"**{METHODS[method].label} for class" in texts(app), method
    app.radio(key="sal.method").set_value("saliency").run()


def test_trust_leaves_grad_cam_out_of_a_dense_only_network() -> None:
    import torch

    from model import trust
    from model.zoo import build_from_config
    torch.manual_seed(0)
    model = build_from_config("mlp-untrained", MLP).eval()
    assert trust.gradcam_layer(model) is None
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    rows = trust.trust_table(model, images, methods=("saliency", "gradcam", "guided"))
    assert [r.method for r in rows] == ["saliency", "guided"]
    # a tanh network: Grad-CAM on its last tanh with a map (not only on ReLUs)
    from model.zoo import ARCHITECTURES, build
    if "lenet5" in ARCHITECTURES:
        assert trust.gradcam_layer(build("lenet5")) == "tanh2"


# ---------------------------------------------------------------- the lens, in Chromium

LENS = "[data-testid=lens]"
SPEC = "untrained:mlp"  # the zoo's mlp, seeded random weights


@pytest.fixture(scope="module")
def page():  # the lens page in Chromium (tests/app/browser/lens_page.py)
    from model.zoo import ARCHITECTURES
    if "mlp" not in ARCHITECTURES:
        pytest.skip("the zoo has no mlp architecture")
    assert ARCHITECTURES["mlp"].layers()[0]["type"] == "flatten"
    errors: list[str] = []
    with page_app("tests/app/browser/lens_page.py") as app:
        app[1].on("pageerror", lambda exc: errors.append(str(exc)))
        yield open_page(app, f"model={SPEC}&sample=4",
                        "window.cnnLens && window.cnnLens.prediction !== undefined"), errors


@pytest.mark.browser
def test_the_lens_runs_a_dense_only_network_as_torch_does(page) -> None:
    import torch

    from model.insight.activations import activations, as_input
    from model.zoo import ARCHITECTURES, build_from_config
    page, errors = page
    torch.manual_seed(0)  # as lens_page.py builds untrained:ARCH
    model = build_from_config("mlp", ARCHITECTURES["mlp"].layers()).eval()
    with np.load(ROOT / "checkpoints" / "samples.npz") as data:
        image = data["images"][4]
    ours = page.evaluate("p => window.cnnLens.forward(p)", image.reshape(-1).tolist())
    ref = activations(model, as_input(image))
    assert list(ours) == list(ref)
    for name, want in ref.items():
        got = np.asarray(ours[name]["data"], dtype=np.float32).reshape(want.shape)
        assert float(np.abs(got - want).max()) <= 1e-4, name
    assert not errors, errors


@pytest.mark.browser
def test_every_unit_of_a_dense_only_network_sees_the_whole_image(page) -> None:
    page, errors = page
    names = page.locator(f"{LENS} select.layer option").evaluate_all("os => os.map(o => o.value)")
    assert names[0] == "flatten" and len(names) >= 3
    for name in names:
        page.locator(f"{LENS} select.layer").select_option(name)
        box = page.locator(f"{LENS} canvas.focus").bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        el = page.locator(f"{LENS} .unit")
        assert el.get_attribute("data-unit").split(",")[0] == name
        assert el.get_attribute("data-rf") == "0,27,0,27", name  # the whole 28x28 image
        caption = page.locator(f"{LENS}").inner_text()
        assert "this network has no maps: it flattens the image first" in caption, name
        assert "sees the whole image" in caption
    assert not errors, errors
