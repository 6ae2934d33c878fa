"""One record per thing: a throw-away architecture and saliency method, registered at run time,
appear in every picker that lists their kind, with nothing else edited; a line saying how a
framework saves a file this app reads appears under the upload box."""

from __future__ import annotations

import numpy as np
import pytest

from model import architectures, saliency
from model.architectures import Architecture
from model.files import formats
from model.files.formats import SaveLine
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


def test_the_upload_box_shows_each_frameworks_save_line(monkeypatch) -> None:
    toy = SaveLine("Toyflow", 'toy.save(model, "net.onnx")', (".onnx",))
    monkeypatch.setattr(formats, "SAVE_LINES", (*formats.SAVE_LINES, toy))
    at = fresh()
    ok(at)
    box = next(e for e in at.sidebar.expander if e.label == "Upload your own checkpoint")
    shown = "\n".join(c.value for c in box.caption)
    for line in formats.SAVE_LINES:
        assert f"**{line.framework}:**" in shown and f"`{line.code}`" in shown, line
    assert 'torch.onnx.export(model, torch.zeros(1, 1, 28, 28), "net.onnx")' in shown
    assert 'model.export("net.onnx", format="onnx")' in shown
    assert "`torch.save(model.state_dict(), \"net.pt\")` (or .pth)" in shown
    assert "`model.save(\"net.keras\")` (or .h5, .hdf5)" in shown


def test_every_format_read_has_a_save_line() -> None:
    from model import importer
    written = {ext for line in formats.SAVE_LINES for ext in line.writes}
    assert set(importer.READERS) <= written
    assert all(f'net{line.writes[0]}"' in line.code for line in formats.SAVE_LINES)
