"""What the real-browser tests share: skip, saying what to install, when they cannot run; one
Chromium and one server per script (and environment) for each test process, each test or module
on a page of its own.

Starting Chromium and a Streamlit server (whose first run imports torch) takes seconds each, so a
test process (one pytest-xdist worker) starts each once and keeps it until its tests end:
:func:`shared_browser`, :func:`shared_server` (``tests/conftest.py`` stops Chromium before a
test not marked ``browser``: Playwright's event loop would stop its ``asyncio.run``). A page comes in a fresh browser context
(:func:`new_page`), so no cookie, storage or Streamlit session passes from one to the next;
Streamlit's caches, shared by the sessions of one server, are the app's own.

Playwright's sync API runs one instance per thread: whoever starts their own
(``sync_playwright()``, ``bench.server.browser``) gets the shared one stopped first (see
:func:`stop_shared_browser`, called from ``tests/conftest.py``), and it starts again when next
asked for.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import pytest

from bench.server import CHROMIUM, CHROMIUM_ARGS, server, wait_http

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"

_PLAYWRIGHT: dict[str, object] = {}  # "pw", "browser": the process's one Chromium
_SERVERS: dict[tuple, str] = {}  # (script, env items) -> URL
_SERVER_STACK = ExitStack()


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


def shared_browser():
    """The test process's Chromium (a Playwright ``Browser``), started on first use.

    Returns:
        The browser; make pages with :func:`new_page` (or ``browser.new_context()``) and close
        what you make.
    """
    require_browser()
    browser = _PLAYWRIGHT.get("browser")
    if browser is not None and browser.is_connected():
        return browser
    stop_shared_browser()
    pw = _guard_sync_playwright()().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Exception:
        pw.stop()
        raise
    _PLAYWRIGHT.update(pw=pw, browser=browser)
    return browser


def stop_shared_browser() -> None:
    """Close the shared Chromium and its Playwright, if running (the next use starts them)."""
    browser, pw = _PLAYWRIGHT.pop("browser", None), _PLAYWRIGHT.pop("pw", None)
    try:
        if browser is not None:
            with suppress(Exception):  # already gone
                browser.close()
    finally:
        if pw is not None:
            pw.stop()


def _guard_sync_playwright():
    """Make ``playwright.sync_api.sync_playwright`` stop the shared Chromium before it starts
    another Playwright (two cannot run in one thread); return the original."""
    import playwright.sync_api as sync_api
    original = getattr(sync_api.sync_playwright, "original", sync_api.sync_playwright)

    def sync_playwright():
        stop_shared_browser()
        return original()

    sync_playwright.original = original
    sync_api.sync_playwright = sync_playwright
    return original


@contextmanager
def new_page(width: int = 1280, height: int = 900, **options) -> Iterator[object]:
    """A page of the shared Chromium in a fresh context (``options``: Playwright's context
    options, e.g. ``has_touch``, ``is_mobile``), closed after the block."""
    context = shared_browser().new_context(viewport={"width": width, "height": height},
                                           **options)
    try:
        yield context.new_page()
    finally:
        with suppress(Exception):  # the browser went first
            context.close()


def shared_server(script: str = "app.py", env: dict[str, str] | None = None) -> str:
    """The URL of ``streamlit run script`` with ``env`` added, one per test process, started on
    first use and stopped when the tests end. A test that reads the server's log, or changes
    what the server keeps (a runs folder, a class), starts its own with ``bench.server.server``.
    """
    key = (script, tuple(sorted((env or {}).items())))
    if key in _SERVERS:
        try:
            wait_http(int(_SERVERS[key].rstrip("/").rsplit(":", 1)[1]), timeout=10)
        except TimeoutError:  # it died (the tests that used it said so): a new one
            del _SERVERS[key]
    if key not in _SERVERS:
        _SERVERS[key] = _SERVER_STACK.enter_context(server(env, script=script))
    return _SERVERS[key]


def stop_shared() -> None:
    """Stop the shared Chromium and servers (at the end of the tests)."""
    try:
        stop_shared_browser()
    finally:
        _SERVERS.clear()
        _SERVER_STACK.close()


atexit.register(_SERVER_STACK.close)  # a process killed before the end still stops its servers


@contextmanager
def page_app(script: str, width: int = 1280, height: int = 900) -> Iterator[tuple[str, object]]:
    """``(url, page)``: the shared server of ``script`` and a page of its own (for a module's
    fixture)."""
    require_browser()
    url = shared_server(script)
    with new_page(width, height) as page:
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
