"""What the real-browser tests share: skip, saying what to install, when they cannot run; one
test page served and opened in one browser per module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.server import CHROMIUM, browser, server

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


@contextmanager
def screenshot_on_failure(page, name: Callable[[], str]) -> Iterator[None]:
    """When the block fails, keep a full-page screenshot as ``test-artifacts/NAME.png`` (``name``
    is called then: it can name the step the test had reached)."""
    try:
        yield
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name()}.png"), full_page=True)
        raise


def require_browser() -> None:
    """Skip the test unless Debian's Chromium and the playwright package are installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright Python package is not installed")


@contextmanager
def page_app(script: str, width: int = 1280, height: int = 900) -> Iterator[tuple[str, object]]:
    """``(url, page)``: ``streamlit run script`` and a Chromium page (for a module's fixture)."""
    require_browser()
    with server(script=script) as url, browser(width, height) as page:
        yield url, page


def open_page(app: tuple[str, object], query: str, ready: str):
    """Open ``?query`` on the module's page and wait until the JavaScript ``ready`` is true and
    the app has finished running."""
    url, page = app
    page.goto(f"{url}?{query}")
    page.wait_for_function(f"() => {ready}", timeout=90_000)
    page.wait_for_function("() => document.querySelector('[data-testid=stStatusWidget]') === null",
                           timeout=60_000)
    return page
