"""The sidebar's upload box converts other tools' networks: an .onnx file (TorchScript
exporter), an .onnx with its .onnx.data (dynamo exporter) and a .keras file; it shows the input
scaling found with each convention's accuracy and lets it be changed; a refused file leaves a
one-line message. Then every explorer view opens on the imported Keras residual network, and
the whole-network views say so when the MNIST test set is missing.

One AppTest for the module; the files are the readers' committed fixtures (tests/fixtures/).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.test_app import APP, ok, texts
from ui.explorer import VIEWS

pytest.importorskip("onnx")

# converting uploads, then every view of them: minutes; in one parallel worker
# (pytest-xdist's loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("import-upload")]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ONNX = FIXTURES / "pytorch" / "onnx"  # flat-cnn-*: the flat CNN of onnx_nets.py, both exporters
KERAS = FIXTURES / "keras"  # residual.keras, and lambda.keras (refused)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    """The module's app, with no MNIST test set (an empty MNIST_DIR)."""
    empty = tmp_path_factory.mktemp("no-mnist")
    old = os.environ.get("MNIST_DIR")
    os.environ["MNIST_DIR"] = str(empty)
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["lens.on"] = False
    at.session_state["trust.n"] = 20  # the Trust view's smallest set of digits
    at.run()
    ok(at)
    yield at
    from model.training.background import TASKS
    TASKS.stop_running(300)  # the views' background computations: not this module's subject
    if old is None:
        os.environ.pop("MNIST_DIR", None)
    else:
        os.environ["MNIST_DIR"] = old


def upload(at: AppTest, folder: Path, *names: str) -> AppTest:
    at.session_state["view"] = "Feature maps"
    at.file_uploader(key="model.uploader").set_value(
        [(n, (folder / n).read_bytes(), "application/octet-stream") for n in names]).run()
    ok(at)
    return at


def imported(at: AppTest, name: str) -> dict:
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="model.choice").value.kind == "upload"
    up = at.session_state["model.upload"]
    assert up["name"] == name
    return up["imported"]


def test_upload_box_names_the_formats(app: AppTest) -> None:
    box = app.file_uploader(key="model.uploader")
    for words in (".safetensors", ".onnx", ".onnx.data", ".keras", ".h5"):
        assert words in box.label + box.help, words


def test_onnx_upload_converts_with_the_scaling_found(app: AppTest) -> None:
    at = upload(app, ONNX, "flat-cnn-torchscript.onnx")
    imp = imported(at, "flat-cnn-torchscript.onnx")
    acc = imp["accuracy"]
    assert set(acc) == {"unit", "mnist", "symmetric", "raw"}
    like = imp["likelihood"]
    assert imp["scale"] == max(like, key=like.get)  # chosen by likelihood, accuracy beside it
    caption = next(c.value for c in at.caption if "Input scaling found" in c.value)
    assert all(f"{k} {v:.0%} ({like[k]:.2f})" in caption for k, v in acc.items())
    picker = at.selectbox(key="model.import_scale")
    assert picker.value == imp["scale"]
    other = "raw" if imp["scale"] != "raw" else "unit"
    picker.select(other).run()  # overridden: converted again with the teacher's choice
    ok(at)
    assert imported(at, "flat-cnn-torchscript.onnx")["scale"] == other
    assert at.selectbox(key="model.import_scale").value == other


def test_onnx_with_its_data_file(app: AppTest) -> None:
    at = upload(app, ONNX, "flat-cnn-dynamo.onnx", "flat-cnn-dynamo.onnx.data")
    assert set(imported(at, "flat-cnn-dynamo.onnx")["files"]) == {
        "flat-cnn-dynamo.onnx", "flat-cnn-dynamo.onnx.data"}


def test_a_refused_file_says_why_in_one_line(app: AppTest) -> None:
    at = upload(app, KERAS, "lambda.keras")
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "cannot be used. lambda.keras: layer" in errors[0], errors
    assert "Lambda" in errors[0] and "double" in errors[0] and "\n" not in errors[0]
    assert "model.upload" not in at.session_state
    assert at.selectbox(key="model.choice").value.kind == "checkpoint"


def test_keras_upload_and_every_view(app: AppTest) -> None:
    at = upload(app, KERAS, "residual.keras")
    imp = imported(at, "residual.keras")
    assert imp["scale"] in imp["accuracy"]
    layers = [o for o in at.selectbox(key="layer.name").options]
    assert any("join" in o for o in layers), layers
    for view in VIEWS:
        at.session_state["view"] = view
        at.run()
        ok(at)
        assert not at.error, (view, [e.value for e in at.error])
        if view in ("Atlas", "Confusion"):  # no test set here: they say so
            assert "MNIST test set" in texts(at), (view, texts(at)[-500:])
    # Trust measures on the shipped samples, in a background task: it reads the upload there
    end = time.monotonic() + 300
    while not at.dataframe and time.monotonic() < end:
        time.sleep(1)
        at.run()
        ok(at)
        assert not at.error, [e.value for e in at.error]
    assert at.dataframe and "shipped samples" in texts(at)
