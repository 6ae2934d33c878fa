import functools
import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests explore new random cases on every local run; CI replays a fixed, derandomised
# set (HYPOTHESIS_PROFILE=ci) so that a run's verdict depends only on the code.
settings.register_profile("ci", derandomize=True, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# The app processes the tests start (AppTest's, the browser tests' servers) skip the warm-up:
# it loads every shipped network once per process, work no page test needs. The warm-up itself
# is tested in tests/app/test_preload.py, with the variable set there.
os.environ.setdefault("CNN_LENS_WARM", "0")


def _scan_installed_components_once() -> None:
    """Every AppTest's first run scans the metadata of every installed package for Streamlit
    components (seconds, on this venv); a server does it once, at its start. The installed
    packages do not change while the tests run: the test process scans once, and each AppTest
    still registers what was found in its own component registry."""
    try:
        from streamlit.components.v2 import manifest_scanner
    except ImportError:
        return
    scan = manifest_scanner.scan_component_manifests
    if getattr(scan, "scans_once", False):
        return
    found: list = []

    @functools.wraps(scan)
    def once(max_workers: int | None = None) -> list:
        if not found:
            found.append(scan(max_workers))
        return list(found[0])

    once.scans_once = True
    manifest_scanner.scan_component_manifests = once


_scan_installed_components_once()

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _serialize_ast_parse() -> None:
    """pytest parses sources (to show a failure, to rewrite asserts) on its main thread while
    the app's threads (AppTest's scripts, the preload) may parse too: one at a time, as in the
    app (model/cache/process.py)."""
    from model.cache import process
    process.serialize_ast_parse()


_serialize_ast_parse()


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """Small nets gain little from 2 threads and sometimes stall; tests run on one."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST folder from $MNIST_DIR; tests needing it skip when it is not set."""
    value = os.environ.get("MNIST_DIR")
    if not value:
        pytest.skip("set MNIST_DIR to a folder with the four MNIST files to run this test")
    if not Path(value).is_dir():
        pytest.skip(f"MNIST_DIR is {value} (resolved: {Path(value).resolve()}), which is not a "
                    f"folder; point it at the folder with the four MNIST files")
    return Path(value)


def pytest_sessionfinish(session, exitstatus) -> None:
    """Stop the Chromium and servers the browser tests of this process shared, and the app's
    background computations its AppTests started (a torch thread still working when the
    interpreter exits aborts it)."""
    shared = sys.modules.get("tests.app.browser.chromium")
    if shared is not None:
        shared.stop_shared()
    background = sys.modules.get("model.training.background")
    if background is not None:
        background.TASKS.stop_running(300)


def pytest_collection_modifyitems(config, items) -> None:
    """The long tests first (real-browser, then slow, then the rest; each module's tests stay in
    their order), so that parallel workers start them early and no long one runs last alone."""
    def rank(item) -> int:
        return 0 if item.get_closest_marker("browser") else 1 if item.get_closest_marker(
            "slow") else 2
    items.sort(key=rank)
    _name_xdist_groups(config, items)


def _name_xdist_groups(config, items) -> None:
    """In a pytest-xdist worker under ``--dist loadgroup``: end the id of each test marked
    ``xdist_group`` with ``@GROUP``, which is how the scheduler sends a group to one worker.
    pytest-xdist 3.8 writes that id into an attribute pytest 9 no longer reads, so without this
    every group's tests spread over the workers (each starting the group's server again)."""
    if not getattr(config.option, "loadgroup", False):
        return
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # an older pytest, where pytest-xdist's own renaming works
        return
    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})
        if names and "@" not in item.nodeid and hasattr(item, "_id"):
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(names)}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Stop the shared Chromium when the next test in this process is not a browser test: its
    Playwright keeps an event loop running in this thread, which ``asyncio.run`` refuses. After
    the test's own teardown, so the fixtures close their pages on a running browser."""
    yield
    shared = sys.modules.get("tests.app.browser.chromium")
    if shared is not None and (nextitem is None or not nextitem.get_closest_marker("browser")):
        shared.stop_shared_browser()
