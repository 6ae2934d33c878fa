"""The lab's arithmetic against the real networks (torch as the oracle)."""

import pytest

from model.zoo import (
    ARCHITECTURES,
    build,
    build_from_config,
    count_macs,
    count_params,
    layer_shapes,
)
from viz.lab import analyse, layers_to_rows, rows_to_layers


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_analysis_matches_torch(arch):
    model = build(arch)
    report = analyse(model.layer_config)
    assert report.params == count_params(model)
    assert report.macs == sum(count_macs(model).values())
    assert [r.shape for r in report.layers] == [s for _, s in layer_shapes(model)]


def test_seed_and_seed_3x3_share_the_final_field():
    seed, small = analyse(ARCHITECTURES["seed"]()), analyse(ARCHITECTURES["seed-3x3"]())
    assert seed.final_rf() == small.final_rf()
    assert small.params < seed.params


@pytest.mark.parametrize("arch", ["seed", "seed-3x3", "compact", "fast"])
def test_rows_round_trip(arch):
    layers = rows_to_layers(layers_to_rows(ARCHITECTURES[arch]()))
    model = build_from_config("custom", layers)
    assert count_params(model) == analyse(layers).params
    assert [r.shape for r in analyse(layers).layers] == [s for _, s in layer_shapes(model)]
    assert analyse(layers).final_rf() == analyse(ARCHITECTURES[arch]()).final_rf()


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
