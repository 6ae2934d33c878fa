"""Which path the heavy views take, under Streamlit's AppTest: a network within the lens's bound
(seed) has its Saliency, All methods and Receptive field maps computed in the browser (the
network and its randomized copy sent once; the server computes no map), a bigger one
(seed-original) keeps the server's maps. The browser side: tests/app/browser/test_live_browser.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from model.store import ModelRef

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["lens.on"] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _texts(at: AppTest) -> str:
    return "\n".join(str(p.value) for p in [*at.markdown, *at.caption, *at.info])


def test_seed_maps_are_computed_in_the_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    import ui.views.compare
    import ui.views.field
    import ui.views.saliency

    def refuse(*args, **kwargs):
        raise AssertionError("the server computed a map the browser computes")

    for module, name in ((ui.views.saliency, "attribution"), (ui.views.saliency, "maps_task"),
                         (ui.views.compare, "attributions"), (ui.views.compare, "maps_task"),
                         (ui.views.field, "unit_maps")):
        monkeypatch.setattr(module, name, refuse)
    at = _app()
    sent = set(at.session_state["lens.sent"])  # the lens's copy of seed
    for method in ("saliency", "ig", "occlusion", "gradcam"):
        at.session_state["sal.method"] = method
        at.session_state["view"] = "Saliency"
        at.run()
        _ok(at)
        assert " for class " in _texts(at)
    assert set(at.session_state["live.sent"]) == sent  # seed's payload, once
    at.session_state["view"] = "All methods"
    at.run()
    _ok(at)
    assert "Computed in your browser" in _texts(at)
    assert "Sanity check (Adebayo et al., 2018)" in _texts(at)
    rnd = set(at.session_state["live.sent"]) - sent  # the randomized copy's weights went too
    assert len(rnd) == 1
    at.session_state["view"] = "Receptive field"
    at.run()
    _ok(at)
    assert "Unit (channel" in _texts(at)
    assert set(at.session_state["live.sent"]) == sent | rnd  # nothing sent twice


@pytest.mark.slow  # reads the 4M-parameter network
def test_seed_original_keeps_the_server_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import ui.views.saliency
    from ui.components import livenet
    ckpt = ROOT / "checkpoints" / "seed-original.safetensors"
    if not ckpt.is_file():
        pytest.skip("checkpoints/seed-original.safetensors is not shipped")
    calls = []
    real = ui.views.saliency.attribution
    monkeypatch.setattr(ui.views.saliency, "attribution",
                        lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    at = _app()
    at.selectbox(key="model.choice").select(ModelRef.checkpoint(ckpt)).run()
    at.session_state["sal.method"] = "saliency"
    at.session_state["view"] = "Saliency"
    at.run()
    _ok(at)
    assert calls == ["saliency"] and "**Saliency for class" in _texts(at)
    assert not livenet.runs_in_browser(ModelRef.checkpoint(ckpt))
    assert livenet.runs_in_browser(ModelRef.checkpoint(ROOT / "checkpoints" / "seed.safetensors"))
