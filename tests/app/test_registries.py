"""One record per thing: a throw-away architecture and saliency method, registered at run time,
appear in every picker that lists their kind, with nothing else edited."""

from __future__ import annotations

import numpy as np
import pytest

from model import architectures, saliency
from model.architectures import Architecture
from model.saliency import Method
from model.store import ModelRef
from tests.app.test_app import fresh, ok, texts
from ui import explorer
from ui.tour import page as tour

TOY = "toy-net"


def _toy_layers() -> list[dict]:
    return [
        {"name": "conv1", "type": "conv", "in": 1, "out": 4, "kernel": 5, "stride": 1,
         "padding": 2, "bias": True},  # 4x28x28
        {"name": "relu1", "type": "relu"},
        {"name": "pool1", "type": "maxpool", "kernel": 4, "stride": 4},  # 4x7x7
        {"name": "flatten", "type": "flatten"},  # 196
        {"name": "head", "type": "linear", "in": 196, "out": 10},
    ]


def _inked(model, x, target, opts) -> np.ndarray:
    """A toy method: the input itself (a known answer, exact to check)."""
    return x.detach()[0, 0].numpy().astype(np.float32)


@pytest.fixture
def registered():
    arch = architectures.register(Architecture(
        TOY, _toy_layers, "A throw-away network registered by a test.", recipe={"epochs": 1},
        offer_untrained=True))
    method = saliency.register(Method("inked", "Ink", "The input itself.", _inked))
    yield arch, method
    architectures.ARCHITECTURES.pop(TOY)
    saliency.METHODS.pop("inked")


def test_registering_twice_is_refused(registered) -> None:
    with pytest.raises(ValueError, match="already registered"):
        architectures.register(registered[0])
    with pytest.raises(ValueError, match="already registered"):
        saliency.register(registered[1])
    with pytest.raises(ValueError, match="already"):
        explorer.register(next(iter(explorer.VIEWS.values())))
    with pytest.raises(ValueError, match="already registered"):
        tour.register(next(iter(tour.REGISTRY.values())))


def test_a_new_architecture_and_method_reach_every_picker(registered) -> None:
    at = fresh()
    at.run()
    ok(at)
    picker = at.selectbox(key="model.choice")
    toy = ModelRef.untrained(TOY)
    assert f"{TOY} (untrained: random weights)" in picker.options
    picker.set_value(toy).run()
    ok(at)
    assert "A throw-away network registered by a test." in texts(at)
    at.segmented_control(key="view").set_value("Saliency").run()
    ok(at)
    method = at.radio(key="sal.method")
    assert "Ink" in method.options
    method.set_value("inked").run()
    ok(at)
    # The lab offers it to start from and to compare; the Train page offers it to train.
    at.switch_page("ui/pages/lab.py").run()
    ok(at)
    assert TOY in at.selectbox(key="lab.start").options
    at.switch_page("ui/pages/train.py").run()
    ok(at)
    assert TOY in at.selectbox(key="train.arch").options
