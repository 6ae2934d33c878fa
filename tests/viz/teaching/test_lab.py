"""The lab's arithmetic against the real networks (torch as the oracle)."""

import pytest

from model.zoo import ARCHITECTURES, build, build_from_config
from tests.torch_oracle import count_macs, count_params, layer_shapes
from viz.pictures import figures
from viz.teaching.lab import (
    analyse,
    before_head,
    compare_sentence,
    growth,
    layers_to_rows,
    report_csv,
    rows_to_layers,
    summarise,
    table_rows,
    weight_layers,
)


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_analysis_matches_torch(arch):
    model = build(arch)
    report = analyse(model.layer_config)
    assert report.params == count_params(model)
    assert report.macs == sum(count_macs(model).values())
    assert [r.shape for r in report.layers] == [s for _, s in layer_shapes(model)]


def test_seed_and_seed_3x3_share_the_final_field():
    seed, small = analyse(ARCHITECTURES["seed"].layers()), analyse(ARCHITECTURES["seed-3x3"].layers())
    assert seed.final_rf() == small.final_rf()
    assert small.params < seed.params


@pytest.mark.parametrize("arch", ["seed", "seed-3x3", "compact", "fast"])
def test_rows_round_trip(arch):
    layers = rows_to_layers(layers_to_rows(ARCHITECTURES[arch].layers()))
    model = build_from_config("custom", layers)
    assert count_params(model) == analyse(layers).params
    assert [r.shape for r in analyse(layers).layers] == [s for _, s in layer_shapes(model)]
    assert analyse(layers).final_rf() == analyse(ARCHITECTURES[arch].layers()).final_rf()


def test_rows_fill_names_and_channels():
    layers = rows_to_layers([
        {"type": "conv", "kernel": 3, "padding": 1, "channels": 4},
        {"type": "bn"}, {"type": "relu"},
        {"type": "maxpool", "kernel": 2},
        {"type": "conv", "kernel": 14, "channels": 10},
        {"type": "flatten"},
    ])
    assert [rec["name"] for rec in layers] == ["conv1", "bn1", "relu1", "pool1", "conv2",
                                               "flatten1"]
    assert layers[0]["bias"] is False and layers[1]["channels"] == 4
    assert layers[3]["stride"] == 2 and layers[4]["in"] == 4
    assert analyse(layers).layers[-1].shape == (10,)


@pytest.mark.parametrize("rows,message", [
    ([], "empty"),
    ([{"type": "warp"}], "unknown layer type 'warp'"),
    ([{"type": "conv", "kernel": 0, "channels": 10}], "kernel must be at least 1"),
    ([{"type": "conv", "kernel": 3, "stride": "two", "channels": 10}], "stride must be a whole"),
    ([{"type": "linear", "channels": 10}], "needs a flatten"),
    ([{"type": "flatten"}, {"type": "conv", "kernel": 3}], "after flatten"),
    ([{"type": None}], "row 1 has no layer type"),
    ([{"type": float("nan")}], "row 1 has no layer type"),
    ([{"type": "conv", "kernel": float("inf"), "channels": 10}], "kernel must be a whole"),
    ([{"type": "conv", "kernel": 2.5, "channels": 10}], "kernel must be a whole"),
    ([{"type": "conv", "kernel": 3, "padding": -1, "channels": 10}], "padding must be at least 0"),
])
def test_bad_rows(rows, message):
    with pytest.raises(ValueError, match=message):
        rows_to_layers(rows)


def test_bad_networks():
    too_big = rows_to_layers([{"type": "conv", "kernel": 30, "channels": 10}])
    with pytest.raises(ValueError, match="kernel"):
        analyse(too_big)
    wrong_end = rows_to_layers([{"type": "conv", "kernel": 3, "channels": 10}])
    with pytest.raises(ValueError, match="must end with 10 outputs.*10x26x26"):
        analyse(wrong_end)


SMALL = [
    {"type": "conv", "kernel": 3, "padding": 1, "channels": 4},
    {"type": "relu"},
    {"type": "maxpool", "kernel": 2},
    {"type": "conv", "kernel": 14, "channels": 10},
    {"type": "flatten"},
]


def test_report_csv_exact():
    report = analyse(rows_to_layers(SMALL))
    assert report_csv(report).splitlines() == [
        "layer,type,output,r,S,P,params,MACs",
        "conv1,conv,4x28x28,3,1,1,40,28224",
        "relu1,relu,4x28x28,3,1,1,0,0",
        "pool1,maxpool,4x14x14,4,2,1,0,0",
        "conv2,conv,10x1x1,30,2,1,7850,7840",
        "flatten1,flatten,10,all,-,-,0,0",
    ]
    assert report_csv(report).endswith("\n") and "\r" not in report_csv(report)


def test_small_network_against_torch():
    layers = rows_to_layers(SMALL)
    model = build_from_config("lab", layers)
    report = analyse(layers)
    assert report.params == count_params(model) == 40 + 7850
    assert report.macs == sum(count_macs(model).values())


def test_table_rows_global_layers_and_growth():
    report = analyse(ARCHITECTURES["fast"].layers())
    rows = {r["layer"]: r for r in table_rows(report)}
    assert rows["pool2"] == {"layer": "pool2", "type": "maxpool", "output": "32x5x5", "r": "12",
                             "S": "4", "P": "0", "params": 0, "MACs": 0}
    assert rows["fc"]["r"] == "all" and rows["fc"]["S"] == "-" and rows["fc"]["output"] == "256"
    assert [(p.name, p.r, p.stride) for p in growth(report)] == [
        ("conv1", 5, 1), ("pool1", 6, 2), ("conv2", 10, 2), ("pool2", 12, 4)]
    assert len(growth(report, every=True)) == 6


@pytest.mark.parametrize("arch,head_input,depth", [
    ("seed", (16, 14, 14), 11), ("seed-3x3", (16, 2, 2), 17), ("seed-original", (512, 14, 14), 11),
    ("fast", (256,), 4), ("compact", (18, 1, 1), 8),
])
def test_summary(arch, head_input, depth):
    model = build(arch)
    report = analyse(model.layer_config)
    shapes = [s for _, s in layer_shapes(model)]
    head = max(i for i, rec in enumerate(model.layer_config) if rec["type"] in ("conv", "linear"))
    assert before_head(report) == head_input == shapes[head - 1]
    assert weight_layers(report) == depth
    s = summarise(arch, report)
    assert (s.params, s.macs) == (count_params(model), sum(count_macs(model).values()))


def test_compare_sentence_numbers_come_from_torch():
    models = {a: build(a) for a in ("seed", "seed-3x3", "seed-original")}
    params = {a: count_params(m) for a, m in models.items()}
    macs = {a: sum(count_macs(m).values()) for a, m in models.items()}
    sentence = compare_sentence([summarise(a, analyse(m.layer_config))
                                 for a, m in models.items()])
    fewer = params["seed"] - params["seed-3x3"]
    assert fewer == 16_704
    assert (f"seed-3x3 reaches the same 54x54 field as seed with {fewer:,} fewer parameters "
            f"({params['seed-3x3']:,} against {params['seed']:,})") in sentence
    ratio = macs["seed-original"] / macs["seed"]
    assert "seed-original reaches the same 54x54 field as seed" in sentence
    assert f"needs {ratio:,.0f}x the MACs" in sentence and round(ratio) == 273
    assert f"{params['seed-original'] - params['seed']:,} more parameters" in sentence


def test_compare_sentence_other_cases():
    seed = summarise("seed", analyse(ARCHITECTURES["seed"].layers()))
    fast = summarise("fast", analyse(ARCHITECTURES["fast"].layers()))
    assert compare_sentence([seed]) == ""
    text = compare_sentence([seed, fast])
    assert "fast reaches a 12x12 field (against 54x54 for seed)" in text
    assert "fewer MACs" in text
    assert "as many parameters" in compare_sentence([seed, seed])


def test_field_growth_compare_figure():
    curves = {a: growth(analyse(ARCHITECTURES[a].layers())) for a in ("seed", "seed-3x3")}
    fig = figures.field_growth_compare(curves)
    assert [t.name for t in fig.data] == ["seed", "seed-3x3"]
    assert fig.data[0].y[-1] == fig.data[1].y[-1] == 54
    assert len(fig.data[1].x) > len(fig.data[0].x)
    assert fig.data[0].line.dash != fig.data[1].line.dash


def test_a_table_over_the_layer_limit_is_refused_before_any_row_is_read():
    from viz.limits import NETWORK_LAYERS
    from viz.network.card import LIMITS
    from viz.teaching.lab import check, rows_to_layers

    rows = [{"type": "relu"}] * NETWORK_LAYERS + [{"type": "no such layer"}] * 19_900
    for f in (rows_to_layers, check):
        with pytest.raises(ValueError) as info:
            f(rows)
        assert str(info.value) == f"this network is too big: 20,000 layers; {LIMITS}."
    # at the limit the rows are read (and this bad one is named)
    with pytest.raises(ValueError, match="row 100: unknown layer type"):
        rows_to_layers([{"type": "relu"}] * (NETWORK_LAYERS - 1) + [{"type": "no such layer"}])


def test_an_architecture_keeps_its_names_and_new_rows_get_free_ones():
    from viz.teaching.lab import layer_names
    seed = ARCHITECTURES["seed"].layers()
    rows = layers_to_rows(seed)
    assert [rec["name"] for rec in rows_to_layers(rows)] == [rec["name"] for rec in seed]
    assert analyse(rows_to_layers(rows)) == analyse(seed)
    assert layer_names([{"type": "conv"}, {"type": "maxpool"}, {"type": "conv", "name": "conv1"},
                        {"type": "relu", "name": " "}]) == ["conv2", "pool1", "conv1", "relu1"]


@pytest.mark.parametrize("rows,message", [
    ([{"type": "relu", "name": "a.b"}], "row 1: a layer name is 1 to 64 letters"),
    ([{"type": "relu", "name": "input"}], "'input' names the image itself"),
    ([{"type": "relu", "name": "x"}, {"type": "relu", "name": "x"}], "rows 1 and 2 are both"),
    ([{"type": "dropout", "kernel": 3}], r"row 1 \(drop1\): dropout has no kernel \(only the "
                                         r"name and type apply to a dropout row\); clear that"),
    ([{"type": "flatten"}, {"type": "linear", "stride": 2}],
     r"row 2 \(fc1\): linear has no stride \(a linear row uses channels\)"),
    ([{"type": "maxpool", "dilation": 2, "channels": 3}], "maxpool has no dilation or channels"),
])
def test_bad_names_and_cells_a_type_does_not_use(rows, message):
    with pytest.raises(ValueError, match=message):
        rows_to_layers(rows)


def _seed_rows():
    return layers_to_rows(ARCHITECTURES["seed"].layers())


def _explained(rows):
    from viz.teaching.lab import check
    from viz.teaching.lab_fix import explain_break
    with pytest.raises(ValueError) as caught:
        check(rows)
    return explain_break(_seed_rows(), rows, str(caught.value))


def test_a_break_names_its_layer_the_change_and_the_padding_that_keeps_the_size():
    rows = _seed_rows()
    rows[0]["kernel"] = 5
    text = _explained(rows)
    assert text == ("layer 'head' (row 41): kernel (14 with dilation) is larger than its padded "
                    "input height (13 + 0 padding = 13). It stopped working with your change to "
                    "row 1 (conv1): kernel 3 → 5. Padding 2 on row 1 keeps conv1's output at "
                    "28x28 and makes the network work again")
    rows[23]["kernel"] = 3  # and the pool's: the first changed row's fix alone is not enough
    rows[0]["kernel"] = 3
    assert "Padding 1 on row 24 keeps pool's output at 14x14" in _explained(rows)
    rows = _seed_rows()
    rows[0]["dilation"] = 3
    assert "Padding 3 on row 1 keeps conv1's output at 28x28" in _explained(rows)


def test_a_break_without_a_padding_fix_says_what_to_set_back_or_delete():
    rows = _seed_rows()
    rows[0]["stride"] = 2  # no padding brings 28x28 back at stride 2
    assert _explained(rows).endswith("your change to row 1 (conv1): stride 1 → 2. Setting row "
                                     "1's stride back to 1 makes it work again")
    rows = _seed_rows()
    rows[40]["channels"] = 7
    assert _explained(rows).endswith("row 41 (head): channels 10 → 7. Setting row 41's channels "
                                     "back to 10 makes it work again")
    rows = _seed_rows()
    rows.insert(5, {"type": "maxpool"})
    assert _explained(rows).endswith("It stopped working with the new row 6 (pool1). Deleting "
                                     "row 6 makes it work again")


# ---------------------------------------------------------------------------------------------
# Graph networks: the inputs column
# ---------------------------------------------------------------------------------------------

def test_the_inputs_column_makes_a_graph() -> None:
    from tests.graph_networks import resnet_mini_layers
    from viz.network.layers import describe
    from viz.teaching import lab
    records = resnet_mini_layers()
    rows = lab.layers_to_rows(records)
    assert "inputs" in lab.COLUMNS
    add = next(r for r in rows if r["name"] == "res2_add")
    assert add["inputs"] == "res2_bn2, res2_projbn" and rows[0]["inputs"] is None
    back = lab.rows_to_layers(rows)
    assert [r.get("inputs") for r in back] == [r.get("inputs") for r in records]
    layers, report = lab.check(rows)
    assert report.params == 38_266
    # the field of a join is the engine's: the largest of its branches
    table = {r["layer"]: r for r in lab.table_rows(report)}
    assert (table["res2_add"]["r"], table["res2_add"]["S"], table["res2_add"]["P"]) == \
        ("13", "2", "6")
    assert table["res2_projbn"]["r"] == "7"
    assert [i.r for i in describe(layers)] == [i.r for i in describe(records)]


def test_an_inputs_cell_is_checked() -> None:
    from viz.teaching import lab
    rows = [{"type": "conv", "channels": 4, "padding": 1},
            {"type": "conv", "channels": 4, "padding": 1, "inputs": "input"},
            {"type": "concat", "inputs": " conv1 ,conv2 "},
            {"type": "conv", "kernel": 28, "channels": 10},  # reads the concat: 8 channels
            {"type": "flatten"}]
    layers, report = lab.check(rows)
    assert layers[2]["inputs"] == ["conv1", "conv2"] and layers[3]["in"] == 8
    assert layers[1]["inputs"] == ["input"] and layers[1]["in"] == 1
    assert report.layers[2].shape == (8, 28, 28)
    add = [dict(r) for r in rows]
    add[2]["type"] = "add"
    layers, _ = lab.check(add)
    assert layers[3]["in"] == 4  # an add keeps the channels

    def refused(change: dict, match: str, where: int = 2) -> None:
        bad = [dict(r) for r in rows]
        bad[where].update(change)
        with pytest.raises(ValueError, match=match):
            lab.check(bad)

    refused({"inputs": "conv1, conv9"}, r"row 3 \(concat\): its inputs name 'conv9', which is "
                                        r"not the layer of a row above it")
    refused({"inputs": "conv1"}, r"a concat row joins two or more layers, but its inputs name 1")
    refused({"inputs": None}, "a concat row joins two or more layers: list them")
    refused({"inputs": "conv1, conv1"}, "the same layer twice")
    refused({"inputs": "conv1, conv2"}, "a flatten row reads one layer, but its inputs name 2",
            where=4)
    refused({"inputs": "cat1"}, r"row 2 \(conv\): its inputs name 'cat1'", where=1)
    refused({"inputs": "x" * 500}, "inputs are layer names separated by commas")
    refused({"kernel": 3, "stride": 2, "inputs": "input"}, "cannot concat 'conv1' and 'conv2'",
            where=1)


def test_the_map_before_a_graph_head_is_the_one_it_reads() -> None:
    from tests.graph_networks import concat_layers
    from viz.network.layers import analyse
    from viz.teaching import lab
    records = concat_layers()
    at = next(i for i, r in enumerate(records) if r["name"] == "head")
    records.insert(at, {"name": "drop", "type": "dropout", "p": 0.1, "inputs": ["relu3"]})
    records[at + 1]["inputs"] = ["gap"]  # the head skips the dropout (a dead branch)
    assert lab.before_head(analyse(records)) == (12, 1, 1)
    assert lab.before_head(analyse(concat_layers())) == (12, 1, 1)
