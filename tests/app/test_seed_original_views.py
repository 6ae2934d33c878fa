"""Every explorer view and the lab on the shipped seed-original (4.16M parameters, 1.55 GMAC per
digit), under Streamlit's AppTest: the lens refuses to run it live and the server's maps are
drawn; the views over the page's budget run in the background with progress; the lab compares
it with seed from the engine and the cards. One app for the module (about 40 s)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from model.store import ModelRef

# the 4M-parameter network in the heavy views: minutes; one worker, so that the module's app
# (and its caches) is made once
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("seed-original-views")]

ROOT = Path(__file__).resolve().parents[2]
CKPT = ROOT / "checkpoints" / "seed-original.safetensors"


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [i.value for i in at.info]
    parts += [w.value for w in at.warning]
    return "\n".join(str(p) for p in parts)


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _wait_for(prefix: str, limit: float = 300.0) -> None:
    """Until no background task whose key starts with ``prefix`` runs (``limit``: a stuck task
    fails the test instead of hanging it)."""
    from model.training.background import TASKS
    end = time.monotonic() + limit
    while time.monotonic() < end:
        with TASKS._lock:
            running = [k for k, t in TASKS._tasks.items() if k.startswith(prefix) and t.running]
        if not running:
            return
        time.sleep(0.5)
    raise AssertionError(f"background tasks {running} still running after {limit} s")


@pytest.fixture(scope="module")
def app() -> AppTest:
    if not CKPT.is_file():
        pytest.skip("checkpoints/seed-original.safetensors is not shipped")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.session_state["lens.on"] = True  # the lens as students get it
    at.run()
    at.selectbox(key="model.choice").select(ModelRef.checkpoint(CKPT)).run()
    _ok(at)
    return at


def _view(at: AppTest, title: str, layer: str | None = None) -> AppTest:
    at.session_state["view"] = title
    if layer is not None:
        at.session_state["layer.name"] = layer
    at.run()
    _ok(at)
    return at


def test_the_lens_refuses_it_and_the_server_draws_its_maps(app: AppTest) -> None:
    at = _view(app, "Feature maps", "relu5")
    t = _texts(at)
    assert ("seed-original is too big to run live in your browser: 22.2 MB of weights to send "
            "to every browser (the lens takes at most 8.0 MB) and 1,549.5 million multiply-adds "
            "per digit") in t
    assert "these are its maps, computed on the server" in t
    assert "The 16 feature maps 0-15 of relu5 (512 channels, 28x28)" in t  # the server's mosaic
    from viz.browser.lens import payload
    from viz.network.npforward import load
    big = payload(load(CKPT))
    assert big["too_big"] and not big["weights"]  # nothing encoded, so nothing to send
    assert big["id"] not in set(at.session_state["lens.sent"])  # (only seed's, from the start)
    assert at.selectbox(key="layer.name").value == "relu5"  # the page's picker, not the lens's


def test_a_heavy_saliency_map_runs_in_the_background_then_shows(app: AppTest) -> None:
    at = app
    at.session_state["sal.method"] = "saliency"
    at = _view(at, "Saliency", "relu5")
    assert "**Saliency for class" in _texts(at) and not at.progress  # cheap: at once
    at.session_state["sal.method"] = "smoothgrad"  # 16 noisy copies: 74 billion MACs
    at.run()
    _ok(at)
    assert at.progress and "SmoothGrad for class" in at.progress[0].proto.text
    assert "16 images through a network of 1,549M multiply-adds each" in at.progress[0].proto.text
    _wait_for("maps:")
    at.run()
    _ok(at)
    assert not at.progress and "**SmoothGrad for class" in _texts(at)


def test_all_methods_put_the_heavy_maps_in_one_background_task(app: AppTest) -> None:
    at = app
    at.session_state["cmp.sanity"] = False
    at = _view(at, "All methods", "head")  # Occlusion's window 14, stride 2: 65 images
    assert at.progress
    assert "3 of the maps (113 images through a network of 1,549M" in at.progress[0].proto.text
    _wait_for("maps:")
    at.run()
    _ok(at)
    assert not at.progress and "All methods for class" in _texts(at)


def test_field_atlas_confusion_and_trust_open(app: AppTest) -> None:
    card = json.loads(CKPT.with_suffix(".json").read_text())
    at = _view(app, "Receptive field", "relu10")
    from model.architectures import ARCHITECTURES
    from viz.network.layers import describe, find
    r = find(describe(ARCHITECTURES["seed-original"].layers()), "relu10").r  # the engine's
    assert r == 28 and f"of relu10** · This unit can only see {r}x{r} pixels" in _texts(at)
    at = _view(app, "Atlas", "conv1")
    assert "The 9 test digits (of 10,000) that excite channel 0 of conv1 most" in _texts(at)
    _wait_for("featvis:")  # conv1's 32 channels: a few seconds
    at = _view(app, "Atlas", "relu5")  # 512 channels: 0.8 quadrillion MACs; one on request
    assert "excite channel 0 of relu5 most" in _texts(at)
    assert "Too costly for all 512 channels of relu5" in _texts(at)
    assert at.button(key="atlas.synth.relu5.0").label == "Synthesize channel 0"
    from model.training.background import TASKS
    assert not [k for k in TASKS._tasks if k.startswith("featvis:") and k.endswith("relu5:0")]
    at = _view(app, "Confusion")
    assert f"Overall accuracy {card['test_accuracy']:.2%}" in _texts(at)
    at.session_state["trust.n.big"] = 5  # 4.6 trillion MACs: asks first, starts nothing
    at = _view(app, "Trust")
    t = _texts(at)
    assert "1,549 million multiply-adds per digit: the seven methods on 5 digits cost 4.6 " \
           "trillion" in t
    assert at.button(key="trust.go").label == "Measure on 5 digits in the background"
    from model.store import file_sha256
    sha = file_sha256(CKPT)  # other tests of this process may have measured other networks
    assert not [k for k in TASKS._tasks if k.startswith(f"trust:{sha}")]


def test_the_lab_compares_it_with_seed_from_the_engine_and_the_cards() -> None:
    from model.architectures import ARCHITECTURES
    from viz.network.card import read_header_file
    from viz.network.layers import analyse
    acc = {n: read_header_file(ROOT / "checkpoints" / f"{n}.safetensors")[0]["test_accuracy"]
           for n in ("seed", "seed-original")}
    rep = {n: analyse(ARCHITECTURES[n].layers()) for n in ("seed", "seed-original")}
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("ui/pages/lab.py").run()
    at.multiselect(key="lab.compare").set_value(["seed", "seed-original"]).run()
    _ok(at)
    table = [d for d in at.dataframe if d.editing_mode == "read_only"][1].value
    assert table.loc["test accuracy (shipped)", "seed"] == f"{acc['seed']:.2%}"
    assert table.loc["test accuracy (shipped)", "seed-original"] == f"{acc['seed-original']:.2%}"
    p, m = (rep["seed-original"].params / rep["seed"].params,
            rep["seed-original"].macs / rep["seed"].macs)
    assert round(p) == 95 and round(m) == 273  # the figures, from the engine
    assert (f"seed-original reaches the same 54x54 field as seed with "
            f"{rep['seed-original'].params - rep['seed'].params:,} more parameters "
            f"({p:,.0f}x seed's) and needs {m:,.0f}x the MACs, for "
            f"{acc['seed-original']:.2%} test accuracy against {acc['seed']:.2%}") in _texts(at)
