"""A dense-only network (the zoo's ``mlp``, untrained) in the in-browser lens, in Chromium: the
browser's forward pass equals torch on every layer, every layer's units report the whole image
as their field, and the lens says in words that the network has no maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.app.chromium import open_page, page_app

pytestmark = [pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
LENS = "[data-testid=lens]"
SPEC = "untrained:mlp"


@pytest.fixture(scope="module")
def page():
    from model.zoo import ARCHITECTURES
    if "mlp" not in ARCHITECTURES:
        pytest.skip("the zoo has no mlp architecture")
    assert ARCHITECTURES["mlp"].layers()[0]["type"] == "flatten"
    errors: list[str] = []
    with page_app("tests/app/lens_page.py") as app:
        app[1].on("pageerror", lambda exc: errors.append(str(exc)))
        yield open_page(app, f"model={SPEC}&sample=4",
                        "window.cnnLens && window.cnnLens.prediction !== undefined"), errors


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
