"""A dense-only network (flatten, linear, ReLU, linear: the course's MLP before any CNN) in
every explorer view: it opens without an exception, and the views say in words that every unit
of its first dense layer sees the whole image.

The network is untrained (a fixed seed), saved with ``model.files.checkpoint.save_checkpoint``
and handed to the app as the model uploader hands a file over (``model.upload``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.test_app import fresh, ok, texts

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
    app.selectbox(key="layer.name").select("fc1").run()
    for method in METHODS:
        app.radio(key="sal.method").set_value(method).run()
        ok(app)
        assert not app.error, (method, [e.value for e in app.error])
        if method == "gradcam":  # no feature maps anywhere: said, not an error
            assert "Grad-CAM needs a layer with feature maps; fc1 has none, nor has any" \
                in texts(app) and DENSE in texts(app)
        else:
            assert f"**{METHODS[method].label} for class" in texts(app), method
    app.radio(key="sal.method").set_value("saliency").run()


def test_trust_leaves_grad_cam_out_of_a_dense_only_network() -> None:
    import numpy as np
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
