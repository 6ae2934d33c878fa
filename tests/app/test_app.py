"""The explorer under Streamlit's AppTest: every view and widget, and a bad-input suite.

Uploads and drawings cannot be made through AppTest, so the tests put the bytes where the
uploader and canvas callbacks put them (``in.upload``, ``model.upload``, ``in.drawing``).
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from model.store import ModelRef

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


def fresh(lens: bool = False) -> AppTest:
    """The app after its first run. The Feature maps view is drawn by the server (the lens's
    fallback, whose widgets these tests drive) unless ``lens``; the lens itself is tested in
    test_lens_view.py (mounting) and test_lens_browser.py (in Chromium)."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["lens.on"] = lens
    at.run()
    assert not at.exception, at.exception
    return at


def ok(at: AppTest) -> None:
    """No traceback, no unexpected error box."""
    assert not at.exception, [e.value for e in at.exception]


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [i.value for i in at.info] + [w.value for w in at.warning]
    parts += [s.value for s in at.success]
    return "\n".join(str(p) for p in parts)


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def app() -> AppTest:
    return fresh()


def test_opens_on_default_model_and_sample(app: AppTest) -> None:
    ok(app)
    assert app.selectbox(key="model.choice").value.kind == "checkpoint"
    assert "Input: sample 1 of 200 (label 0)" in texts(app)
    assert "feature maps" in texts(app)
    assert app.selectbox(key="layer.name").value == "relu5"
    assert not app.error


def test_the_layer_menu_says_each_layers_place_in_words(app: AppTest) -> None:
    options = app.selectbox(key="layer.name").options
    assert options[18] == "relu5  ·  16x28x28  ·  layer 19 of 42"  # not "19. relu5"
    assert options[0].startswith("conv1  ·  8x28x28  ·  layer 1 of 42")


def test_feature_map_widgets(app: AppTest) -> None:
    app.selectbox(key="layer.name").select("conv2").run()
    ok(app)
    assert "of conv2 (10 channels, 28x28)" in texts(app)
    app.selectbox(key="fm.cmap").select("viridis").run()
    ok(app)
    app.radio(key="fm.scale").set_value("shared").run()
    ok(app)
    assert "one shared scale" in texts(app)
    app.toggle(key="fm.filters").set_value(True).run()
    ok(app)
    assert "3x3 filters of conv2" in texts(app)
    app.selectbox(key="layer.name").select("flatten").run()
    ok(app)
    assert "outputs 10 numbers" in texts(app)
    app.selectbox(key="layer.name").select("relu5").run()


def test_sample_picker(app: AppTest) -> None:
    app.selectbox(key="in.digit").select(7).run()
    ok(app)
    assert "(label 7)" in texts(app)
    app.slider(key="in.sample.7").set_value(3).run()
    ok(app)
    app.selectbox(key="in.digit").select("any").run()


def test_receptive_field_view_and_unit(app: AppTest) -> None:
    app.session_state["view"] = "Receptive field"
    app.run()
    ok(app)
    t = texts(app)
    import re
    m = re.search(r"Unit \(channel (\d+), row (\d+), col (\d+)\) of relu5", t)
    assert m, t
    assert "This unit can only see 11x11 pixels" in t
    # seed runs in the browser: the effective field and its sentence are drawn there
    # (test_live_browser.py), the server computes neither
    assert "Half of its sensitivity" not in t and "live.sent" in app.session_state
    app.session_state["rf.unit"] = {"layer": "relu5", "c": 0, "y": 0, "x": 0}
    app.run()
    ok(app)
    t = texts(app)
    assert "row 0, col 0" in t and "zero padding" in t
    app.selectbox(key="rf.channel.relu5").select(3).run()
    ok(app)
    assert "Unit (channel 3, row 0, col 0)" in texts(app)
    # a unit outside the map (as a hostile browser could send it): the nearest one inside
    app.session_state["rf.unit"] = {"layer": "relu5", "c": 3, "y": -4, "x": 99}
    app.run()
    ok(app)
    assert "Unit (channel 3, row 0, col 27) of relu5" in texts(app)
    app.selectbox(key="layer.name").select("flatten").run()
    ok(app)
    assert "whole 28x28 image" in texts(app)
    app.selectbox(key="layer.name").select("relu5").run()


def test_overflowing_unit_says_so(monkeypatch) -> None:
    """A network whose numbers overflow (NaN in the unit's effective field): the panel says what
    went wrong, on the first run and on the fragment's own reruns, and the page keeps working.
    (The server's path: seed runs in the browser, so the test takes it as a bigger network.)"""
    import ui.views.field
    monkeypatch.setattr(ui.views.field.livenet, "runs_in_browser", lambda key: False)
    monkeypatch.setattr(ui.views.field, "unit_maps", lambda *a, **k: (np.full((28, 28), np.nan),
                                                                    np.zeros((28, 28))))
    at = fresh()
    at.session_state["view"] = "Receptive field"
    at.run()
    ok(at)
    assert "NaN or infinite" in " ".join(e.value for e in at.error)
    at.selectbox(key="rf.channel.relu5").select(2).run()  # the fragment reruns alone
    ok(at)
    assert "NaN or infinite" in " ".join(e.value for e in at.error)
    assert "Prediction" in texts(at)


@pytest.mark.parametrize("method", ["saliency", "ig", "smoothgrad", "guided", "deeplift",
                                    "occlusion", "gradcam"])
def test_saliency_methods(app: AppTest, method: str) -> None:
    app.session_state["view"] = "Saliency"
    app.run()
    app.radio(key="sal.method").set_value(method).run()
    ok(app)
    assert "for class" in texts(app)
    assert not app.error, [e.value for e in app.error]


def test_saliency_target_and_occlusion_defaults(app: AppTest) -> None:
    app.session_state["view"] = "Saliency"
    app.run()  # the view's widgets, whichever test ran before in this process
    app.radio(key="sal.method").set_value("occlusion").run()
    assert app.number_input(key="sal.window.relu5").value == 11  # r of relu5
    assert app.number_input(key="sal.stride.relu5").value == 1  # S of relu5
    app.selectbox(key="sal.target").select(3).run()
    ok(app)
    assert "for class 3" in texts(app)
    app.radio(key="sal.method").set_value("gradcam").run()
    app.selectbox(key="layer.name").select("relu8").run()
    ok(app)
    assert "2x2 blocks" in texts(app)
    app.selectbox(key="layer.name").select("relu5").run()


def test_compare_and_sanity_check(app: AppTest) -> None:
    app.session_state["view"] = "All methods"
    app.run()
    ok(app)
    assert "Sanity check (Adebayo et al., 2018)" in texts(app)
    app.toggle(key="cmp.sanity").set_value(False).run()
    ok(app)
    app.session_state["view"] = "Feature maps"
    app.run()


def test_other_models(app: AppTest) -> None:
    app.session_state["view"] = "Feature maps"  # whichever test ran before in this worker
    app.selectbox(key="model.choice").select(
        ModelRef.checkpoint(ROOT / 'checkpoints' / 'compact.safetensors')).run()
    ok(app)
    assert "compact" in texts(app)
    assert app.selectbox(key="layer.name").value in ("relu5", "relu3", "relu2")
    app.selectbox(key="model.choice").select(
        ModelRef.checkpoint(ROOT / 'checkpoints' / 'seed-3x3.safetensors')).run()
    ok(app)
    app.selectbox(key="layer.name").select("relu16").run()  # a 2x2 map near the head
    ok(app)
    assert "of relu16 (16 channels, 2x2)" in texts(app)


def test_fast_model_every_view_and_layer_kind() -> None:
    """fast ends in flatten + linear layers: every view works on its maps and on its vectors."""
    at = fresh()
    at.selectbox(key="model.choice").select(
        ModelRef.checkpoint(ROOT / 'checkpoints' / 'fast.safetensors')).run()
    ok(at)
    for layer in ("pool2", "flatten", "fc", "relu3", "head"):
        at.selectbox(key="layer.name").select(layer).run()
        for view in ("Feature maps", "Receptive field", "Saliency", "All methods"):
            at.session_state["view"] = view
            at.run()
            ok(at)
            assert not at.error, (layer, view, [e.value for e in at.error])


# --------------------------------------------------------------------------- bad inputs

def draw(at: AppTest, rgba: np.ndarray | None) -> AppTest:
    at.session_state["in.drawing"] = rgba
    at.radio(key="in.source").set_value("Draw").run()
    return at


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.session_state["in.upload"] = {"name": name, "data": data}
    at.radio(key="in.source").set_value("Upload").run()
    return at


def test_drawing_is_preprocessed_and_predicted() -> None:
    at = fresh()
    rgba = np.zeros((240, 240, 4), np.uint8)
    rgba[40:200, 110:130] = (0, 0, 0, 255)  # a "1"
    draw(at, rgba)
    ok(at)
    assert "Input: your drawing" in texts(at)
    assert "Prediction" in texts(at)


def test_empty_canvas() -> None:
    at = draw(fresh(), np.zeros((240, 240, 4), np.uint8))
    ok(at)
    assert "canvas is empty" in texts(at)


BAD_IMAGES = {
    "blank.png": (png(np.full((60, 60), 255, np.uint8)), "no digit found"),
    "black.png": (png(np.zeros((60, 60), np.uint8)), "no digit found"),
    "notes.png": (b"this is not an image at all" * 20, "not an image"),
    "cut.png": (png(np.random.default_rng(0).integers(0, 256, (80, 80), dtype=np.uint8))[:3000],
                "truncated"),
}


@pytest.mark.parametrize("name", list(BAD_IMAGES))
def test_bad_image_uploads(name: str) -> None:
    at = fresh()
    data, message = BAD_IMAGES[name]
    upload(at, name, data)
    ok(at)
    assert any(message in e.value for e in at.error), texts(at)
    # the app keeps working: back to the samples, everything renders
    at.radio(key="in.source").set_value("Samples").run()
    ok(at)
    assert "Input: sample 1 of 200 (label 0)" in texts(at)


def test_huge_image_upload() -> None:
    from tests.viz.inputs.test_preprocess import _png_header_claiming
    at = upload(fresh(), "huge.png", _png_header_claiming(60_000, 60_000))
    ok(at)
    assert any("too large" in e.value or "not an image" in e.value for e in at.error)


def test_good_image_upload() -> None:
    img = np.full((300, 200), 255, np.uint8)
    img[50:250, 90:110] = 0
    at = upload(fresh(), "one.png", png(img))
    ok(at)
    assert "Input: upload `one.png`" in texts(at)
    assert not at.error


def model_upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.session_state["model.upload"] = {"name": name, "data": data,
                                        "digest": hashlib.sha256(data).hexdigest()}
    at.run()
    return at


def test_wrong_architecture_checkpoint() -> None:
    import torch
    from safetensors.torch import save

    from model.zoo import ARCHITECTURES, build
    state = {k: v.contiguous() for k, v in build("compact").state_dict().items()}
    card = {"arch": "seed", "layers": ARCHITECTURES["seed"].layers()}
    data = save(state, metadata={"model_card": json.dumps(card)})
    at = model_upload(fresh(), "wrong.safetensors", data)
    ok(at)
    assert any("do not fit" in e.value for e in at.error), texts(at)
    assert at.selectbox(key="model.choice").value.kind == "checkpoint"
    assert "Input: sample 1 of 200 (label 0)" in texts(at)
    del torch


@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
def test_pickle_renamed_safetensors(kind: str) -> None:
    import torch
    if kind == "pickle":
        data = pickle.dumps({"conv1.weight": [1, 2, 3]})
    else:
        buf = io.BytesIO()
        torch.save({"w": torch.zeros(2)}, buf)
        data = buf.getvalue()
    at = model_upload(fresh(), "model.safetensors", data)
    ok(at)
    assert any("never unpickles" in e.value for e in at.error), texts(at)
    assert "Input: sample 1 of 200 (label 0)" in texts(at)


def test_good_checkpoint_upload() -> None:
    data = (ROOT / "checkpoints" / "compact.safetensors").read_bytes()
    at = model_upload(fresh(), "mine.safetensors", data)
    ok(at)
    assert at.selectbox(key="model.choice").value.kind == "upload"
    assert not at.error


@pytest.mark.mnist
def test_test_set_source(mnist_dir) -> None:
    at = fresh()
    at.radio(key="in.source").set_value("Test set").run()
    ok(at)
    assert "test digit #" in texts(at)
    at.selectbox(key="in.test_digit").select(4).run()
    ok(at)
    assert "(label 4)" in texts(at)


@pytest.mark.mnist
@pytest.mark.slow
def test_misclassified_only(mnist_dir) -> None:
    at = fresh()
    at.radio(key="in.source").set_value("Test set").run()
    at.checkbox(key="in.wrong").check().run()
    ok(at)
    assert "wrong: it is a" in texts(at) or "No test digit matches" in texts(at)
