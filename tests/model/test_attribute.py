"""python -m model.attribute: the server's maps per image, one JSON line each, as the Saliency
view computes them (the browser's attribute.js is checked against it in
tests/app/browser/test_attribute_browser.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from model import saliency
from model.attribute import main
from model.files.checkpoint import torch_model
from model.insight.activations import as_input
from model.saliency.occlusion import defaults
from model.store import load_samples, shipped_checkpoints
from viz.network import npforward
from viz.network.layers import describe

FAST = shipped_checkpoints()["fast"]


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    images, labels = load_samples()
    path = tmp_path_factory.mktemp("digits") / "digits.npy"
    np.save(path, images[:3])
    return path, images[:3]


def _lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_each_image_gets_the_servers_map_for_its_predicted_digit(digits, capsys) -> None:
    path, images = digits
    assert main([str(FAST), "--method", "occlusion", "--images", str(path)]) == 0
    rows = _lines(capsys)
    net = npforward.load(FAST)
    model = torch_model(net)
    info = {i.name: i for i in describe(net.layers)}["relu3"]  # fast's first layer in the view
    window, stride = defaults(info.r, info.stride)
    assert [r["index"] for r in rows] == [0, 1, 2]
    for row, image in zip(rows, images):
        x = as_input(image)
        with torch.no_grad():
            assert row["target"] == int(model(x)[0].argmax())
        want = saliency.attribute("occlusion", model, x, row["target"], layer="relu3",
                                  window=window, stride=stride)
        assert len(row["map"]) == 784 and np.abs(want).max() > 0
        np.testing.assert_allclose(np.reshape(row["map"], (28, 28)), want, rtol=1e-6,
                                   atol=1e-6 * np.abs(want).max())


def test_target_layer_and_seed_are_the_callers(digits, capsys) -> None:
    path, images = digits
    args = [str(FAST), "--images", str(path), "--target", "4"]
    assert main([*args, "--method", "smoothgrad", "--seed", "3"]) == 0
    rows = _lines(capsys)
    model = torch_model(npforward.load(FAST))
    want = saliency.attribute("smoothgrad", model, as_input(images[1]), 4, seed=3)
    assert rows[1]["target"] == 4
    np.testing.assert_allclose(np.reshape(rows[1]["map"], (28, 28)), want, rtol=1e-6,
                               atol=1e-6 * np.abs(want).max())
    assert main([*args, "--method", "gradcam", "--layer", "relu1"]) == 0
    cam = saliency.attribute("gradcam", model, as_input(images[0]), 4, layer="relu1")
    np.testing.assert_allclose(np.reshape(_lines(capsys)[0]["map"], (28, 28)), cam, rtol=1e-6,
                               atol=1e-7)


@pytest.mark.parametrize(("extra", "said"), [
    (["--method", "nothing"], "unknown method 'nothing'"),
    (["--method", "gradcam"], "needs a layer with feature maps"),  # fast's relu3: a vector
    (["--method", "saliency", "--layer", "conv9"], "no layer named 'conv9'"),
    (["--method", "saliency", "--target", "10"], "target class must be 0..9"),
])
def test_a_bad_option_is_refused_in_words(digits, capsys, extra: list[str], said: str) -> None:
    path, _ = digits
    assert main([str(FAST), "--images", str(path), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and said in err and "Traceback" not in err


def test_a_bad_file_is_refused_in_words(tmp_path, capsys) -> None:
    bad = tmp_path / "floats.npy"
    np.save(bad, np.zeros((2, 28, 28), np.float32))
    assert main([str(FAST), "--method", "saliency", "--images", str(bad)]) == 2
    assert "expected uint8 images" in capsys.readouterr().err
    assert main([str(tmp_path / "none.safetensors"), "--method", "saliency",
                 "--images", str(bad)]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
