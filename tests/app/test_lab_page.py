"""The architecture lab under Streamlit's AppTest, and its table handling without Streamlit.

AppTest cannot type into a data_editor, but a keyed editor takes its edit state (edited_rows,
added_rows, deleted_rows) from session state before a run: that is how these tests edit the
table, exactly as the browser would.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from model.zoo import ARCHITECTURES, build
from tests.app.test_train_page import placeholder_mnist
from tests.torch_oracle import count_macs, count_params
from ui import lab
from viz.teaching import lab as viz_lab
from viz.teaching.lab import layers_to_rows

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


def open_lab() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("ui/pages/lab.py").run()
    ok(at)
    return at


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [i.value for i in at.info] + [w.value for w in at.warning]
    return "\n".join(str(p) for p in parts)


def edit(at: AppTest, edited=None, added=None, deleted=None) -> AppTest:
    """Edit the lab's table as the browser does (row numbers are positions in the table)."""
    key = f"lab.editor.{at.session_state['lab.version']}"
    at.session_state[key] = {"edited_rows": edited or {}, "added_rows": added or [],
                             "deleted_rows": deleted or []}
    return at.run()


@pytest.fixture(scope="module")
def app() -> AppTest:
    return open_lab()


def torch_numbers(arch: str) -> tuple[int, int]:
    model = build(arch)
    return count_params(model), sum(count_macs(model).values())


def test_opens_on_seed(app: AppTest) -> None:
    assert app.title[0].value == "Architecture lab"
    assert not app.error
    m = metrics(app)
    assert m["Parameters"] == "43,846" == f"{torch_numbers('seed')[0]:,}"
    assert m["Final receptive field"] == "54x54"
    assert m["Layers"] == "11"
    assert m["MACs per image"] == "5.68 M"
    editor = app.data_editor[0]
    assert editor.editing_mode == "dynamic"
    assert list(editor.value.columns) == list(lab.COLUMNS)
    assert len(editor.value) == len(ARCHITECTURES["seed"].layers())
    # the input pickers are hidden on this page
    assert not [r for r in app.sidebar.radio if r.key == "in.source"]


def test_per_layer_table_and_csv(app: AppTest) -> None:
    tables = [d for d in app.dataframe if d.editing_mode == "read_only"]
    table = tables[0].value
    assert list(table.columns) == ["layer", "type", "output", "r", "S", "P", "params", "MACs"]
    # the layers are named as the architecture (and the explorer) names them
    assert list(table["layer"])[-4:] == ["conv9", "conv10", "head", "flatten"]
    assert "pool" in set(table["layer"]) and "pool1" not in set(table["layer"])
    head = table[table["layer"] == "head"].iloc[0]  # the seed's 14x14 head
    assert (head["output"], head["r"], head["S"]) == ("10x1x1", "54", "2")
    assert head["params"] == 16 * 14 * 14 * 10 + 10
    assert "relu1" not in set(table["layer"])  # bn / relu / dropout hidden by default
    app.toggle(key="lab.every").set_value(True).run()
    ok(app)
    table = [d for d in app.dataframe if d.editing_mode == "read_only"][0].value
    assert "relu1" in set(table["layer"])
    app.toggle(key="lab.every").set_value(False).run()
    button = app.get("download_button")[0]
    assert button.proto.label == "⬇ CSV"


def test_compare_section(app: AppTest) -> None:
    assert app.multiselect(key="lab.compare").value == ["seed", "seed-3x3", "seed-original"]
    table = [d for d in app.dataframe if d.editing_mode == "read_only"][1].value
    assert list(table.columns) == ["seed", "seed-3x3", "seed-original"]
    for arch in table.columns:
        params, macs = torch_numbers(arch)
        assert table.loc["params", arch] == f"{params:,}"
        assert table.loc["MACs", arch] == viz_lab.millions(macs)
        assert table.loc["final r", arch] == "54"
    assert table.loc["before the head", "seed-3x3"] == "16x2x2"
    assert table.loc["conv + linear layers", "seed-3x3"] == "17"
    fewer = torch_numbers("seed")[0] - torch_numbers("seed-3x3")[0]
    assert (f"seed-3x3 reaches the same 54x54 field as seed with {fewer:,} fewer parameters"
            in texts(app))
    assert "seed-original reaches the same 54x54 field as seed" in texts(app)
    assert "273x the MACs" in texts(app)


def test_compare_needs_two_and_takes_your_table() -> None:
    at = open_lab()
    at.multiselect(key="lab.compare").set_value(["seed"]).run()
    ok(at)
    assert "Pick at least two networks" in texts(at)
    at.multiselect(key="lab.compare").set_value(["compact", "your table"]).run()
    ok(at)
    table = [d for d in at.dataframe if d.editing_mode == "read_only"][1].value
    assert table.loc["params", "your table"] == "43,846"
    edit(at, edited={0: {"type": "linear"}})
    ok(at)
    assert "Your table is not a valid network yet" in texts(at)


def test_start_from_changes_the_table(tmp_path, monkeypatch) -> None:
    placeholder_mnist(tmp_path / "mnist", monkeypatch)  # the estimate is for a run that can start
    at = open_lab()
    at.selectbox(key="lab.start").select("seed-3x3").run()
    ok(at)
    assert metrics(at)["Parameters"] == "27,142" == f"{torch_numbers('seed-3x3')[0]:,}"
    assert metrics(at)["Final receptive field"] == "54x54"
    assert len(at.data_editor[0].value) == len(ARCHITECTURES["seed-3x3"].layers())
    at.selectbox(key="lab.start").select("seed-original").run()
    ok(at)
    assert metrics(at)["Parameters"] == "4,155,626"
    assert "would take about" in texts(at)  # hours on this server: refused, the button off
    assert "this server allows runs of up to" in texts(at)
    assert at.button(key="lab.train").disabled
    at.selectbox(key="lab.start").set_value(lab.SIDEBAR).run()
    ok(at)
    assert metrics(at)["Parameters"] == "43,846"  # the sidebar's default: seed (trained)


def test_edits_update_and_reset() -> None:
    at = open_lab()
    # widen conv1 from 8 to 16 channels: conv1 and bn1 and conv2 grow
    edit(at, edited={0: {"channels": 16}})
    ok(at)
    assert not at.error
    expected = 43_846 + 8 * 9 + 2 * 8 + 8 * 9 * 10
    assert metrics(at)["Parameters"] == f"{expected:,}"
    at.button(key="lab.reset").click().run()
    ok(at)
    assert metrics(at)["Parameters"] == "43,846"


def test_edits_survive_a_visit_to_another_page() -> None:
    at = open_lab()
    edit(at, edited={0: {"channels": 16}})
    changed = metrics(at)["Parameters"]
    assert changed != "43,846"
    at.switch_page("ui/pages/tour.py").run()
    ok(at)
    at.switch_page("ui/pages/lab.py").run()
    ok(at)
    assert metrics(at)["Parameters"] == changed


BAD_EDITS = [
    ({0: {"type": "linear"}}, None, None, "needs a flatten"),
    ({0: {"type": None}}, None, None, "row 1 has no layer type"),
    ({0: {"kernel": 30}}, None, None, "kernel"),
    ({0: {"kernel": -3}}, None, None, "kernel must be at least 1"),
    ({0: {"stride": 0}}, None, None, "stride must be at least 1"),
    ({0: {"padding": -1}}, None, None, "padding must be at least 0"),
    ({0: {"channels": 0}}, None, None, "channels must be at least 1"),
    ({len(ARCHITECTURES["seed"].layers()) - 2: {"channels": 7}}, None, None,
     "must end with 10 outputs, one per digit; it ends with 7"),
    (None, [{"type": "linear", "channels": 12}], None, "it ends with 12"),
    (None, [{"type": "conv", "kernel": 1}], None, "after flatten only linear"),
    (None, None, list(range(len(ARCHITECTURES["seed"].layers()))), "empty"),
]


@pytest.mark.parametrize("edited,added,deleted,message", BAD_EDITS)
def test_invalid_networks_show_a_message(app: AppTest, edited, added, deleted,
                                         message) -> None:
    edit(app, edited, added, deleted)
    ok(app)
    assert app.error, "an invalid network must say so"
    assert app.error[0].value.startswith("This network does not work: ")
    assert message in app.error[0].value
    assert not app.metric
    assert app.button(key="lab.train").disabled
    app.button(key="lab.reset").click().run()
    ok(app)
    assert not app.error and metrics(app)["Parameters"] == "43,846"


BAD_TABLES = [
    [{"type": "linear", "channels": 10}],
    [{"type": None, "kernel": 3}],
    [{"type": "", "kernel": 3}],
    [{"type": "conv", "kernel": math.nan, "channels": 10, "stride": math.inf}],
    [{"type": "conv", "kernel": 3.5, "channels": 10}],
    [{"type": "conv", "kernel": 40, "channels": 10}],
    [{"type": "conv", "kernel": 3, "dilation": 20, "channels": 10}],
    [{"type": "maxpool", "kernel": 2, "padding": 2}],
    [{"type": "conv", "kernel": -1, "channels": 10}],
    [{"type": "conv", "kernel": 3, "padding": -2, "channels": 10}],
    [{"type": "conv", "kernel": 3, "stride": 0, "channels": 10}],
    [{"type": "conv", "kernel": 28, "channels": -10}],
    [{"type": "gap"}, {"type": "conv", "kernel": 2, "channels": 10}],
    [{"type": "flatten"}, {"type": "bn"}],
    [{"type": "conv", "kernel": 28, "channels": 10}, {"type": "flatten"},
     {"type": "linear", "channels": 12}],
    [{"type": "maxpool", "kernel": 2}] * 6,
    [],
]


@pytest.mark.parametrize("rows", BAD_TABLES)
def test_bad_tables_raise_value_error(rows) -> None:
    """Tables as the editor returns them (blank cells NaN / NA): always a ValueError."""
    frame = pd.DataFrame(rows, columns=list(lab.COLUMNS))
    with pytest.raises(ValueError):
        viz_lab.check(lab.frame_rows(frame))


def test_frame_rows_reads_editor_cells() -> None:
    rows = layers_to_rows(ARCHITECTURES["fast"].layers())
    back = lab.frame_rows(lab._frame(rows))
    assert back == rows
    layers, report = viz_lab.check(back)
    assert report.params == torch_numbers("fast")[0]
    blank = pd.DataFrame([{c: None for c in lab.COLUMNS}] + rows[:1])
    assert lab.frame_rows(blank) == rows[:1]  # an all-blank added row is ignored


@pytest.mark.mnist
def test_train_this(mnist_dir, tmp_path, monkeypatch) -> None:
    from ui import common
    monkeypatch.setenv("CNN_LENS_RUNS_DIR", str(tmp_path / "runs"))
    at = open_lab()
    at.number_input(key="lab.epochs").set_value(2).run()
    at.button(key="lab.train").click().run()
    ok(at)
    manager = common.job_manager()
    job = manager.current
    assert job is not None, texts(at)
    job.stop()  # a real run of the lab's network was started; no need to finish it
    manager.wait(120)
    cfg = job.config
    assert cfg.arch == "lab" and cfg.epochs == 2
    assert [rec["type"] for rec in cfg.layers] == [rec["type"] for rec in ARCHITECTURES["seed"].layers()]
    assert build_from_layers_params(cfg.layers) == 43_846
    assert job.status == "stopped", job.error
    assert at.title[0].value == "Train a network"  # switched to the train page


def build_from_layers_params(layers) -> int:
    from model.zoo import build_from_config
    return count_params(build_from_config("lab", layers))


def test_train_this_says_up_front_that_mnist_is_missing(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))  # an empty folder
    at = open_lab()
    assert at.button(key="lab.train").disabled  # before any click
    warning = " ".join(w.value for w in at.warning)
    assert "Training needs the MNIST digits" in warning
    assert f"`.venv/bin/python -m model.data {tmp_path}`" in warning
    assert "takes about" not in texts(at) and "would take" not in texts(at)
    assert metrics(at)["Parameters"] == "43,846"  # the rest of the lab works


def test_presenter_mode_hides_help() -> None:
    at = open_lab()
    assert "Edit any cell" in texts(at)
    at.session_state["present.on"] = True
    at.run()
    ok(at)
    assert "Edit any cell" not in texts(at)
    assert metrics(at)["Parameters"] == "43,846"


def test_tables_over_the_upload_limits_are_refused_with_their_message() -> None:
    from viz.network.card import LIMITS
    rows = [{"type": "conv", "padding": 1, "channels": 3000},
            {"type": "conv", "padding": 1, "channels": 3000}, {"type": "gap"},
            {"type": "flatten"}, {"type": "linear"}]
    with pytest.raises(ValueError, match=f"this network is too big: 81,063,010 parameters and "
                                         f"\\d+ GMAC per image and 4,710,010 activation values "
                                         f"per image; {LIMITS}"):
        lab.check(rows)


def test_blank_cells_are_blank_and_reset_sits_below_the_table(app: AppTest) -> None:
    editor = app.data_editor[0]
    assert editor.proto.placeholder == ""  # Streamlit's default shows blanks as "None"
    assert editor.value.loc[2, "kernel"] is pd.NA  # bn1's kernel: a blank, not a value
    assert list(editor.value["name"])[:5] == ["conv1", "bn1", "relu1", "drop1", "conv2"]
    # the editor's toolbar floats over what is just above the table: Reset comes after it
    keys = [k for e in _walk(app.main) if (k := getattr(e, "key", None))]
    assert keys.index("lab.reset") == keys.index(editor.key) + 1


def _walk(node):
    """Every element under ``node``, in page order."""
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def test_a_broken_edit_names_the_layer_the_change_and_the_fix() -> None:
    at = open_lab()
    edit(at, edited={0: {"kernel": 5}})  # conv1's kernel 3 -> 5 shrinks every later map by 2
    ok(at)
    message = at.error[0].value
    assert message.startswith("This network does not work: layer 'head' (row 41): kernel (14 "
                              "with dilation) is larger than its padded input height (13")
    assert "It stopped working with your change to row 1 (conv1): kernel 3 → 5." in message
    assert "Padding 2 on row 1 keeps conv1's output at 28x28 and makes the network work again" \
        in message
    assert at.button(key="lab.train").disabled and not at.metric
    edit(at, edited={0: {"kernel": 5, "padding": 2}})  # the fix it names works
    ok(at)
    assert not at.error and metrics(at)["Parameters"] == f"{43_846 + 8 * 16:,}"


def test_a_cell_the_row_type_does_not_use_is_refused() -> None:
    at = open_lab()
    edit(at, edited={3: {"kernel": 3}})  # a kernel on drop1
    ok(at)
    assert at.error[0].value.startswith(
        "This network does not work: row 4 (drop1): dropout has no kernel (only the name and "
        "type apply to a dropout row); clear that cell")
    edit(at, edited={23: {"dilation": 2, "channels": 4}})  # pooling has neither
    ok(at)
    assert ("row 24 (pool): maxpool has no dilation or channels (a maxpool row uses kernel, "
            "stride and padding); clear those cells") in at.error[0].value


def test_names_are_kept_edited_and_checked() -> None:
    at = open_lab()
    edit(at, edited={40: {"name": "classifier"}})
    ok(at)
    table = [d for d in at.dataframe if d.editing_mode == "read_only"][0].value
    assert "classifier" in set(table["layer"]) and "head" not in set(table["layer"])
    edit(at, edited={40: {"name": "conv1"}})
    ok(at)
    assert "rows 1 and 41 are both named 'conv1'" in at.error[0].value
    edit(at, added=[{"type": "relu"}])  # a new row without a name gets one no row uses
    ok(at)
    at.toggle(key="lab.every").set_value(True).run()
    table = [d for d in at.dataframe if d.editing_mode == "read_only"][0].value
    assert not at.error and list(table["layer"])[-3:] == ["head", "flatten", "relu11"]


def test_a_residual_network_in_the_lab() -> None:
    """resnet-mini's joins in the inputs column; an edited inputs cell is read, a bad one named."""
    at = open_lab()
    at.selectbox(key="lab.start").select("resnet-mini").run()
    ok(at)
    assert metrics(at)["Parameters"] == "38,266" == f"{torch_numbers('resnet-mini')[0]:,}"
    frame = at.data_editor[0].value
    names = list(frame["name"])
    row = names.index("res2_add")
    assert frame["inputs"].iloc[row] == "res2_bn2, res2_projbn"
    at.toggle(key="lab.every").set_value(True).run()
    table = [d for d in at.dataframe if d.editing_mode == "read_only"][0].value
    add = table[table["layer"] == "res2_add"].iloc[0]
    assert (add["output"], add["r"], add["S"]) == ("32x14x14", "13", "2")
    # the first block's shortcut from the stem's conv instead of its relu: still a network
    edit(at, edited={names.index("res1_add"): {"inputs": "res1_bn2, conv1"}})
    ok(at)
    assert not at.error
    edit(at, edited={names.index("res1_add"): {"inputs": "res1_bn2, res3_add"}})
    ok(at)
    assert "its inputs name 'res3_add', which is not the layer of a row above it" in texts(at)


def test_the_lab_explains_each_join_with_the_engines_fields() -> None:
    at = open_lab()
    at.selectbox(key="lab.start").select("seed").run()
    assert "Where branches join" not in texts(at)  # one chain: nothing to explain
    at.selectbox(key="lab.start").select("resnet-mini").run()
    ok(at)
    seen = texts(at)
    assert "Where branches join" in seen
    assert ("res2_add adds 2 branches that start from res1_relu2 (field 7x7, stride 1): "
            "res2_bn2 (through res2_conv1, res2_conv2): 13x13; res2_projbn (through res2_proj): "
            "7x7.") in seen
    assert "the largest, 21x21 (from res3_bn2)" in seen
