"""The atlas and confusion views under Streamlit's AppTest, from the shipped files."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from model.store import ModelRef

ROOT = Path(__file__).resolve().parents[2]


def _app(model: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["lens.on"] = False  # the page's layer picker, driven below
    at.run()
    at.selectbox(key="model.choice").select(
        ModelRef.checkpoint(ROOT / "checkpoints" / f"{model}.safetensors")).run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [i.value for i in at.info]
    return "\n".join(str(p) for p in parts)


def test_atlas_view_shows_a_channels_top_patches_and_refuses_vector_layers() -> None:
    at = _app("fast")
    at.selectbox(key="layer.name").select("relu1").run()
    at.session_state["view"] = "Atlas"
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    t = _texts(at)
    assert "The 9 test digits (of 10,000) that excite channel 0 of relu1 most" in t
    assert "exact 5x5 receptive field" in t and "The largest over the test set is 2.46" in t
    at.selectbox(key="atlas.channel.relu1").select(3).run()
    assert "excite channel 3 of relu1" in _texts(at)
    at.selectbox(key="layer.name").select("fc").run()
    assert "fc is not in the atlas" in _texts(at)


def test_confusion_view_lists_a_cells_digits() -> None:
    at = _app("seed")
    at.session_state["view"] = "Confusion"
    at.run()
    assert not at.exception and not at.error
    t = _texts(at)
    assert "Overall accuracy 99.54%" in t and "weakest class 6 (98.75%)" in t
    at.session_state["cm.cell"] = (4, 9)
    at.run()
    assert "True 4, predicted 9: 3 digit(s)" in _texts(at)
