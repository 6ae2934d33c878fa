"""The lab's rows of the course vocabulary: tanh, sigmoid, leaky ReLU, global max pooling,
grouped and depthwise convs, average pooling without the padding, and a dense-only network."""

from __future__ import annotations

import pytest

from viz.network import card
from viz.teaching import lab


def _records(rows: list[dict]) -> list[dict]:
    return lab.rows_to_layers(rows)


def test_new_types_are_rows_of_the_lab() -> None:
    assert {"tanh", "sigmoid", "leakyrelu", "gmp"} <= set(lab.ROW_TYPES)
    rows = [{"type": "conv", "channels": 6, "kernel": 5, "padding": 2}, {"type": "tanh"},
            {"type": "avgpool", "kernel": 2}, {"type": "conv", "channels": 16, "kernel": 5},
            {"type": "sigmoid"}, {"type": "leakyrelu"}, {"type": "gmp"}, {"type": "flatten"},
            {"type": "linear", "channels": 10}]
    layers = _records(rows)
    assert [r["type"] for r in layers] == [r["type"] for r in rows]
    assert [r["name"] for r in layers][4:7] == ["sigmoid1", "leaky1", "gmp1"]
    assert layers[5]["negative_slope"] == 0.01  # the default, written out
    report = card.analyse_checked(layers)
    assert report.layers[6].shape == (16, 1, 1) and report.layers[6].is_global
    assert report.layers[4].rf == (14, 14)  # 5 + (2 - 1) * 1 + (5 - 1) * 2


def test_grouped_and_depthwise_conv_rows() -> None:
    rows = [{"type": "conv", "channels": 8, "padding": 1},
            {"type": "conv", "channels": 8, "padding": 1, "groups": 8},  # depthwise
            {"type": "conv", "channels": 16, "kernel": 1, "groups": 2},
            {"type": "gap"}, {"type": "flatten"}, {"type": "linear", "channels": 10}]
    layers = _records(rows)
    assert layers[1]["groups"] == 8 and layers[2]["groups"] == 2 and "groups" not in layers[0]
    report = card.analyse_checked(layers)
    assert [i.params for i in report.layers[:3]] == [8 * 9 + 8, 8 * 1 * 9 + 8, 16 * 4 + 16]
    assert report.layers[1].macs == 9 * 8 * 28 * 28  # one input channel per output
    assert report.layers[2].macs == 4 * 16 * 28 * 28
    assert lab.rows_to_layers(lab.layers_to_rows(layers)) == layers
    rows[2]["groups"] = 3
    with pytest.raises(ValueError, match=r"groups 3 must divide both its input channels "
                                         r"\(in 8\) and its output channels \(out 16\)"):
        _records(rows)
    rows[2]["groups"] = 0
    with pytest.raises(ValueError, match="groups must be at least 1"):
        _records(rows)


def test_leaky_slope_and_average_pooling_padding_rows() -> None:
    rows = [{"type": "conv", "channels": 4}, {"type": "leakyrelu", "negative_slope": 0.2},
            {"type": "avgpool", "kernel": 3, "stride": 2, "padding": 1,
             "count_include_pad": False},
            {"type": "gap"}, {"type": "flatten"}, {"type": "linear", "channels": 10}]
    layers = _records(rows)
    assert layers[1]["negative_slope"] == 0.2 and layers[2]["count_include_pad"] is False
    assert lab.rows_to_layers(lab.layers_to_rows(layers)) == layers
    for bad in (1.0, -0.1, "steep"):
        with pytest.raises(ValueError, match="negative_slope must be a number from 0 to below 1"):
            _records([rows[0], dict(rows[1], negative_slope=bad), *rows[2:]])
    with pytest.raises(ValueError, match="count_include_pad must be true or false"):
        _records([*rows[:2], dict(rows[2], count_include_pad="no"), *rows[3:]])


def test_a_dense_only_network_is_a_lab_table() -> None:
    rows = [{"type": "flatten"}, {"type": "linear", "channels": 128}, {"type": "relu"},
            {"type": "dropout"}, {"type": "linear", "channels": 10}]
    layers = _records(rows)
    assert layers[1] == {"name": "fc1", "type": "linear", "in": 784, "out": 128, "bias": True}
    report = card.analyse_checked(layers)
    assert report.params == 784 * 128 + 128 + 128 * 10 + 10
    # every unit of the first dense layer sees the whole image
    assert all(i.is_global for i in report.layers)
    assert report.layers[1].field.region(0, 0).h.clipped == (0, 27)


@pytest.mark.parametrize("change, match", [
    ({1: {"negative_slope": -0.01}}, "negative_slope must be a number from 0 to below 1"),
    ({1: {"negative_slope": "0.1"}}, "negative_slope must be a number from 0 to below 1"),
    ({1: {"negative_slope": True}}, "negative_slope must be a number from 0 to below 1"),
    ({2: {"count_include_pad": 0}}, "count_include_pad must be true or false"),
    ({0: {"groups": True}}, "groups must be a whole number"),
    ({0: {"groups": 3}}, r"layer 'conv1': groups 3 must divide both"),
    ({3: {"alpha": 1}}, "a gmp layer has no 'alpha'"),
    ({4: {"negative_slope": 0.1}}, "a tanh layer has no 'negative_slope'"),
])
def test_the_card_refuses_bad_values_of_the_new_options(change: dict, match: str) -> None:
    layers = [{"name": "conv1", "type": "conv", "in": 1, "out": 4, "kernel": 3},
              {"name": "leaky1", "type": "leakyrelu"},
              {"name": "pool1", "type": "avgpool", "kernel": 2, "padding": 1},
              {"name": "gmp", "type": "gmp"},
              {"name": "tanh1", "type": "tanh"},
              {"name": "flatten", "type": "flatten"},
              {"name": "fc", "type": "linear", "in": 4, "out": 10}]
    card.analyse_checked(layers)  # as it stands, accepted
    for i, keys in change.items():
        layers[i] = {**layers[i], **keys}
    with pytest.raises(card.CardError, match=match):
        card.analyse_checked(layers)
