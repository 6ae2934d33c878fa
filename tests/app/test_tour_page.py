"""The concepts tour under Streamlit's AppTest: every step on several models, the step picker,
the ?concept= link, presenter mode and a missing input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from model.architectures import ARCHITECTURES
from model.store import ModelRef

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
STEPS = ["convolution", "filters", "epochs", "1x1", "3x3", "feature-maps", "activation",
         "receptive-field", "rules"]
AGREE = "By hand and by the network"


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [i.value for i in at.info] + [w.value for w in at.warning]
    parts += [s.value for s in at.success] + [m.label for m in at.metric]
    parts += [m.value for m in at.metric] + [s.value for s in at.subheader]
    return "\n".join(str(p) for p in parts)


def tour(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.switch_page("ui/pages/tour.py").run()
    ok(at)
    return at


def walk(at: AppTest) -> dict[str, str]:
    """Every step from the first with the Next button: {step: its texts}."""
    at.selectbox(key="tour.pick").select(STEPS[0]).run()
    seen: dict[str, str] = {}
    for i, step in enumerate(STEPS):
        ok(at)
        assert at.selectbox(key="tour.pick").value == step
        assert at.query_params["concept"] == [step] or at.query_params["concept"] == step
        seen[step] = texts(at)
        if i < len(STEPS) - 1:
            at.button(key="tour.next").click().run()
    assert at.button(key="tour.next").disabled
    return seen


def upload(at: AppTest, name: str, data: bytes) -> None:
    at.session_state["model.upload"] = {"name": name, "data": data,
                                        "digest": hashlib.sha256(data).hexdigest()}
    at.run()


@pytest.fixture(scope="module")
def at() -> AppTest:
    return tour()


def test_every_step_on_the_default_model(at: AppTest) -> None:
    assert at.selectbox(key="model.choice").value.kind == "checkpoint"
    seen = walk(at)
    assert AGREE in seen["convolution"] and "The network: conv1 output" in seen["convolution"]
    assert "8 filters × 1 kernel per filter = 8 kernels of 3x3" in seen["filters"]
    assert "Best validation accuracy" in seen["epochs"]
    assert AGREE in seen["1x1"] and "8 values as conv6" in seen["1x1"]
    assert "18** weights per channel pair instead of **25" in seen["3x3"]
    assert "5 at S = 1 (each adds 2); 4 at S = 2 (each adds 4)" in seen["3x3"]
    assert "feature maps of relu1" in seen["feature-maps"]
    assert "relu1 = max(bn1, 0): checked on every pixel" in seen["activation"]
    assert "Field size r" in seen["receptive-field"]
    assert "follows **5 of 5** rules" in seen["rules"]


def test_previous_and_picker(at: AppTest) -> None:
    at.selectbox(key="tour.pick").select("3x3").run()
    at.button(key="tour.prev").click().run()
    ok(at)
    assert at.selectbox(key="tour.pick").value == "1x1"
    at.selectbox(key="tour.pick").select("convolution").run()
    assert at.button(key="tour.prev").disabled


def test_step_widgets(at: AppTest) -> None:
    at.selectbox(key="tour.pick").select("convolution").run()
    at.slider(key="tour.conv.y").set_value(0).run()
    at.slider(key="tour.conv.x").set_value(27).run()
    at.selectbox(key="tour.conv.c").select(5).run()
    ok(at)
    assert "output (0, 27)" in texts(at) and AGREE in texts(at)
    assert "zero padding" in texts(at)
    at.selectbox(key="tour.pick").select("filters").run()
    at.selectbox(key="tour.filt.layer").select("conv7").run()
    ok(at)
    assert "conv7: 12 filters × 8 kernels per filter = 96 kernels" in texts(at)
    at.selectbox(key="tour.pick").select("1x1").run()
    at.slider(key="tour.mix.y").set_value(3).run()
    ok(at)
    assert "At pixel (3, 14)" in texts(at) and AGREE in texts(at)
    at.selectbox(key="tour.pick").select("feature-maps").run()
    at.selectbox(key="tour.fm.layer").select("pool").run()
    ok(at)
    assert "of pool (14x14)" in texts(at)
    at.selectbox(key="tour.pick").select("activation").run()
    at.selectbox(key="tour.act.relu").select("relu8").run()
    at.selectbox(key="tour.act.c").select(3).run()
    ok(at)
    assert "relu8 = max(bn8, 0): checked on every pixel" in texts(at)
    at.selectbox(key="tour.pick").select("receptive-field").run()
    at.select_slider(key="tour.rf.layer").set_value("conv1").run()
    ok(at)
    assert "3x3 pixels" in texts(at)
    at.select_slider(key="tour.rf.layer").set_value("conv10").run()
    ok(at)
    assert "28x28 pixels" in texts(at) and "whole digit" in texts(at)


def test_concept_in_the_address(at: AppTest) -> None:
    at.query_params["concept"] = "epochs"
    at.run()
    ok(at)
    assert at.selectbox(key="tour.pick").value == "epochs"
    at.query_params["concept"] = "no-such-step"
    at.run()
    assert not at.exception
    assert at.selectbox(key="tour.pick").value == "epochs"
    assert any("no tour step `no-such-step`" in w.value for w in at.warning)
    assert at.query_params["concept"] in ("epochs", ["epochs"])
    at.run()
    assert not at.warning


def test_a_link_opens_its_step() -> None:
    at = tour({"concept": "receptive-field"})
    assert at.selectbox(key="tour.pick").value == "receptive-field"
    assert "Field size r" in texts(at)


@pytest.fixture
def untrained(monkeypatch):
    """Offer the untrained networks: ship only the seed checkpoint."""
    from model import store
    only_seed = {"seed": ROOT / "checkpoints" / "seed.safetensors"}
    monkeypatch.setattr(store, "shipped_checkpoints", lambda: dict(only_seed))
    at = tour()
    options = at.selectbox(key="model.choice").options
    assert any("untrained" in o for o in options), options
    return at


def test_untrained_compact(untrained: AppTest) -> None:
    at = untrained
    at.selectbox(key="model.choice").set_value(ModelRef.untrained("compact")).run()
    ok(at)
    seen = walk(at)
    assert AGREE in seen["convolution"] and "no padding" in seen["convolution"]
    assert "untrained" in seen["epochs"] and "zero epochs" in seen["epochs"]
    assert AGREE in seen["1x1"] and "values as conv4" in seen["1x1"]
    assert "compact** has 6 3x3 convs" in seen["3x3"]
    assert "follows **2 of 5** rules" in seen["rules"]
    assert "after only 3 convs" in seen["rules"]


def test_untrained_seed_3x3(untrained: AppTest) -> None:
    at = untrained
    at.selectbox(key="model.choice").set_value(ModelRef.untrained("seed-3x3")).run()
    ok(at)
    seen = walk(at)
    assert AGREE in seen["convolution"] and AGREE in seen["1x1"]
    assert "follows **4 of 5** rules" in seen["rules"]


def test_uploaded_network_without_1x1(at: AppTest) -> None:
    """An uploaded, untrained 'fast' network: a 5x5 first conv, no 1x1, a dense head."""
    import torch  # noqa: F401
    from safetensors.torch import save

    from model.zoo import build
    model = build("fast")
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    card = {"arch": "fast", "layers": model.layer_config}
    upload(at, "fast.safetensors", save(state, metadata={"model_card": json.dumps(card)}))
    assert at.selectbox(key="model.choice").value.kind == "upload"
    seen = walk(at)
    assert AGREE in seen["convolution"] and "5x5" in seen["convolution"]
    assert "no training record" in seen["epochs"]
    assert "has no 1x1 convolution" in seen["1x1"] and "seed" in seen["1x1"]
    assert "follows **1 of 5** rules" in seen["rules"]


def test_presenter_mode_and_no_input() -> None:
    at = tour()
    at.toggle(key="present.on").set_value(True).run()
    ok(at)
    assert not at.title
    walk(at)
    at.toggle(key="present.on").set_value(False).run()
    at.radio(key="in.source").set_value("Upload").run()  # nothing uploaded: no input
    seen = walk(at)
    assert "Pick an input in the sidebar" in seen["convolution"]
    assert "Pick an input" not in seen["filters"] and "kernels of 3x3" in seen["filters"]
    assert "follows **5 of 5** rules" in seen["rules"]


def test_eight_concepts_then_the_rules_one_record_each():
    from ui.tour import page as tour
    assert tour.steps() == ["convolution", "filters", "epochs", "1x1", "3x3", "feature-maps",
                            "activation", "receptive-field", "rules"]
    needs = {k for k, s in tour.REGISTRY.items() if s.needs_input}
    assert needs == {"convolution", "1x1", "feature-maps", "activation", "receptive-field"}
    assert all(s.text for k, s in tour.REGISTRY.items() if k != "rules")


# ---------------------------------------------------------------------- joins (resnet-mini)

NO_EXAMPLE = pytest.mark.skipif("resnet-mini" not in ARCHITECTURES,
                                reason="the example, resnet-mini, is not registered")


@NO_EXAMPLE
def test_a_chain_network_shows_the_residual_example() -> None:
    """The receptive-field step explains a join with resnet-mini's records on a chain network."""
    at = tour({"concept": "receptive-field"})
    seen = texts(at)
    assert "Where branches join" in seen and "This network is one chain" in seen
    assert at.radio(key="tour.rf.join").value == "res2_add"  # through the strided projection
    assert ("res2_add adds 2 branches that start from res1_relu2 (field 7x7, stride 1): "
            "res2_bn2 (through res2_conv1, res2_conv2): 13x13; res2_projbn (through res2_proj): "
            "7x7.") in seen
    assert "the largest, 13x13 (from res2_bn2)" in seen
    at.radio(key="tour.rf.join").set_value("res3_add").run()
    ok(at)
    assert "res2_relu2 (straight from the fork (an identity shortcut)): 13x13" in texts(at)
    assert "the largest, 21x21 (from res3_bn2)" in texts(at)


@NO_EXAMPLE
def test_a_residual_network_explains_its_own_join_at_the_picked_layer() -> None:
    import torch  # noqa: F401
    from safetensors.torch import save

    from model.zoo import build
    model = build("resnet-mini")
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    data = save(state, metadata={"model_card": json.dumps(
        {"arch": "resnet-mini", "layers": model.layer_config})})
    at = tour({"concept": "receptive-field"})
    at.session_state["model.upload"] = {"name": "resnet-mini.safetensors", "data": data,
                                        "digest": hashlib.sha256(data).hexdigest()}
    at.run()
    ok(at)
    assert "This network is one chain" not in texts(at)
    at.select_slider(key="tour.rf.layer").set_value("res1_add").run()
    ok(at)
    seen = texts(at)
    assert not [r for r in at.radio if r.key == "tour.rf.join"]  # the slider's join it is
    assert "res1_add adds 2 branches that start from relu1 (field 3x3, stride 1)" in seen
    assert "the largest, 7x7 (from res1_bn2)" in seen
    assert "Unit (14, 14) of res1_add" in seen
