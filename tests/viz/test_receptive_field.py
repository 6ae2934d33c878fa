"""The receptive-field engine: published numbers, layer rules, errors, regions, inverse map, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import viz.network.layertypes  # noqa: F401  (hands the engine the app's layer types and roles)
from viz.receptive_field import (
    compute,
    format_table,
    layer_types,
    to_records,
    units_seeing,
    use_roles,
)

ROOT = Path(__file__).resolve().parents[2]


def conv(name, kernel, stride=1, padding=0, dilation=1, **extra):
    return {"name": name, "type": "conv", "kernel": kernel, "stride": stride,
            "padding": padding, "dilation": dilation, **extra}


def pool(name, kernel, stride=None, padding=0, kind="maxpool", **extra):
    rec = {"name": name, "type": kind, "kernel": kernel, "padding": padding, **extra}
    if stride is not None:
        rec["stride"] = stride
    return rec


def by_name(fields):
    return {f.name: f for f in fields}


# ----------------------------------------------------------------------------- published values


def vgg16():
    layers = []
    for block, (n_convs, _) in enumerate([(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)], 1):
        for i in range(1, n_convs + 1):
            layers.append(conv(f"conv{block}_{i}", 3, padding=1))
            layers.append({"name": f"relu{block}_{i}", "type": "relu"})
        layers.append(pool(f"pool{block}", 2, 2))
    return layers


def alexnet_v2():
    return [
        conv("conv1", 11, stride=4), {"name": "relu1", "type": "relu"},
        pool("pool1", 3, 2),
        conv("conv2", 5, padding=2), {"name": "relu2", "type": "relu"},
        pool("pool2", 3, 2),
        conv("conv3", 3, padding=1), conv("conv4", 3, padding=1), conv("conv5", 3, padding=1),
        pool("pool5", 3, 2),
    ]


VGG16_PUBLISHED = {
    "conv1_1": (3, 1, 1), "pool1": (6, 2, 2), "conv2_1": (10, 2, 4), "pool2": (16, 4, 6),
    "conv3_1": (24, 4, 10), "conv3_2": (32, 4, 14), "pool3": (44, 8, 18), "conv4_1": (60, 8, 26),
    "pool4": (100, 16, 42), "conv5_1": (132, 16, 58), "conv5_2": (164, 16, 74),
    "pool5": (212, 32, 90),
}
ALEXNET_V2_PUBLISHED = {
    "conv1": (11, 4, 0), "pool1": (19, 8, 0), "conv2": (51, 8, 16), "conv3": (99, 16, 32),
    "conv4": (131, 16, 48), "conv5": (163, 16, 64), "pool5": (195, 32, 64),
}


@pytest.mark.parametrize("layers, published", [(vgg16(), VGG16_PUBLISHED),
                                               (alexnet_v2(), ALEXNET_V2_PUBLISHED)],
                         ids=["vgg16", "alexnet_v2"])
@pytest.mark.parametrize("input_size", [None, 224])
def test_published_values(layers, published, input_size):
    fields = by_name(compute(layers, input_size))
    for name, (r, s, p) in published.items():
        f = fields[name]
        assert (f.rf, f.stride, f.padding) == ((r, r), (s, s), (p, p)), name


def test_vgg16_output_sizes():
    fields = by_name(compute(vgg16(), 224))
    assert fields["pool5"].output_size == (7, 7)
    assert fields["conv3_3"].output_size == (56, 56)


def test_distill_worked_example():
    f = compute([conv("a", 3, stride=3, padding=1), conv("b", 2, stride=1)], 12)[-1]
    region = f.region(0, 0)
    assert (region.h.start, region.h.end) == (-1, 4)
    assert (region.w.start, region.w.end) == (-1, 4)
    assert region.h.clipped == (0, 4) and region.h.padding_before == 1
    assert region.centre == (1.5, 1.5)


# ----------------------------------------------------------------------------- layer rules


def test_engine_is_standard_library_only():
    code = ("import sys, viz.receptive_field as rf; rf.compute([{'name': 'c', 'type': 'conv', "
            "'kernel': 3}], 8); bad = [m for m in ('torch', 'numpy') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


def test_elementwise_layers_keep_the_field():
    layers = [conv("c", 3, padding=1), {"name": "b", "type": "bn", "channels": 8},
              {"name": "r", "type": "relu"}, {"name": "d", "type": "dropout", "p": 0.1},
              {"name": "i", "type": "identity"}]
    fields = compute(layers, 10)
    assert {(f.rf, f.stride, f.padding, f.output_size) for f in fields} == {
        ((3, 3), (1, 1), (1, 1), (10, 10))}


def test_non_square_kernel_stride_and_padding():
    f = compute([conv("c", [3, 5], stride=[1, 2], padding=[1, 0])], [10, 12])[0]
    assert f.rf == (3, 5) and f.stride == (1, 2) and f.padding == (1, 0)
    assert f.output_size == (10, 4)


def test_dilation():
    fields = compute([conv("a", 3, dilation=2), conv("b", 3, dilation=[1, 4])], 20)
    assert fields[0].rf == (5, 5) and fields[0].output_size == (16, 16)
    assert fields[1].rf == (7, 13) and fields[1].output_size == (14, 8)


def test_one_by_one_conv_keeps_r_and_multiplies_stride():
    fields = compute([conv("a", 3, padding=1), conv("b", 1, stride=2)], 9)
    assert fields[1].rf == (3, 3) and fields[1].stride == (2, 2) and fields[1].padding == (1, 1)
    assert fields[1].output_size == (5, 5)


@pytest.mark.parametrize("kernel, dilation, before", [(3, 1, 1), (4, 1, 1), (5, 1, 2), (3, 2, 2),
                                                      (2, 3, 1)])
def test_same_padding_splits_like_torch(kernel, dilation, before):
    f = compute([conv("c", kernel, padding="same", dilation=dilation)], 11)[0]
    assert f.output_size == (11, 11)
    assert f.padding == (before, before)  # torch puts total // 2 first, the rest after


def test_same_padding_needs_stride_one():
    with pytest.raises(ValueError, match='"same" needs stride 1'):
        compute([conv("c", 3, stride=2, padding="same")], 8)


def test_asymmetric_padding():
    f = compute([conv("c", 3, padding=[[0, 2], [1, 1]])], 8)[0]
    assert f.padding == (0, 1) and f.output_size == (8, 8)
    region = f.region(7, 7)
    assert (region.h.start, region.h.end, region.h.padding_after) == (7, 9, 2)
    assert (region.w.start, region.w.end, region.w.padding_after) == (6, 8, 1)


def test_pool_stride_defaults_to_kernel():
    f = compute([pool("p", 3)], 9)[0]
    assert f.stride == (3, 3) and f.output_size == (3, 3)


@pytest.mark.parametrize("n, kernel, stride, padding, floor, ceil", [
    (7, 2, 2, 0, 3, 4),
    (6, 3, 2, 1, 3, 4),
    (5, 2, 2, 1, 3, 3),  # ceil would give 4, but that window would start in the right padding
    (8, 2, 2, 0, 4, 4),
])
def test_ceil_mode(n, kernel, stride, padding, floor, ceil):
    for mode, expected in ((False, floor), (True, ceil)):
        f = compute([pool("p", kernel, stride, padding, ceil_mode=mode)], n)[0]
        assert f.output_size == (expected, expected)


def test_avgpool_and_maxpool_share_the_rule():
    a = compute([pool("p", 3, 2, 1, kind="avgpool")], 10)[0]
    m = compute([pool("p", 3, 2, 1)], 10)[0]
    assert (a.rf, a.stride, a.padding, a.output_size) == (m.rf, m.stride, m.padding,
                                                          m.output_size)


def test_zoo_style_records_with_extra_keys_are_accepted():
    layers = [{"name": "conv1", "type": "conv", "in": 1, "out": 8, "kernel": 3, "stride": 1,
               "padding": 1, "bias": False},
              {"name": "bn1", "type": "bn", "channels": 8},
              {"name": "drop1", "type": "dropout", "p": 0.05},
              {"name": "fc", "type": "linear", "in": 8 * 28 * 28, "out": 10}]
    fields = compute(layers, 28)
    assert fields[0].rf == (3, 3) and fields[-1].is_global


def test_spec_dict_and_input_size_override():
    spec = {"input_size": [28, 20], "layers": [conv("c", 3)]}
    assert compute(spec)[0].output_size == (26, 18)
    assert compute(spec, 10)[0].output_size == (8, 8)
    assert compute({"layers": [conv("c", 3)]})[0].output_size is None


# ----------------------------------------------------------------------------- global layers


def test_global_layers_are_flagged_as_whole_input():
    layers = [conv("c", 3), pool("p", 2), {"name": "gap", "type": "gap"},
              conv("head", 1), {"name": "flatten", "type": "flatten"},
              {"name": "fc", "type": "linear"}]
    fields = by_name(compute(layers, 11))
    assert not fields["p"].is_global
    for name in ("gap", "head", "flatten", "fc"):
        f = fields[name]
        assert f.is_global and f.rf == (None, None) and f.stride == (None, None)
        assert f.output_size == (1, 1)
        region = f.region(0, 0)
        # c: 9 units; p: 4 units reading c 0..7, i.e. input 0..9; pixel 10 is never read.
        assert region.h.clipped == (0, 9) and region.w.clipped == (0, 9)
    rec = {r["name"]: r for r in to_records(list(fields.values()))}
    assert rec["gap"]["global"] is True and rec["gap"]["rf"] is None
    assert "whole input" in format_table(list(fields.values()))


def test_global_region_without_input_size_says_so():
    f = compute([conv("c", 3), {"name": "gap", "type": "gap"}])[-1]
    with pytest.raises(ValueError, match="whole input"):
        f.region(0, 0)


# ----------------------------------------------------------------------------- multi-path


def resnet_block():
    layers = [conv("stem", 3, padding=1), conv("main", 3, stride=2, padding=1),
              conv("main2", 3, padding=1),
              conv("short", 1, stride=2, inputs=["stem"]),
              {"name": "sum", "type": "add", "inputs": ["main2", "short"]}]
    return layers


def test_residual_add_takes_the_largest_aligned_path():
    fields = by_name(compute(resnet_block(), 16))
    s = fields["sum"]
    assert s.rf == fields["main2"].rf == (9, 9)  # short: 3
    assert s.stride == (2, 2) and s.padding == fields["main2"].padding
    assert s.output_size == (8, 8)


def test_concat_uses_the_same_rule():
    layers = [conv("a", 5, padding=2, inputs=["input"]), conv("b", 3, padding=1, inputs=["input"]),
              {"name": "cat", "type": "concat", "inputs": ["a", "b"]}]
    f = compute(layers, 9)[-1]
    assert f.rf == (5, 5) and f.padding == (2, 2)


def test_issue_example_is_misaligned_and_names_both_paths():
    spec = {"input_size": [28, 28], "layers": [
        {"name": "conv1", "type": "conv", "kernel": 3, "stride": 1, "padding": 1, "dilation": 1},
        {"name": "relu1", "type": "relu"},
        {"name": "pool1", "type": "maxpool", "kernel": 2, "stride": 2},
        {"name": "b", "type": "conv", "kernel": 1, "stride": 2, "inputs": ["relu1"]},
        {"name": "sum", "type": "add", "inputs": ["pool1", "b"]}]}
    with pytest.raises(ValueError, match="misaligned") as info:
        compute(spec)
    assert "'pool1'" in str(info.value) and "'b'" in str(info.value)
    assert "'sum'" in str(info.value)


def test_stride_mismatch_is_misaligned():
    layers = [conv("a", 3, stride=2, padding=1, inputs=["input"]),
              conv("b", 3, stride=1, padding=1, inputs=["input"]),
              {"name": "sum", "type": "add", "inputs": ["a", "b"]}]
    with pytest.raises(ValueError, match="misaligned paths 'a' and 'b'"):
        compute(layers)


def test_add_of_different_sizes_is_rejected():
    layers = [conv("a", 3, inputs=["input"]), conv("b", 1, inputs=["input"]),
              {"name": "sum", "type": "add", "inputs": ["a", "b"]}]
    with pytest.raises(ValueError, match="heights differ"):
        compute(layers, 10)


def test_layers_may_be_listed_out_of_order():
    layers = [{"name": "sum", "type": "add", "inputs": ["x", "y"]},
              conv("x", 3, padding=1, inputs=["input"]), conv("y", 1, inputs=["input"])]
    assert compute(layers, 5)[0].rf == (3, 3)


# ----------------------------------------------------------------------------- invalid specs


@pytest.mark.parametrize("layers, message", [
    ([conv("c", 7)], "kernel (7 with dilation) is larger than its padded input height (5"),
    ([conv("c", 3, dilation=3)], "kernel (7 with dilation) is larger"),
    ([conv("c", 3, stride=0)], "stride must be at least 1"),
    ([conv("c", 3, padding=-1)], "padding cannot be negative"),
    ([conv("c", 3, padding=[[1, -1], [0, 0]])], "padding cannot be negative"),
    ([conv("c", 0)], "kernel must be at least 1"),
    ([conv("c", 3, dilation=0)], "dilation must be at least 1"),
    ([conv("c", 3, inputs=["nope"])], "unknown input 'nope'"),
    ([conv("a", 3, inputs=["b"]), conv("b", 3, inputs=["a"])], "cycle"),
    ([conv("a", 3, inputs=["a"])], "cycle"),
    ([{"name": "x", "type": "lstm"}], "unknown layer type 'lstm'"),
    ([{"type": "relu"}], "needs a non-empty string \"name\""),
    ([conv("a", 3), conv("a", 3)], "share the name"),
    ([{"name": "c", "type": "conv", "kernel_size": 3}], "did you mean 'kernel'"),
    ([{"name": "c", "type": "conv"}], "needs a kernel size"),
    ([conv("c", [3, 3, 3])], "kernel must be an int or a [height, width] pair"),
    ([conv("c", 3, padding="full")], "padding must be"),
    ([pool("p", 2, padding=2)], "at most half the kernel"),
    ([conv("c", 3, inputs=["input"]), conv("d", 3, inputs=["input", "c"])],
     "reads exactly one input"),
    ([{"name": "input", "type": "relu"}], "reserved"),
    ([], "non-empty list of layers"),
])
def test_invalid_specs_explain_themselves(layers, message):
    with pytest.raises(ValueError) as info:
        compute(layers, 5)
    assert message in str(info.value)


def test_cycle_message_names_the_layers():
    layers = [conv("a", 1, inputs=["c"]), conv("b", 1, inputs=["a"]), conv("c", 1, inputs=["b"])]
    with pytest.raises(ValueError, match="cycle") as info:
        compute(layers)
    assert all(f"'{n}'" in str(info.value) for n in "abc")


@pytest.mark.parametrize("size", [0, -3, [28], [28, 0], "28", [2.5, 3]])
def test_invalid_input_size(size):
    with pytest.raises(ValueError, match="input_size"):
        compute([conv("c", 1)], size)


def test_unit_outside_the_output_is_rejected():
    f = compute([conv("c", 3)], 5)[0]
    with pytest.raises(ValueError, match="outside its 3-unit output"):
        f.region(3, 0)
    with pytest.raises(ValueError, match="non-negative"):
        f.region(0, -1)


def test_all_documented_types_are_known():
    assert set(layer_types()) >= {"conv", "maxpool", "avgpool", "relu", "bn", "dropout", "add",
                                  "concat", "flatten", "linear", "gap", "identity", "prelu", "elu"}


def test_the_engine_alone_knows_only_its_own_rules():
    """Without the app's table the engine reads its own types and refuses the others by name."""
    code = ("import viz.receptive_field as rf\n"
            "try:\n    rf.compute([{'name': 'r', 'type': 'relu'}], 8)\n"
            "except ValueError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60,
                         capture_output=True, text=True).stdout
    assert "unknown layer type 'relu'; use one of conv, maxpool, avgpool, add, concat, " \
        "identity" in out


def test_roles_the_engine_has_no_rule_for_are_refused():
    with pytest.raises(ValueError, match="no field rule for it"):
        use_roles({"lppool": "field"})
    with pytest.raises(ValueError, match="role 'spatial' is not one of"):
        use_roles({"relu": "spatial"})
    assert "lppool" not in layer_types()


# ----------------------------------------------------------------------------- regions


def test_region_geometry_and_padding_counts():
    f = compute([conv("a", 3, padding=1), pool("p", 2)], 6)[-1]
    region = f.region(0, 2)
    assert (region.h.start, region.h.end, region.h.clipped) == (-1, 2, (0, 2))
    assert (region.h.padding_before, region.h.padding_after) == (1, 0)
    assert (region.w.start, region.w.end, region.w.clipped) == (3, 6, (3, 5))
    assert (region.w.padding_before, region.w.padding_after) == (0, 1)
    assert region.centre == (0.5, 4.5)
    assert region.slices() == (slice(0, 3), slice(3, 6))
    assert region.contains(2, 5) and not region.contains(3, 5)


def test_pixels_dropped_by_a_floor_stride_are_not_in_the_clipped_region():
    # 5 -> conv k2 s2 -> 2 units (pixel 4 dropped); then a padded 3x3: the last unit's formula
    # region runs to pixel 5, but pixel 4 is never read.
    f = compute([conv("a", 2, stride=2), conv("b", 3, padding=1)], 5)[-1]
    region = f.region(1, 1)
    assert (region.h.start, region.h.end) == (0, 5)
    assert region.h.clipped == (0, 3)


def test_dilation_holes_at_the_border_are_not_in_the_clipped_region():
    # stem k2 on 8 -> 7 units; a 5-tap, dilation-2 conv with padding 4: unit 3 reads stem units
    # -1 (padding), 1, 3, 5, 7 (padding), so input pixels 1..6, not 0..7.
    f = compute([conv("stem", 2), conv("b", 5, padding=4, dilation=2)], 8)[-1]
    assert f.region(3, 3).h.clipped == (1, 6)
    assert (f.region(3, 3).h.start, f.region(3, 3).h.end) == (-1, 8)


def test_dilation_can_make_the_inverse_map_skip_a_unit():
    f = compute([conv("a", 3, padding=2, dilation=2)], 9)[0]
    assert [f.region(0, u).w.clipped for u in range(3)] == [(0, 2), (1, 3), (0, 4)]
    assert units_seeing(f, 0, 0)[1] == (0, 2)


def test_unit_reading_only_padding_has_an_empty_region():
    f = compute([conv("a", 1, padding=2)], 4)[0]
    region = f.region(0, 0)
    assert region.is_empty and region.h.clipped is None and region.h.padding_before == 1
    assert units_seeing(f, 0, 0) == ((2,), (2,))


def test_regions_without_input_size_are_unclipped_only():
    f = compute([conv("a", 3, padding=1)])[0]
    region = f.region(4, 4)
    assert (region.h.start, region.h.end, region.h.clipped) == (3, 5, None)


# ----------------------------------------------------------------------------- inverse map


def check_inverse_map(field):
    """Every unit returned for a pixel has it in its region, and no other unit does."""
    (H, W), (h, w) = field.input_size, field.output_size
    regions = {(i, j): field.region(i, j) for i in range(h) for j in range(w)}
    for y in range(H):
        for x in range(W):
            rows, cols = units_seeing(field, y, x)
            expected = {u for u, reg in regions.items() if reg.contains(y, x)}
            assert {(i, j) for i in rows for j in cols} == expected, (field.name, y, x)


INVERSE_NETS = {
    "chain": ([conv("a", 3, padding=1), pool("p", 2), conv("b", 3, stride=2, padding=2)], 11),
    "ceil": ([conv("a", [3, 2], padding=[1, 0]), pool("p", 3, 2, 1, ceil_mode=True)], [9, 10]),
    "floor_drop": ([conv("a", 2, stride=2), conv("b", 3, padding=1)], 7),
    "dilated": ([conv("a", 3, dilation=2, padding=2), conv("b", 2, stride=2)], 9),
    "residual": (resnet_block(), 9),
    "global": ([conv("a", 3), pool("p", 2), {"name": "g", "type": "gap"}], 9),
}


@pytest.mark.parametrize("name", INVERSE_NETS)
def test_inverse_map_matches_regions(name):
    layers, size = INVERSE_NETS[name]
    for field in compute(layers, size):
        check_inverse_map(field)


def test_units_seeing_rejects_pixels_outside_the_input():
    f = compute([conv("a", 3)], 5)[0]
    with pytest.raises(ValueError, match="outside the 5-pixel input"):
        units_seeing(f, 5, 0)
    with pytest.raises(ValueError, match="needs the input size"):
        units_seeing(compute([conv("a", 3)])[0], 0, 0)


@st.composite
def random_stack(draw):
    layers = []
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "maxpool", "avgpool"]))
        k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
        s = [draw(st.integers(1, 3)), draw(st.integers(1, 3))]
        if kind == "conv":
            d = [draw(st.integers(1, 2)), draw(st.integers(1, 2))]
            p = [[draw(st.integers(0, 2)), draw(st.integers(0, 2))] for _ in range(2)]
            layers.append(conv(f"l{i}", list(k), s, p, d))
        else:
            p = [draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2))]
            layers.append(pool(f"l{i}", list(k), s, p, kind=kind, ceil_mode=draw(st.booleans())))
    return layers, [draw(st.integers(6, 14)), draw(st.integers(6, 14))]


@settings(max_examples=40, deadline=None)
@given(random_stack())
def test_random_stacks_regions_and_inverse_map(case):
    layers, size = case
    try:
        fields = compute(layers, size)
    except ValueError as exc:
        assert "larger than its padded input" in str(exc)
        return
    for f in fields:
        h, w = f.output_size
        for i in {0, h // 2, h - 1}:
            for j in {0, w // 2, w - 1}:
                reg = f.region(i, j)
                assert reg.h.size == f.rf[0] and reg.w.size == f.rf[1]
                if i + 1 < h:  # neighbouring centres are one effective stride apart
                    assert f.region(i + 1, j).h.centre - reg.h.centre == f.stride[0]
                if not reg.is_empty:
                    assert reg.h.start <= reg.h.clipped[0] <= reg.h.clipped[1] <= reg.h.end
                    assert 0 <= reg.w.clipped[0] <= reg.w.clipped[1] < size[1]
        check_inverse_map(f)


# ----------------------------------------------------------------------------- calculator


def run_cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "viz.receptive_field", *args], cwd=ROOT,
                          capture_output=True, text=True, input=stdin, timeout=60)


def test_cli_prints_json(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"input_size": [28, 28], "layers": [
        conv("conv1", 3, padding=1), {"name": "relu1", "type": "relu"}, pool("pool1", 2),
        {"name": "flat", "type": "flatten"}]}))
    result = run_cli(str(spec))
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert [r["name"] for r in records] == ["conv1", "relu1", "pool1", "flat"]
    assert records[2] == {"name": "pool1", "type": "maxpool", "rf": [4, 4],
                          "effective_stride": [2, 2], "effective_padding": [1, 1],
                          "output_size": [14, 14], "global": False}
    assert records[3]["global"] is True and records[3]["rf"] is None


def test_cli_without_input_size_gives_null_output_size(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"layers": [conv("conv1", 3)]}))
    records = json.loads(run_cli(str(spec)).stdout)
    assert records[0]["output_size"] is None and records[0]["rf"] == [3, 3]


def test_cli_table(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"input_size": 224, "layers": vgg16()}))
    result = run_cli(str(spec), "--table")
    assert result.returncode == 0
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("pool5"))
    assert line.split()[1:] == ["maxpool", "212", "32", "90", "7"]


@pytest.mark.parametrize("content, message", [
    (json.dumps([conv("c", 3, stride=0)]), "stride must be at least 1"),
    ("{not json", "error:"),
    (json.dumps({"layers": [conv("c", 3, inputs=["zzz"])]}), "unknown input 'zzz'"),
])
def test_cli_bad_spec_exits_with_message(tmp_path, content, message):
    spec = tmp_path / "spec.json"
    spec.write_text(content)
    result = run_cli(str(spec))
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_cli_missing_file():
    result = run_cli("/nonexistent/spec.json")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "No such file" in result.stderr


def test_cli_reads_stdin_and_overrides_input_size():
    spec = json.dumps([conv("c", 3)])
    result = run_cli("-", "--input-size", "10", "12", stdin=spec)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["output_size"] == [8, 10]


def test_results_survive_pickling():
    import pickle

    fields = compute(resnet_block(), 9)
    again = pickle.loads(pickle.dumps(fields))
    assert again == fields
    assert again[-1].region(2, 3) == fields[-1].region(2, 3)


def test_a_model_card_is_a_spec_with_mnist_input():
    card = json.loads((ROOT / "checkpoints" / "seed.json").read_text())
    fields = compute(card)
    assert fields[-2].name == "head" and fields[-2].rf == (54, 54)
    assert fields[0].output_size == (28, 28)  # 28x28 when the card names no input size
    assert compute(card, input_size=(32, 32))[0].output_size == (32, 32)
    assert compute({**card, "input_size": [30, 30]})[0].output_size == (30, 30)


def test_cli_reads_a_model_card():
    r = run_cli(str(ROOT / "checkpoints" / "seed.json"), "--table")
    assert r.returncode == 0, r.stderr
    head = next(line for line in r.stdout.splitlines() if line.startswith("head "))
    assert head.split()[2:] == ["54", "2", "13", "1"]


def test_a_chain_of_global_layers_is_walked_once(monkeypatch) -> None:
    """Every global layer's region is the input's full support, found once per network: a chain
    of n linear layers costs about n backward steps, not n squared (2,000 rows took 7.5 s)."""
    import viz.receptive_field.results as engine

    calls = 0
    read_by = engine._read_by

    def counting(*args):
        nonlocal calls
        calls += 1
        return read_by(*args)

    monkeypatch.setattr(engine, "_read_by", counting)
    n = 200
    layers = [{"name": "conv", "type": "conv", "kernel": 3, "padding": 1},
              {"name": "flatten", "type": "flatten"}]
    layers += [{"name": f"fc{i}", "type": "linear"} for i in range(n)]
    fields = compute({"input_size": [28, 28], "layers": layers})
    regions = [f.region(0, 0) for f in fields[1:]]
    assert all((r.h.clipped, r.w.clipped) == ((0, 27), (0, 27)) for r in regions)
    assert calls <= 4 * (n + 2)  # two axes, a few steps per layer (was about n * n)
