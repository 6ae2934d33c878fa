"""The teacher's Class page in Chromium at a phone's, a half laptop's, a laptop's, a wide
laptop's and a projector's width, and in presenter mode: the code on one line and whole, and
the code, the QR code, the join link, the gallery switch and the buttons never on top of each
other. A phone opens the page in a phone's browser; the laptop widths are one page made
narrower, and presenter mode one page at a projector's size then a laptop's, every check run at
every size. ``SCREENS_DIR=folder`` also saves a screenshot of each width there."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from bench.server import server, wait_idle
from tests.app.browser.chromium import require_browser, screenshot_on_failure, shared_browser

# One worker runs them, on the module's one server
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("class-page")]

# (name, query, phone, (width, height) in the order the page takes them): each opens once
SCREENS = [("class-phone", "class=new", True, ((390, 900),)),
           ("class-laptop", "class=new", False, ((1920, 900), (1400, 900), (1280, 900),
                                                 (800, 900))),
           ("class-present", "class=new&present=1", False, ((1920, 1080), (1280, 720)))]
# What must not overlap: the code, its QR code, the join link, the gallery switch, the buttons
# and the teacher link (folded).
PARTS = {"code": "[data-testid=class-code]", "qr": "[data-testid=class-qr] img",
         "link": "[data-testid=class-link]", "switch": ".st-key-class-hidden",
         "clear": ".st-key-class-clear", "end": ".st-key-class-end",
         "teacher link": "[data-testid=stExpander]"}
MEASURE = """(parts) => {
  const out = {};
  for (const [name, sel] of Object.entries(parts)) {
    const el = document.querySelector("[data-testid=stMainBlockContainer] " + sel);
    if (!el) { out[name] = null; continue; }
    const r = el.getBoundingClientRect();
    out[name] = {x: r.left, y: r.top + window.scrollY, w: r.width, h: r.height};
  }
  const code = document.querySelector('[data-testid=class-code]');
  const range = document.createRange();
  range.selectNodeContents(code);
  const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
  out.codeLines = lines.size;
  out.codeClipped = code.scrollWidth > code.clientWidth + 1;
  out.codeFont = parseFloat(getComputedStyle(code).fontSize);
  out.pageWidth = document.documentElement.clientWidth;
  out.scrollWidth = document.documentElement.scrollWidth;
  return out;
}"""


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    require_browser()
    runs = tmp_path_factory.mktemp("runs")
    browser = shared_browser()  # each page in a context of its own
    with server({"CNN_LENS_RUNS_DIR": str(runs)}) as url:
        yield url.rstrip("/"), browser


def overlap(a: dict, b: dict) -> float:
    """The area two boxes share (px²)."""
    w = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
    h = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
    return max(w, 0) * max(h, 0)


def measure(page, width: int, height: int) -> dict:
    """Give the window this size, wait for the QR code and the last layout, and measure the
    parts (see ``MEASURE``)."""
    if page.viewport_size != {"width": width, "height": height}:
        page.set_viewport_size({"width": width, "height": height})
    wait_idle(page, 60_000)
    page.wait_for_function("() => { const i = document.querySelector("
                           "'[data-testid=class-qr] img'); return i && i.complete; }")
    page.wait_for_timeout(500)  # the fonts and the last layout
    return page.evaluate(MEASURE, PARTS)


def check(got: dict, width: int) -> None:
    """Every part there and whole, the code on one line, large and uncut, nothing over
    another and no sideways scroll at ``width``."""
    missing = [k for k in PARTS if got[k] is None or got[k]["w"] * got[k]["h"] == 0]
    assert not missing, f"not on the page at {width} px: {missing}"
    assert got["codeLines"] == 1, f"the code wraps at {width} px"
    assert not got["codeClipped"], f"the code is cut at {width} px"
    assert got["codeFont"] >= 36, f"the code is small at {width} px: {got['codeFont']}"
    assert got["scrollWidth"] <= got["pageWidth"], f"sideways scroll at {width} px"
    names = list(PARTS)
    for i, a in enumerate(names):
        box = got[a]
        assert box["x"] >= -1 and box["x"] + box["w"] <= got["pageWidth"] + 1, (a, width, box)
        for b in names[i + 1:]:
            assert overlap(box, got[b]) < 1, f"{a} and {b} overlap at {width} px"


@pytest.mark.parametrize(("name", "query", "phone", "sizes"), SCREENS,
                         ids=[s[0] for s in SCREENS])
def test_the_class_page_at_every_width(app, name, query, phone, sizes) -> None:
    url, browser = app
    width, height = sizes[0]
    page = browser.new_page(viewport={"width": width, "height": height},
                            is_mobile=phone, has_touch=phone)
    page.set_default_timeout(90_000)
    step = f"{name}-{width}"
    try:
        with screenshot_on_failure(page, lambda: step):
            page.goto(f"{url}/?{query}")
            page.get_by_test_id("class-code").wait_for(timeout=90_000)
            page.locator(".st-key-class-end").wait_for()
            for width, height in sizes:
                step = f"{name}-{width}x{height}"
                got = measure(page, width, height)
                if os.environ.get("SCREENS_DIR"):
                    folder = Path(os.environ["SCREENS_DIR"])
                    folder.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(folder / f"{step}.png"), full_page=True)
                check(got, width)
            if "present=1" in query:
                search = parse_qs(urlparse(page.url).query)
                assert search.get("present") == ["1"] and urlparse(page.url).path.endswith(
                    "/class")
                assert page.locator("[data-testid=stMainMenu]").is_hidden()
    finally:
        page.close()
