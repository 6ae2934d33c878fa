"""Shareable URLs, presenter mode and exports, under AppTest."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.app.test_app import APP, ok, texts


def open_link(lens: bool = False, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["lens.on"] = lens  # the server's maps: their widgets are driven here
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    ok(at)
    return at


def test_link_opens_exact_view() -> None:
    at = open_link(model="seed", sample="18", layer="conv3", view="field", unit="2,5,7")
    assert at.selectbox(key="model.choice").value.target.endswith("checkpoints/seed.safetensors")
    # the link's number is the one the sidebar shows (and a teacher reads aloud)
    assert at.slider(key="in.sample.any").value == 18
    assert "Input: sample 18 of 200" in texts(at)
    assert at.selectbox(key="layer.name").value == "conv3"
    assert at.session_state["view"] == "Receptive field"
    assert "Unit (channel 2, row 5, col 7) of conv3" in texts(at)
    assert not at.warning


def test_address_bar_follows_the_view() -> None:
    at = open_link()
    at.selectbox(key="layer.name").set_value("relu3").run()
    ok(at)
    params = {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}
    assert params["model"] == "seed" and params["layer"] == "relu3"
    assert params["sample"] == "1" and "input" not in params and params["view"] == "maps"
    at.session_state["view"] = "Saliency"
    at.run()
    params = {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}
    assert params["view"] == "saliency" and params["method"] == "saliency"
    # ... and the link it writes reopens the same view.
    again = open_link(**params)
    assert again.session_state["view"] == "Saliency"
    # Saliency of the input needs no layer (no picker shown); the link keeps the layer for the
    # views that do.
    reopened = {k: v[0] if isinstance(v, list) else v for k, v in again.query_params.items()}
    assert reopened["layer"] == "relu3"
    again.session_state["view"] = "Feature maps"
    again.run()
    assert again.selectbox(key="layer.name").value == "relu3"


def test_an_old_link_counting_samples_from_0_opens_the_same_digit() -> None:
    at = open_link(model="seed", input="sample:17", layer="conv3")
    assert at.slider(key="in.sample.any").value == 18
    assert "Input: sample 18 of 200" in texts(at) and not at.warning
    params = {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}
    assert params["sample"] == "18" and "input" not in params  # rewritten in the new form


def test_bad_link_parts_are_named_and_the_rest_applies() -> None:
    at = open_link(model="seed-3x3", input="sample:999", layer="nope", unit="a,b",
                   method="magic")
    shown = " ".join(w.value for w in at.warning)
    assert "Part of this link could not be used" in shown
    for part in ("sample:999", "layer `nope`", "unit `a,b`", "method `magic`"):
        assert part in shown, part
    assert at.selectbox(key="model.choice").value.target.endswith("seed-3x3.safetensors")
    assert not at.error


def test_unit_outside_layer_is_refused() -> None:
    at = open_link(model="seed", layer="conv1", unit="99,0,0")
    assert "unit 99,0,0 is outside conv1" in " ".join(w.value for w in at.warning)


def test_presenter_mode_from_link_and_toggle() -> None:
    at = open_link(present="1")
    assert at.session_state["present.on"] is True
    assert any("stMainMenu" in m.value for m in at.markdown)
    at.toggle(key="present.on").set_value(False).run()
    ok(at)
    assert not any("stMainMenu" in m.value for m in at.markdown)


def test_receptive_field_table_downloads_as_csv() -> None:
    at = open_link(model="seed", view="field")
    ok(at)
    buttons = [b for b in at.get("download_button") if "CSV" in b.proto.label]
    assert buttons, "no CSV download on the receptive-field view"
    # The data itself is checked in tests/viz/test_fields.py::test_table_csv.


def test_link_opens_the_lens_on_its_layer_and_unit() -> None:
    at = open_link(lens=True, model="seed", input="sample:3", layer="conv3", view="maps",
                   unit="2,5,7")
    assert at.session_state["layer.name"] == "conv3"
    assert at.session_state["rf.unit"] == {"layer": "conv3", "c": 2, "y": 5, "x": 7}
    assert not [s for s in at.selectbox if s.key == "layer.name"]  # the lens has the picker
    params = {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    assert params["layer"] == "conv3" and params["view"] == "maps"
