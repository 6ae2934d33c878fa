"""A hostile or broken checkpoint upload leaves a message, is dropped, and the session goes on."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.model.test_checkpoint import huge_card_file

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
    import model.checkpoint

    def explode(data, name):
        raise RuntimeError("out of memory while allocating a tensor")

    monkeypatch.setattr(model.checkpoint, "load_checkpoint_bytes", explode)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    _upload(at, "odd.safetensors", os.urandom(64))
    errors = [e.value for e in at.error]
    assert any("odd.safetensors: it could not be loaded (RuntimeError: out of memory" in e
               for e in errors), errors
    _still_working(at)
