"""A hostile or broken checkpoint upload leaves a message, is dropped, and the session goes on."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.model.files.test_checkpoint import huge_card_file

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.session_state["model.upload"] = {"name": name, "data": data,
                                        "digest": hashlib.sha256(data).hexdigest()}
    at.run()
    return at


def _still_working(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="model.choice").value.kind == "checkpoint"
    assert "model.upload" not in at.session_state
    at.run()  # the next rerun is clean too: no error raised again, the default model shown
    assert not at.exception
    captions = "\n".join(c.value for c in at.caption)
    assert "Input: sample 1 of 200" in captions or "Input: sample 1 of 200" in "\n".join(
        m.value for m in at.markdown)
    assert any(e.label == "Upload your own checkpoint" for e in at.sidebar.expander)


def test_the_420_byte_huge_card_is_refused_naming_the_limits() -> None:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    _upload(at, "huge.safetensors", huge_card_file())
    errors = [e.value for e in at.error]
    assert any("too big" in e and "5,000,000 parameters" in e for e in errors), errors
    _still_working(at)


def test_an_unexpected_error_drops_the_upload_and_keeps_the_session(monkeypatch) -> None:
    import model.files.checkpoint

    def explode(data, name):
        raise RuntimeError("out of memory while allocating a tensor")

    monkeypatch.setattr(model.files.checkpoint, "read_network", explode)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    _upload(at, "odd.safetensors", os.urandom(64))
    errors = [e.value for e in at.error]
    assert any("odd.safetensors: it could not be loaded (RuntimeError: out of memory" in e
               for e in errors), errors
    _still_working(at)


def test_a_network_over_the_activation_limit_is_refused_before_a_tensor_is_read(
        monkeypatch) -> None:
    """A file of 245 kB whose one 1x1 conv of 5,096 channels makes 4,000,380 values per digit
    (16 MB, and 16 MB more per layer after it): refused from its header, before the tensors are
    read or a network is built."""
    import model.zoo
    from model.files.checkpoint import CheckpointError, load_checkpoint_bytes, read_network
    from tests.viz.network.test_card import pack, wide
    from viz.network import card

    def never(*args, **kwargs):
        raise AssertionError("allocated the tensors of a network over the limits")

    data = pack(wide(5096))
    assert len(data) < 250_000
    monkeypatch.setattr(card, "arrays", never)
    monkeypatch.setattr(model.zoo, "build_from_config", never)
    for load in (load_checkpoint_bytes, read_network):  # the tools' path, and the app's
        with pytest.raises(CheckpointError, match="wide.safetensors: its network is too big: "
                                                  "4,000,380 activation values per image; this"):
            load(data, "wide.safetensors")
    monkeypatch.undo()
    model_, card = load_checkpoint_bytes(pack(wide(5095)), "under.safetensors")  # just under
    assert card["layers"] == wide(5095) and model_.conv1.out_channels == 5095


def test_the_upload_over_the_activation_limit_is_dropped_with_the_limits_message() -> None:
    from tests.viz.network.test_card import pack, wide
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    _upload(at, "wide.safetensors", pack(wide(5096)))
    errors = [e.value for e in at.error]
    assert any("4,000,380 activation values per image" in e
               and "4,000,000 activation values per image across all layers" in e
               for e in errors), errors
    _still_working(at)
