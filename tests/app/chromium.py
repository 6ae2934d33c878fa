"""What the real-browser tests share: skip, saying what to install, when they cannot run."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.server import CHROMIUM


def require_browser() -> None:
    """Skip the test unless Debian's Chromium and the playwright package are installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright Python package is not installed")
