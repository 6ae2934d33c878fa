"""The explorer's Feature maps view as the lens, under Streamlit's AppTest (no browser).

The browser side is tested in test_lens_browser.py; here: the view mounts the component for
shipped and untrained networks, the layer picker drives it, and a network the lens cannot run
falls back to the server's maps with a message.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


def _lens_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["lens.on"] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_lens_replaces_the_server_maps() -> None:
    at = _lens_app()
    captions = " ".join(c.value for c in at.caption)
    assert "feature maps" not in captions  # the plotly mosaic's caption is gone
    assert "lens.sent" in at.session_state  # the network went to the browser once
    sent = set(at.session_state["lens.sent"])
    assert len(sent) == 1
    # The lens has its own layer picker; the page's is hidden and follows it (layer.name).
    assert not [s for s in at.selectbox if s.key == "layer.name"]
    at.session_state["layer.name"] = "relu2"
    at.run()
    assert not at.exception
    assert at.session_state["layer.name"] == "relu2"
    at.session_state["view"] = "Receptive field"  # another view: the page's picker is back
    at.run()
    assert at.selectbox(key="layer.name").value == "relu2"
    assert set(at.session_state["lens.sent"]) == sent  # not sent again


def test_uploaded_network_runs_in_the_lens() -> None:
    """An upload goes through torch (model.files.export.numpy_net), not the numpy checkpoint reader."""
    import hashlib
    data = (ROOT / "checkpoints" / "compact.safetensors").read_bytes()
    at = _lens_app()
    at.session_state["model.upload"] = {"name": "mine.safetensors", "data": data,
                                        "digest": hashlib.sha256(data).hexdigest()}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="model.choice").value.kind == "upload"
    from ui.components import lens
    from viz.network import npforward
    shipped = lens.payload("test:compact", npforward.load(ROOT / "checkpoints" /
                                                          "compact.safetensors"))
    assert shipped["id"] in set(at.session_state["lens.sent"])  # same weights, same network


def test_falls_back_to_server_maps_when_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    from ui.components import lens
    monkeypatch.setattr(lens, "supported", lambda key: (False, "layer 'x' is a 'upsample' layer"))
    at = _lens_app()
    infos = " ".join(i.value for i in at.info)
    assert "cannot run this network" in infos and "upsample" in infos
    assert "feature maps" in " ".join(c.value for c in at.caption)
