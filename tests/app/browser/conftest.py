"""Fixtures of the real-browser tests: the app served once per test process and a page of the
process's one Chromium in a fresh context per test (see tests/app/browser/chromium.py for the
helpers behind them, which a module's own fixtures can use too)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.app.browser.chromium import new_page, require_browser, shared_server


@pytest.fixture(scope="session")
def app_url() -> str:
    """The address of ``streamlit run app.py`` (no trailing slash), one server per process."""
    return shared_server().rstrip("/")


@pytest.fixture
def browser_page() -> Iterator[object]:
    """A 1280x900 page of the shared Chromium in a fresh context, closed after the test."""
    with new_page() as page:
        yield page


@pytest.fixture(scope="module")
def attribute_page() -> Iterator[object]:
    """A page holding only the attribution engine and its test hooks (attribute_page.py), one
    per test module."""
    from tests.app.browser import attribute_page as engine
    require_browser()
    with engine.opened() as page:
        yield page
