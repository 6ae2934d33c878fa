"""The real app in a real browser: ``streamlit run app.py`` driven by headless Debian Chromium.

Switch layer, pick a unit and see its region, draw a digit and get a prediction, upload a PNG;
open a shared link, train a few steps, analyse in the lab. One server for the module (its first
page, which imports torch and the app, is the costliest step), each test on a page of its own;
its log, read after each test, holds no warning or stack trace. Screenshots go to
test-artifacts/ when a step fails; the server is always killed.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bench.server import server, wait_idle
from tests.app.browser.chromium import new_page, require_browser, screenshot_on_failure

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("app-browser")]


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """The module's server, with a runs folder of its own (MNIST_DIR as the tests were given
    it): its URL and its log."""
    require_browser()
    folder = tmp_path_factory.mktemp("app")
    log = folder / "server.log"
    with server({"CNN_LENS_RUNS_DIR": str(folder / "runs")}, log=log) as url:
        yield url, log


def assert_clean_log(log: Path) -> None:
    """The server's stdout and stderr hold no stack trace and no warning."""
    text = log.read_text(errors="replace")
    bad = [line for line in text.splitlines()
           if "Traceback" in line or "Stack (most recent call last)" in line
           or "warning" in line.lower()]
    assert not bad, "the server log has warnings or stack traces:\n" + text[-4000:]


def _text(page, text: str, timeout: float = 60_000) -> None:
    page.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=timeout)


def _digit_png() -> bytes:
    from PIL import Image
    img = np.full((120, 90), 255, np.uint8)
    img[15:105, 40:52] = 30  # a dark "1" on white paper
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def test_explorer_in_chromium(app: tuple[str, Path], tmp_path: Path) -> None:
    url, log = app
    step = "start"
    with new_page(1280, 800) as page, screenshot_on_failure(
            page, lambda: f"browser_failure_{step.replace(' ', '_')}"):
        step = "open"
        page.goto(url)
        _text(page, "Prediction")
        wait_idle(page, 90_000)

        step = "the lens"  # the Feature maps view runs the network in the browser
        page.wait_for_function("() => window.cnnLens && window.cnnLens.prediction === 0",
                               timeout=90_000)
        box = page.locator("[data-testid=lens] canvas.focus").bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        unit = page.locator("[data-testid=lens] .unit:not([data-rf=''])")
        unit.wait_for(timeout=10_000)  # hovering draws a unit and its field
        assert unit.get_attribute("data-unit").startswith("relu5,")

        step = "switch layer"
        page.locator(".st-key-view").get_by_text("Receptive field", exact=True).click()
        panel = page.locator("[data-testid=unit-field]")
        panel.wait_for(timeout=90_000)
        wait_idle(page)
        box = page.locator(".st-key-layer-name input")
        box.click()
        box.fill("conv3")
        page.get_by_role("option").filter(has_text=re.compile(r"^\s*conv3\s")).first.click()
        page.locator("[data-testid=unit-field] .unit[data-unit^='conv3,']").wait_for(
            timeout=90_000)
        wait_idle(page, 90_000)

        step = "hover a unit"  # the browser draws its field at once, no round trip
        picker = page.locator("[data-testid=unit-field] canvas.picker")
        b = picker.bounding_box()
        u = b["width"] / 28  # conv3's map is 28x28
        page.mouse.move(b["x"] + (7 + 0.5) * u, b["y"] + (5 + 0.5) * u)
        unit = page.locator("[data-testid=unit-field] .unit")
        page.locator("[data-testid=unit-field] .unit[data-unit$=',5,7']").wait_for(
            timeout=10_000)
        # conv3 of seed: r = 7, S = 1, P = 3, so unit (5, 7) sees rows 2..8, cols 4..10
        assert unit.get_attribute("data-rf") == "2,8,4,10"

        step = "pick a unit"
        page.mouse.click(b["x"] + (7 + 0.5) * u, b["y"] + (5 + 0.5) * u)
        _text(page, "Unit (channel ")
        page.get_by_text(re.compile(r"row 5, col 7\) of conv3")).first.wait_for(
            timeout=60_000)
        _text(page, "This unit can only see 7x7 pixels")
        wait_idle(page)

        step = "download the table"  # made on the click: the engine's CSV of every layer
        from model.architectures import get
        from viz.network.layers import describe
        from viz.teaching import fields
        with page.expect_download() as download:
            page.get_by_text("Download the table (CSV, every layer)").click()
        assert download.value.suggested_filename == "seed-receptive-fields.csv"
        got = Path(download.value.path()).read_text()
        assert got == fields.table_csv(describe(get("seed").layers()))

        step = "draw a digit"  # on the lens's pad: it opens with the Draw source
        page.locator(".st-key-in-source").get_by_text("Draw", exact=True).click()
        _text(page, "Draw a digit on the pad of the Explore page")
        _text(page, "Draw a digit on the pad of the Feature maps view first")
        page.locator(".st-key-view").get_by_text("Feature maps", exact=True).click()
        pad = page.locator("[data-testid=lens] canvas.pad")
        pad.wait_for(timeout=60_000)
        wait_idle(page)
        pad.scroll_into_view_if_needed()
        b = pad.bounding_box()
        k = b["width"] / 240
        page.mouse.move(b["x"] + 120 * k, b["y"] + 30 * k)
        page.mouse.down()
        for y in range(40, 220, 10):  # a "1"
            page.mouse.move(b["x"] + (120 + y / 100) * k, b["y"] + y * k, steps=2)
        page.mouse.up()
        _text(page, "Input: your drawing", timeout=60_000)
        _text(page, "Prediction")  # the lens's, beside the pad
        wait_idle(page)

        step = "upload a PNG"
        page.locator(".st-key-in-source").get_by_text("Upload", exact=True).click()
        uploader = page.locator(".st-key-in-uploader input[type=file]")
        uploader.wait_for(state="attached")
        png = tmp_path / "digit.png"
        png.write_bytes(_digit_png())
        uploader.set_input_files(str(png))
        _text(page, "Input: upload digit.png")
        _text(page, "Prediction")
    assert_clean_log(log)


@pytest.mark.usefixtures("mnist_dir")  # training needs the MNIST files: skipped without them
def test_classroom_in_chromium(app: tuple[str, Path]) -> None:
    """A shared link opens its exact view; a short training run shows its progress and ends
    saved; the lab analyses the seed."""
    url, log = app
    step = "start"
    with new_page(1280, 800) as page, screenshot_on_failure(
            page, lambda: f"classroom_failure_{step.replace(' ', '_')}"):
        step = "open a shared link"
        page.goto(url + "?model=seed&input=sample:17&layer=conv3&view=field&unit=2,5,7")
        page.locator("[data-testid=unit-field] .unit[data-unit='conv3,2,5,7']").wait_for(
            timeout=90_000)
        _text(page, "Unit (channel 2, row 5, col 7) of conv3")
        _text(page, "Input: sample 18 of 200")
        wait_idle(page, 90_000)

        step = "train a few steps"
        page.get_by_role("link", name="Train").click()
        _text(page, "Train a network")
        wait_idle(page)
        steps = page.locator(".st-key-train-max_steps input")
        steps.fill("10")  # the fewest: MNIST, validation and test keep it on screen a while
        steps.press("Enter")
        wait_idle(page)
        _text(page, "10 steps of 128 images")
        page.locator(".st-key-train-start button").click()
        _text(page, "by you")
        page.locator("[data-testid='stProgress']").wait_for(timeout=60_000)
        _text(page, "Finished after 10 steps", timeout=180_000)
        _text(page, "test accuracy")
        wait_idle(page)
        _text(page, "Watch it learn")
        _text(page, "the network says")

        step = "the lab"
        page.get_by_role("link", name="Architecture lab").click()
        _text(page, "Final receptive field")
        _text(page, "43,846")
        _text(page, "54x54")
    assert_clean_log(log)
