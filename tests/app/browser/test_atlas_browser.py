"""In Chromium: a click on an atlas patch, and on a confusion-matrix digit, opens that test digit
in the explorer (the address bar names it)."""

from __future__ import annotations

import time

import pytest

from bench.server import wait_idle
from tests.app.browser.chromium import new_page, screenshot_on_failure, shared_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _settle(page) -> None:
    time.sleep(1.5)
    wait_idle(page, 120_000)


def _click_until(page, point, condition: str, tries: int = 3) -> None:
    """Click ``point`` until ``condition`` holds (as a person clicks again when a click lands
    while the chart is being redrawn); at most ``tries`` clicks, 30 s each."""
    for attempt in range(tries):
        point.click(force=True)
        try:
            page.wait_for_function(condition, timeout=30_000)
            return
        except Exception:
            if attempt == tries - 1:
                raise
            _settle(page)


def test_clicks_open_test_digits(mnist_dir) -> None:
    url = shared_server()  # the tests' MNIST_DIR (mnist_dir is read from it) is the server's
    with new_page(1400, 1700) as page, screenshot_on_failure(page, lambda: "atlas-clicks"):
        page.goto(url + "?model=fast&input=sample:3&layer=relu1&view=atlas")
        page.wait_for_selector(".st-key-atlas-row-relu1-0 .main-svg", timeout=90_000)
        _settle(page)
        _click_until(page, page.locator(".st-key-atlas-row-relu1-0 .scatterlayer .point")
                     .nth(1), "() => location.search.includes('input=test%3A2451')")
        assert "unit=0%2C8%2C9" in page.url and "view=field" in page.url

        page.goto(url + "?model=seed&input=sample:3&view=confusion")
        page.wait_for_selector(".st-key-cm-matrix .main-svg", timeout=90_000)
        _settle(page)
        page.locator(".st-key-cm-matrix .scatterlayer .point").nth(49).click(force=True)
        page.get_by_text("True 4, predicted 9: 3 digit(s)").wait_for(timeout=60_000)
        _settle(page)
        _click_until(page, page.locator(".st-key-cm-digits .scatterlayer .point").nth(0),
                     "() => location.search.includes('input=test%3A2130')")
