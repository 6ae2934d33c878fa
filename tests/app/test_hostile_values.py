"""Every value from a link or the browser, hostile: a message on the page, never a traceback,
and never markdown of someone else's making.

Each entry point has its table of cases: the link's parameters (explorer and tour), uploaded file
names, the three browser components' states (the lens's unit and drawing, the unit-field panel's
unit), the atlas and confusion charts' clicks, and the lab's table editor. Component and editor
states are forged the way tests/app/test_lab_page.py forges the editor's: by putting the value
the browser would send in session state before a run. Callbacks (which AppTest does not fire)
run in a small script of their own, on forged states.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
HOST = "evil.example"
IMAGE = f"![x](http://{HOST}/p.png)"
PHISH = f"[Session expired: log in again](http://{HOST}/phish)"


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def shown_texts(at: AppTest) -> list[str]:
    """Every text the page renders as markdown (and the sidebar's)."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [i.value for i in at.info] + [w.value for w in at.warning]
    parts += [s.value for s in at.success] + [t.value for t in at.title]
    return [str(p) for p in parts]


def markdown_outside_code(text: str) -> list[str]:
    """Link, image or URL markdown left in ``text`` once code spans and backslash-escaped
    characters (which render as themselves) are taken out."""
    bare = re.sub(r"\\.", "", re.sub(r"`[^`\n]*`", "", text))
    return [m for m in ("](", "![", "<img", "http://", "https://") if m in bare]


def no_injected_markdown(at: AppTest) -> None:
    for text in shown_texts(at):
        assert HOST not in text or markdown_outside_code(text) == [], text


def app(query: dict[str, str] | None = None, use_lens: bool = False, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["lens.on"] = use_lens
    for k, v in state.items():
        at.session_state[k] = v
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def png(array: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode).save(buf, format="PNG")
    return buf.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels."""
    data = bytearray(png(np.zeros((4, 4), np.uint8)))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return bytes(data)


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


# ---------------------------------------------------------------------------------------------
# Links
# ---------------------------------------------------------------------------------------------

LINKS = [
    ({"layer": IMAGE}, "layer `![x](http://evil.example/p.png)` is not in this model"),
    ({"model": PHISH}, "model `[Session expired: log in again](http://…` is not available"),
    ({"method": IMAGE}, "method `![x](http://evil.example/p.png)` is unknown"),
    ({"view": PHISH}, "view `[Session expired: log in again](http://…` is unknown"),
    ({"unit": IMAGE}, "unit `![x](http://evil.example/p.png)` should be channel,row,column"),
    ({"input": "sample:²"}, "input `sample:²` should be sample:N or test:N"),
    ({"input": "sample:٣"}, "input `sample:٣` should be sample:N or test:N"),
    ({"input": "test:" + "9" * 5000}, "input `test:9999999999999999999999999999999999…`"),  # named (cut), with or without a test set
    ({"unit": "1,1,²"}, "unit `1,1,²` should be channel,row,column"),
    ({"layer": "relu5\n\n# Class dismissed\n" + IMAGE}, "layer `relu5  # Class dismissed ![x](http://ev…`"),
    ({"layer": "`relu5` " + IMAGE}, "layer `'relu5' ![x](http://evil.example/p.png)` is not"),
]


@pytest.mark.parametrize("query,message", LINKS)
def test_link_values_are_shown_as_code(query, message) -> None:
    at = app(query)
    ok(at)
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and "Part of this link could not be used" in warnings[0], warnings
    assert message in warnings[0], warnings[0]
    assert markdown_outside_code(warnings[0]) == []
    no_injected_markdown(at)
    assert "Input: sample 1 of 200" in "\n".join(c.value for c in at.caption)  # the rest works


@pytest.mark.parametrize("value,message", [
    (IMAGE, "no tour step `![x](http://evil.example/p.png)`"),
    (PHISH, "no tour step `[Session expired: log in again](http://…`"),
    ("x" * 100_000, "no tour step `xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…`"),
])
def test_tour_link_values_are_shown_as_code(value, message) -> None:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.query_params["concept"] = value
    at.switch_page("ui/pages/tour.py").run()
    ok(at)
    warnings = [w.value for w in at.warning]
    assert any(message in w for w in warnings), warnings
    assert all(markdown_outside_code(w) == [] for w in warnings)
    no_injected_markdown(at)


# ---------------------------------------------------------------------------------------------
# Names of uploaded files
# ---------------------------------------------------------------------------------------------

def _digit() -> bytes:
    img = np.full((60, 40), 255, np.uint8)
    img[10:50, 15:25] = 0
    return png(img)


@pytest.mark.parametrize("name", [IMAGE + ".png", PHISH, "a`b`" + IMAGE, "x" * 5000 + IMAGE])
@pytest.mark.parametrize("good", [True, False])
def test_uploaded_image_names_are_shown_as_code(name, good) -> None:
    data = _digit() if good else b"not an image"
    at = app(**{"in.source": "Upload", "in.upload": {"name": name, "data": data}})
    ok(at)
    no_injected_markdown(at)
    if good:
        assert any(c.value.startswith("Input: upload `") for c in at.caption)
    else:
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and "not an image Pillow can read" in errors[0], errors
        assert errors[0].startswith("`")


@pytest.mark.parametrize("name", [IMAGE + ".safetensors", PHISH])
def test_uploaded_checkpoint_names_are_escaped(name) -> None:
    data = b"\x00" * 64
    at = app(**{"model.upload": {"name": name, "data": data,
                                 "digest": hashlib.sha256(data).hexdigest()}})
    ok(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("That checkpoint cannot be used."), errors
    assert "\\[" in errors[0] and "http:\\/\\/" in errors[0]  # escaped: shown as typed
    no_injected_markdown(at)


# ---------------------------------------------------------------------------------------------
# The lens (component state): a picked unit and a drawing
# ---------------------------------------------------------------------------------------------

UNITS = [
    {"layer": "relu5", "c": float("inf"), "y": 1, "x": 1},
    {"layer": "relu5", "c": float("nan"), "y": 1, "x": 1},
    {"layer": "relu5", "c": 10 ** 30, "y": 1, "x": 1},
    {"layer": "relu5", "c": -1, "y": 1, "x": 1},
    {"layer": "relu5", "c": 1.5, "y": 1, "x": 1},
    {"layer": "relu5", "c": "2", "y": "one", "x": 1},
    {"layer": "relu5", "c": True, "y": 1, "x": 1},
    {"layer": "relu5", "c": 0},
    {"layer": ["relu5"], "c": 0, "y": 0, "x": 0},
    {"layer": IMAGE * 1000, "c": 0, "y": 0, "x": 0},
    {"layer": "relu5", "c": [0], "y": {}, "x": None},
    "relu5,0,0,0",
    [1, 2, 3],
    None,
]


@pytest.mark.parametrize("unit", UNITS)
def test_forged_lens_units_are_ignored(unit) -> None:
    at = app(use_lens=True, lens={"unit": unit})
    ok(at)
    assert not at.error, [e.value for e in at.error]
    assert not any(m.value.startswith("**Picked:") for m in at.markdown)


def test_a_good_lens_unit_is_still_used() -> None:
    at = app(use_lens=True, lens={"unit": {"layer": "relu5", "c": 2, "y": 99, "x": 3}})
    ok(at)
    assert any(m.value.startswith("**Picked: channel 2, row 27, col 3 of relu5**")
               for m in at.markdown)


DRAWINGS = [
    ({"png": "data:image/png;base64,!!!not base64!!!"}, "not base64"),
    ({"png": "data:image/png;base64,aGVsbG8gd29ybGQ="}, "not a PNG"),
    ({"png": data_url(png_claiming(9000, 9000))}, "9000x9000 pixels is not a drawing"),
    ({"png": data_url(png_claiming(2 ** 31 - 1, 1))}, "pixels is not a drawing"),
    ({"png": "A" * 6_000_000}, "far more than the drawing pad makes"),
    ({"png": 12}, "the pad sent no picture (int)"),
    ({"png": None}, "the pad sent no picture (NoneType)"),
    ({"png": data_url(png(np.zeros((240, 240, 4), np.uint8), "RGBA")),
      "digit": ["x"] * 784, "prediction": "7"}, "no digit found"),
    ({"png": data_url(png(np.zeros((240, 240, 4), np.uint8), "RGBA")[:200])}, "corrupt"),
]


@pytest.mark.parametrize("drawing,message", DRAWINGS)
def test_forged_drawings_get_a_message(drawing, message) -> None:
    at = app(use_lens=True, lens={"drawing": drawing})
    ok(at)
    captions = [c.value for c in at.caption if c.value.startswith("Drawing: ")]
    assert len(captions) == 1 and message in captions[0], captions
    assert not at.error, [e.value for e in at.error]


def test_forged_drawing_with_the_pad_open() -> None:
    """With the sidebar's Draw source and nothing drawn yet, the lens runs outside any guard."""
    at = app(use_lens=True, lens={"drawing": {"png": data_url(png_claiming(9000, 9000)),
                                          "digit": [1e308] * 784, "prediction": float("inf")}},
             **{"in.source": "Draw"})
    ok(at)
    assert any("9000x9000 pixels is not a drawing" in c.value for c in at.caption)


@pytest.mark.parametrize("unit", UNITS[:6] + UNITS[9:11])
def test_forged_units_in_the_tours_field_panel_are_ignored(unit) -> None:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.query_params["concept"] = "receptive-field"
    at.session_state["tour.rf.panel"] = {"unit": unit}
    at.switch_page("ui/pages/tour.py").run()
    ok(at)
    assert not at.error, [e.value for e in at.error]
    assert any(m.value.startswith("**Unit (") for m in at.markdown)


def test_a_forged_unit_in_the_session_stays_inside_the_layer() -> None:
    at = app(view="Receptive field", **{"rf.unit": {"layer": "relu5", "c": 10 ** 9, "y": 1,
                                                    "x": 1}, "rf.channel.relu5": 10 ** 9})
    ok(at)
    assert not at.error, [e.value for e in at.error]
    c = at.session_state["rf.unit"]["c"]
    assert at.selectbox(key="rf.channel.relu5").value == c < 10 ** 9


# ---------------------------------------------------------------------------------------------
# Callbacks, on forged states (AppTest does not fire them: a script calls each)
# ---------------------------------------------------------------------------------------------

def _callback_script() -> None:
    import numpy as np
    import streamlit as st

    from ui.views import atlas, confusion, field, maps

    class Layer:
        index = np.arange(4 * 9).reshape(4, 9)
        unit = np.zeros((4, 9, 2), int)

    class Atlas:
        def layer(self, name):
            return Layer()

    st.session_state.setdefault("atlas.current", Atlas())
    calls = {
        "use_unit": maps._use_unit,
        "use_drawing": maps._use_drawing,
        "sync_layer": maps._sync_layer,
        "on_pick": field._on_pick,
        "on_cell": confusion._on_cell,
        "on_digit": lambda: confusion._on_digit([5, 6, 7]),
        "on_patch": lambda: atlas._on_patch("relu5", 1, "atlas.row.relu5.1"),
    }
    calls[st.session_state["callback"]]()
    st.write("called")


def callback(name: str, **state) -> AppTest:
    at = AppTest.from_function(_callback_script, default_timeout=60)
    at.session_state["callback"] = name
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    ok(at)
    assert at.markdown[-1].value == "called"
    return at


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("name,key", [("use_unit", "lens"), ("on_pick", "rf.panel")])
def test_unit_callbacks_ignore_forged_units(name, key, unit) -> None:
    before = {"layer": "relu5", "c": 1, "y": 2, "x": 3}
    at = callback(name, **{key: {"unit": unit}, "rf.unit": dict(before)})
    assert at.session_state["rf.unit"] == before


def test_unit_callbacks_take_a_good_unit() -> None:
    at = callback("on_pick", **{"rf.panel": {"unit": {"layer": "relu5", "c": 1, "y": 7.0,
                                                      "x": "4"}},
                                "rf.unit": {"layer": "relu5", "c": 1, "y": 2, "x": 3}})
    assert at.session_state["rf.unit"] == {"layer": "relu5", "c": 1, "y": 7, "x": 4}


def _cut(text: str) -> str:
    return text[: len(text) // 8 * 4]  # half of it, still base64


@pytest.mark.parametrize("drawing", [d for d, m in DRAWINGS if m != "no digit found"] + [
    "not a dict", {"png": _cut(data_url(png(np.zeros((1024, 1024, 4), np.uint8), "RGBA")))}])
def test_the_drawing_callback_keeps_nothing_from_a_forged_drawing(drawing) -> None:
    at = callback("use_drawing", lens={"drawing": drawing})
    assert "in.drawing" not in at.session_state
    assert "lens.new_input" not in at.session_state


def test_the_drawing_callback_keeps_only_a_pad_sized_drawing() -> None:
    rgba = np.zeros((1024, 1024, 4), np.uint8)
    rgba[200:800, 450:550, 3] = 255
    at = callback("use_drawing", lens={"drawing": {"png": data_url(png(rgba, "RGBA"))}})
    kept = at.session_state["in.drawing"]
    assert kept.shape == (240, 240, 4) and kept[..., 3].max() == 255


@pytest.mark.parametrize("layer", [None, 5, ["relu5"], "x" * 65, ""])
def test_the_layer_callback_ignores_forged_layers(layer) -> None:
    at = callback("sync_layer", lens={"layer": layer}, **{"layer.name": "relu3"})
    assert at.session_state["layer.name"] == "relu3"


CLICKS = [
    {"selection": {"points": [{"customdata": ["x", 1]}]}},
    {"selection": {"points": [{"customdata": [float("inf"), 1]}]}},
    {"selection": {"points": [{"customdata": [1.5, 1]}]}},
    {"selection": {"points": [{"customdata": [-1, -1]}]}},
    {"selection": {"points": [{"customdata": [10 ** 30, 10 ** 30]}]}},
    {"selection": {"points": [{"customdata": [1]}]}},
    {"selection": {"points": [{"customdata": {"0": 1, "1": "two"}}]}},
    {"selection": {"points": [{"customdata": None}]}},
    {"selection": {"points": ["not a point"]}},
    {"selection": {"points": {"0": {}}}},
    {"selection": {"points": [{"customdata": [9, 12]}]}},  # a cell past the matrix, a row past
]


@pytest.mark.parametrize("name,key", [("on_cell", "cm.matrix"), ("on_digit", "cm.digits"),
                                      ("on_patch", "atlas.row.relu5.1")])
@pytest.mark.parametrize("click", CLICKS)
def test_forged_chart_clicks_get_a_notice(name, key, click) -> None:
    at = callback(name, **{key: click})
    assert "cm.cell" not in at.session_state and "in.source" not in at.session_state
    assert "That click could not be read" in at.session_state["atlas.notice"]


@pytest.mark.parametrize("click", [{"selection": {"points": []}}, {"selection": None}, "x", 5])
@pytest.mark.parametrize("name,key", [("on_cell", "cm.matrix"), ("on_digit", "cm.digits")])
def test_no_click_is_no_notice(name, key, click) -> None:
    at = callback(name, **{key: click})
    assert "atlas.notice" not in at.session_state and "cm.cell" not in at.session_state


def test_a_good_confusion_click_still_works() -> None:
    at = callback("on_cell", **{"cm.matrix": {"selection": {"points": [
        {"customdata": {"0": 3, "1": 5.0}}]}}})
    assert at.session_state["cm.cell"] == (3, 5)


# ---------------------------------------------------------------------------------------------
# The lab's table editor (its state)
# ---------------------------------------------------------------------------------------------

EDITS = [
    ({"edited_rows": {"0": {"kernel": "abc"}}}, "kernel `abc` is not a number"),
    ({"edited_rows": {"0": {"kernel": 1e308}}}, "is not a number from -1,000,000"),
    ({"edited_rows": {"0": {"kernel": float("inf")}}}, "kernel `inf` is not a number"),
    ({"edited_rows": {"0": {"channels": True}}}, "channels `True` is not a number"),
    ({"edited_rows": {"0": {"type": ["conv"]}}}, "the type `['conv']` is not one of"),
    ({"edited_rows": {"0": {"type": IMAGE * 10}}}, "the type `![x](http://evil.example/p.png"),
    ({"edited_rows": {"0": {"nocolumn": 1}}}, "there is no column `nocolumn`"),
    ({"edited_rows": {"x": {"kernel": 3}}}, "row `x` is not in the table"),
    ({"edited_rows": {"999": {"kernel": 3}}}, "row `999` is not in the table"),
    ({"edited_rows": {"0": "conv"}}, "is not a table row"),
    ({"added_rows": [{"type": "conv", "kernel": 3}] * 20_000}, "rows is more than the lab's table holds (200)"),
    ({"added_rows": ["conv"]}, "is not a table row"),
    ({"added_rows": [{"type": "conv", "kernel": "3; DROP"}]}, "kernel `3; DROP` is not a number"),
    ({"deleted_rows": ["a"]}, "row `a` is not in the table"),
    ({"deleted_rows": [10 ** 9]}, "row `1000000000` is not in the table"),
    ({"edited_rows": [], "added_rows": {}, "deleted_rows": "x"}, "the edits are not a table's"),
]


@pytest.mark.parametrize("state,message", EDITS)
def test_forged_lab_edits_get_a_message(state, message, monkeypatch) -> None:
    from streamlit.elements.widgets import data_editor
    seen: list[int] = []
    apply = data_editor._apply_row_additions

    def counting(df, added_rows, schema):
        seen.append(len(added_rows))
        return apply(df, added_rows, schema)

    monkeypatch.setattr(data_editor, "_apply_row_additions", counting)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("ui/pages/lab.py").run()
    ok(at)
    version = at.session_state["lab.version"]
    at.session_state[f"lab.editor.{version}"] = {"edited_rows": {}, "added_rows": [],
                                                 "deleted_rows": [], **state}
    at.run()
    ok(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("The table's edits could not be read ("), \
        errors
    assert message in errors[0], errors[0]
    assert markdown_outside_code(errors[0]) == []
    assert {m.label: m.value for m in at.metric}["Parameters"] == "43,846"  # the seed table back
    assert max(seen, default=0) <= 200  # no more rows than the lab holds ever reached pandas
    at.run()  # and the next run is clean
    ok(at)
    assert not at.error


# ---------------------------------------------------------------------------------------------
# Widgets' values (any value for any widget): dropped with a message, the widget at its default
# ---------------------------------------------------------------------------------------------

WIDGETS = [  # (id, link, widget key, forged value, what the message names)
    ("sample-string", {}, "in.sample.any", "abc", "The Sample slider got `abc`"),
    ("sample-nan", {}, "in.sample.any", float("nan"), "The Sample slider got `nan`"),
    ("sample-huge", {}, "in.sample.any", 10 ** 12, "a whole number from 1 to 200"),
    ("sample-list", {}, "in.sample.any", [1], "The Sample slider got `[1]`"),
    ("digit-none", {}, "in.digit", None, "The Digit filter got `None`"),
    ("source-list", {}, "in.source", ["Draw"], "The Digit from choice got `['Draw']`"),
    ("window-nan", {"view": "saliency", "method": "occlusion"}, "sal.window.relu5",
     float("nan"), "The Window box got `nan` from your browser, which is not a whole number from 1 to 28"),
    ("window-string", {"view": "saliency", "method": "occlusion"}, "sal.window.relu5", "abc",
     "The Window box got `abc`"),
    ("stride-none", {"view": "saliency", "method": "occlusion"}, "sal.stride.relu5", None,
     "The Stride box got `None`"),
    ("method-none", {"view": "saliency"}, "sal.method", None, "The Method choice got `None`"),
    ("target-none", {"view": "saliency"}, "sal.target", None, "The Target class picker got"),
    ("sanity-string", {"view": "compare"}, "cmp.sanity", "abc", "The Sanity check switch got"),
    ("every-nan", {"view": "field"}, "rf.every", float("nan"), "The Show every layer switch"),
    ("atlas-grid-list", {"view": "atlas"}, "atlas.grid", [1], "The whole-layer switch got"),
    ("trust-n-none", {"view": "trust"}, "trust.n", None, "The Digits slider got `None`"),
    ("fm-page-nan", {"view": "maps", "layer": "relu1"}, "fm.page", float("nan"),
     "The Page box got `nan`"),
    ("fm-cmap-image", {"view": "maps"}, "fm.cmap", IMAGE, "The Colours choice got `![x]"),
]


@pytest.mark.parametrize("query,key,value,message", [w[1:] for w in WIDGETS],
                         ids=[w[0] for w in WIDGETS])
def test_forged_widget_values_get_a_message(query, key, value, message) -> None:
    at = app(query, **{key: value})
    ok(at)
    assert not at.error, [e.value for e in at.error]
    captions = [c.value for c in at.caption if "from your browser" in c.value]
    assert len(captions) == 1 and message in captions[0], captions
    assert "back at its default" in captions[0]
    assert markdown_outside_code(captions[0]) == []
    no_injected_markdown(at)


# ---------------------------------------------------------------------------------------------
# Component states as the websocket carries them (JSON text), forged below the session state
# ---------------------------------------------------------------------------------------------

def _component_id(at: AppTest, key: str) -> str:
    return next(n.proto.id for n in at._tree if getattr(n, "type", None) == "bidi_component"
                and n.proto.id.endswith(f"-{key}"))


WIRE = [  # (id, the component's state or event list as JSON text, why it was ignored)
    ("state-not-json", "state", "{not json", "it is not JSON"),
    ("state-deep-100k", "state", "[" * 100_000 + "]" * 100_000, "nests more than 64 levels"),
    ("state-unit-deep", "state", '{"unit": ' + "{\"a\": " * 100_000 + "1" + "}" * 100_001,
     "nests more than 64 levels"),
    ("state-too-long", "state", '{"unit": "' + "x" * 8_000_001 + '"}', "8,000,0"),
    ("event-deep-100k", "event", "[" * 100_000 + "]" * 100_000, "nests more than 64 levels"),
]


@pytest.mark.parametrize("field,text,why", [w[1:] for w in WIRE], ids=[w[0] for w in WIRE])
def test_forged_unit_field_wire_states_get_a_message(field, text, why) -> None:
    from streamlit.components.v2.bidi_component.main import _make_trigger_id
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    at = app({"view": "field"})
    ok(at)
    wid = _component_id(at, "rf.panel")
    states = at._tree.get_widget_states()
    if field == "state":
        states.widgets.append(WidgetState(id=wid, json_value=text))
    else:
        states.widgets.append(WidgetState(id=_make_trigger_id(wid, "events"),
                                          json_trigger_value=text))
    at._run(states)  # as a browser's message carries them (AppTest's public API cannot)
    ok(at)
    assert not at.error, [e.value for e in at.error]
    notes = [c.value for c in at.caption if "for the unit panel could not be read" in c.value]
    assert len(notes) == 1 and why in notes[0], notes
    assert any(m.value.startswith("**Unit (") for m in at.markdown)  # the panel still works
    at.run()  # and the next run is clean, with no message left over
    ok(at)
    assert not any("could not be read" in c.value for c in at.caption)


@pytest.mark.parametrize("text,why", [
    ("[]", None), ('{"unit": {"layer": "relu5", "c": 1}}', None), ("1" * 10, None),
    ("[" * 65 + "]" * 65, "nests more than 64 levels deep"),
    ('["' + "[" * 1000 + '"]', None),  # brackets inside a string do not nest
    ("{bad", "it is not JSON"), (None, "it is not text (NoneType)"),
], ids=["empty-list", "unit", "number", "65-deep", "brackets-in-string", "not-json", "none"])
def test_wire_json_is_bounded_before_parsing(text, why) -> None:
    from viz.inputs import wirejson
    value, problem = wirejson.loads(text)
    assert problem == why if why is None else why in problem
    if why is None:
        import json
        assert value == json.loads(text)


def test_an_unknown_layer_does_not_leave_its_unit_outside_none() -> None:
    at = app({"layer": "nope", "unit": "99,99,99"})
    ok(at)
    warning = at.warning[0].value
    assert "outside None" not in warning
    assert "unit 99,99,99 was not used: it needs a layer of this model" in warning
