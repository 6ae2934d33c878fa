"""Every explorer view opens on every shipped network, with no exception and no error box.

One AppTest for the module, switched to each network in turn, then each view at the
network's default layer; the Feature maps and Receptive field views also on the first layer of
each kind the network has (conv, pooling, activation, join, flatten, linear ...), and the
Feature maps view once more through the in-browser lens's payload.
"""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from model.store import CHECKPOINT_DIR, ModelRef
from tests.app.test_app import APP, ok
from ui.explorer import VIEWS

pytestmark = pytest.mark.slow  # every shipped network in every view: minutes

SHIPPED = sorted(p.stem for p in CHECKPOINT_DIR.glob("*.safetensors"))
_APP: list[AppTest] = []  # one app for the module; each test switches it to its network
# Each network's tests run in one parallel worker (pytest-xdist's loadgroup), one after another:
# the app switches network once per worker and network, not at every test
NETWORKS = [pytest.param(n, id=n, marks=pytest.mark.xdist_group(f"shipped-{n}")) for n in SHIPPED]


def opened(name: str) -> AppTest:
    """The module's app, showing shipped network ``name``."""
    if not _APP:
        at = AppTest.from_file(APP, default_timeout=120)
        at.session_state["lens.on"] = False
        at.session_state["trust.n"] = 20  # the Trust view's smallest set of digits
        at.run()
        ok(at)
        _APP.append(at)
    at = _APP[0]
    ref = ModelRef.checkpoint(CHECKPOINT_DIR / f"{name}.safetensors")
    if at.selectbox(key="model.choice").value != ref:
        at.session_state["view"] = "Feature maps"  # every view has the model picker
        at.run()
        at.selectbox(key="model.choice").select(ref).run()
        ok(at)
    return at


@pytest.fixture(autouse=True)
def _stop_background_tasks():
    """After each test: ask the views' background computations (Trust's table) to stop, without
    waiting. No test here reads their results; left running, one per network, they would slow
    the next pages of this process and the module's end, which waits for them."""
    yield
    from model.training.background import TASKS
    TASKS.stop_running(0)


@pytest.fixture(scope="module", autouse=True)
def _finish_background_tasks():
    """After the module: stop the views' background computations (Trust's table), so no torch
    thread is still working when the interpreter exits (that aborts it)."""
    yield
    from model.training.background import TASKS
    assert TASKS.stop_running(300), "background tasks still running after 300 s"


def layer_kinds(name: str) -> list[str]:
    """The first layer of each type the network has, in order."""
    layers = json.loads((CHECKPOINT_DIR / f"{name}.json").read_text())["layers"]
    seen: dict[str, str] = {}
    for rec in layers:
        seen.setdefault(rec["type"], rec["name"])
    return list(seen.values())


def show(at: AppTest, view: str, layer: str | None = None) -> None:
    if "view" not in at.session_state or at.session_state["view"] != view:
        at.session_state["view"] = view
        at.run()
        ok(at)
    if layer is not None:
        at.selectbox(key="layer.name").select(layer).run()
        ok(at)
    else:
        at.run()
        ok(at)
    assert not at.error, (view, layer, [e.value for e in at.error])


@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("name", NETWORKS)
def test_every_view_opens(name: str, view: str) -> None:
    at = opened(name)
    assert at.selectbox(key="model.choice").value.url_name == name
    show(at, view)


@pytest.mark.parametrize("name", NETWORKS)
def test_every_kind_of_layer_in_maps_and_field(name: str) -> None:
    at = opened(name)
    for view in ("Feature maps", "Receptive field"):
        show(at, view)
        for layer in layer_kinds(name):
            show(at, view, layer)


@pytest.mark.parametrize("name", NETWORKS)
def test_the_lens_payload_builds(name: str) -> None:
    at = opened(name)
    at.session_state["lens.on"] = True
    try:
        show(at, "Feature maps")
    finally:
        at.session_state["lens.on"] = False
