"""Layer specs read from real torch modules: names, geometry, and output sizes equal to torch's."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from model.insight.rf_adapter import layer_specs, receptive_field_table
from model.zoo import ARCHITECTURES, build
from tests.torch_oracle import layer_shapes
from viz.receptive_field import compute


def torch_sizes(model: nn.Module, input_size: tuple[int, int]) -> dict[str, tuple[int, ...]]:
    """Output shape (without batch) of every leaf module, from a real forward pass."""
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [m.register_forward_hook(lambda _m, _a, out, n=name: shapes.__setitem__(
        n, tuple(out.shape[1:]))) for name, m in model.named_modules() if name
        and not list(m.children())]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 1, *input_size))
    for h in hooks:
        h.remove()
    return shapes


def spatial(shape: tuple[int, ...]) -> tuple[int, int]:
    """(h, w) of a feature map; a flat output counts as one position."""
    return tuple(shape[-2:]) if len(shape) == 3 else (1, 1)


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_zoo_output_sizes_equal_a_real_forward_pass(arch):
    model = build(arch)
    table = receptive_field_table(model)
    shapes = layer_shapes(model)
    assert [f.name for f in table] == [name for name, _ in shapes]
    for field, (name, shape) in zip(table, shapes, strict=True):
        assert field.output_size == spatial(shape), name
        if len(shape) == 1:
            assert field.is_global


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_modules_and_layer_records_agree(arch):
    """The model card's records and the modules themselves give the same fields."""
    model = build(arch)
    from_modules = compute(layer_specs(model), 28)
    from_records = compute(model.layer_config, 28)
    for a, b in zip(from_modules, from_records, strict=True):
        assert (a.name, a.rf, a.stride, a.padding, a.output_size, a.is_global) == (
            b.name, b.rf, b.stride, b.padding, b.output_size, b.is_global)


def test_zoo_fields_known_values():
    seed = {f.name: f for f in receptive_field_table(build("seed"))}
    assert seed["conv5"].rf == (11, 11) and seed["pool"].stride == (2, 2)
    assert seed["head"].rf == (54, 54)
    three = {f.name: f for f in receptive_field_table(build("seed-3x3"))}
    assert three["head"].rf == seed["head"].rf  # the documented design of seed-3x3
    compact = {f.name: f for f in receptive_field_table(build("compact"))}
    assert compact["relu7"].rf == (20, 20) and compact["relu7"].output_size == (5, 5)
    assert compact["gap"].is_global and compact["gap"].region(0, 0).h.clipped == (0, 27)


def test_specs_are_read_from_the_modules():
    model = nn.Sequential()
    model.add_module("c", nn.Conv2d(1, 2, (3, 5), stride=(1, 2), padding=(1, 0), dilation=(2, 1)))
    model.add_module("p", nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True))
    model.add_module("a", nn.AvgPool2d((2, 3), ceil_mode=True))
    model.add_module("act", nn.GELU())
    model.add_module("leaky", nn.LeakyReLU(0.2))
    model.add_module("gmp", nn.AdaptiveMaxPool2d(1))
    specs = layer_specs(model)
    assert specs[0] == {"name": "c", "type": "conv", "kernel": [3, 5], "stride": [1, 2],
                        "padding": [1, 0], "dilation": [2, 1]}
    assert specs[1] == {"name": "p", "type": "maxpool", "kernel": 3, "stride": 2, "padding": 1,
                        "ceil_mode": True, "dilation": 1}
    assert specs[2]["kernel"] == [2, 3] and specs[2]["stride"] == [2, 3]
    assert specs[3] == {"name": "act", "type": "identity"}  # elementwise, not a zoo type
    elu = layer_specs(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ELU(), nn.PReLU(2)))
    assert [s["type"] for s in elu[1:]] == ["elu", "prelu"]  # zoo types: read as themselves
    assert specs[4:] == [{"name": "leaky", "type": "leakyrelu"}, {"name": "gmp", "type": "gmp"}]


@pytest.mark.parametrize("input_size", [(28, 28), (17, 23), (9, 12)])
def test_hand_built_network_sizes_match_torch(input_size):
    model = nn.Sequential(
        nn.Sequential(nn.Conv2d(1, 4, (3, 5), padding="same", dilation=(1, 2)), nn.BatchNorm2d(4),
                      nn.ReLU()),
        nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
        nn.Conv2d(4, 4, 2, stride=(2, 1), padding=(0, 1)),
        nn.AvgPool2d(2, ceil_mode=True), nn.Dropout2d(0.1),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(4, 3))
    fields = receptive_field_table(model, input_size)
    shapes = torch_sizes(model, input_size)
    assert [f.name for f in fields] == list(shapes)
    assert fields[0].name == "0.0"
    for f in fields:
        assert f.output_size == spatial(shapes[f.name]), f.name
    assert [f.is_global for f in fields][-3:] == [True, True, True]


@pytest.mark.parametrize("module, message", [
    (nn.AdaptiveAvgPool2d(2), "input-dependent windows"),
    (nn.LSTM(3, 3), "no receptive-field rule for LSTM"),
    (nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular"), "only zero padding"),
])
def test_unsupported_modules_raise(module, message):
    with pytest.raises(ValueError, match=message):
        layer_specs(nn.Sequential(module))


def test_empty_model_raises():
    with pytest.raises(ValueError, match="has no layers"):
        layer_specs(nn.Sequential())


def torch_or_engine_size(module: nn.Module, n: tuple[int, int]):
    """(torch's output size or None if torch rejects it, the engine's or None if it rejects)."""
    try:
        expected = tuple(module(torch.zeros(1, 1, *n)).shape[2:])
    except RuntimeError:
        expected = None
    try:
        got = receptive_field_table(nn.Sequential(module), n)[0].output_size
    except ValueError:
        got = None
    return expected, got


sizes = st.tuples(st.integers(1, 12), st.integers(1, 12))
pairs = st.tuples(st.integers(1, 5), st.integers(1, 5))


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@settings(max_examples=60, deadline=None)
@given(pairs, pairs, pairs, st.one_of(st.tuples(st.integers(0, 4), st.integers(0, 4)),
                                      st.sampled_from(["same", "valid"])), sizes)
def test_conv_sizes_and_rejections_match_torch(kernel, stride, dilation, padding, n):
    if padding == "same":
        stride = (1, 1)
    module = nn.Conv2d(1, 1, kernel, stride, padding, dilation)
    expected, got = torch_or_engine_size(module, n)
    assert got == expected


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.integers(1, 3), st.integers(0, 3),
       st.booleans(), st.booleans(), sizes)
def test_pool_sizes_and_rejections_match_torch(k, s, d, p, ceil, is_max, n):
    if is_max:
        module = nn.MaxPool2d(k, s, min(p, k // 2), dilation=d, ceil_mode=ceil)
    else:
        module = nn.AvgPool2d(k, s, min(p, k // 2), ceil_mode=ceil)
    expected, got = torch_or_engine_size(module, n)
    assert got == expected
