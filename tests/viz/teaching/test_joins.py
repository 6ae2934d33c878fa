"""The field of a join in words (viz/teaching/joins.py): every number is the engine's."""

from __future__ import annotations

import pytest

from model.architectures import ARCHITECTURES
from viz.network.layers import describe
from viz.teaching.joins import join_field, join_sentence, joins, kernel_path


def conv(name: str, cin: int, cout: int, k: int, stride: int = 1,
         inputs: list[str] | None = None) -> dict:
    rec = {"name": name, "type": "conv", "in": cin, "out": cout, "kernel": k, "stride": stride,
           "padding": k // 2, "bias": True}
    if inputs is not None:
        rec["inputs"] = inputs
    return rec


# a stem, then a block whose main path has a 3x3 and a 5x5 and whose shortcut is a 1x1
BLOCK = [
    conv("stem", 1, 4, 3),  # r 3, S 1, P 1
    conv("a", 4, 4, 3, stride=2),  # r 5, S 2, P 2
    {"name": "relu", "type": "relu"},
    conv("b", 4, 4, 5),  # r 5 + 4 * 2 = 13, S 2, P 2 + 2 * 2 = 6
    conv("short", 4, 4, 1, stride=2, inputs=["stem"]),  # r 3, S 2, P 1
    {"name": "join", "type": "add", "inputs": ["b", "short"]},
    {"name": "flatten", "type": "flatten"},
    {"name": "head", "type": "linear", "in": 4 * 14 * 14, "out": 10},
]


def test_a_join_takes_its_widest_branch_with_the_engines_numbers() -> None:
    j = join_field(BLOCK, "join")
    rows = {r.name: r for r in describe(BLOCK)}
    assert (j.r, j.stride, j.padding, j.size) == (13, 2, 6, 14)
    assert (j.r, j.stride, j.padding) == (rows["join"].r, rows["join"].stride,
                                          rows["join"].padding)
    assert j.fork == "stem" and (j.fork_r, j.fork_stride) == (3, 1)
    main, short = j.branches
    assert (main.name, main.r, main.stride, main.padding, main.path) == ("b", 13, 2, 6, ("a", "b"))
    assert (short.name, short.r, short.stride, short.padding, short.path) == (
        "short", 3, 2, 1, ("short",))
    assert main.offset == short.offset == 0.0 and j.aligned
    assert j.widest is main


def test_the_sentence_names_branches_fork_and_field() -> None:
    text = join_sentence(join_field(BLOCK, "join"))
    assert text.startswith("join adds 2 branches that start from stem (field 3x3, stride 1): "
                           "b (through a, b): 13x13; short (through short): 3x3.")
    assert "all step 2 pixels" in text and "(2y + 0, 2x + 0)" in text
    assert text.endswith("the largest, 13x13 (from b).")


def test_an_identity_shortcut_and_a_fork_at_the_image() -> None:
    layers = [
        conv("c1", 1, 3, 3),  # reads the image: r 3
        conv("c2", 1, 3, 5, inputs=["input"]),  # r 5
        {"name": "cat", "type": "concat", "inputs": ["c1", "c2", "input"]},  # 7 channels
        {"name": "gap", "type": "gap"},
        {"name": "flatten", "type": "flatten"},
        {"name": "head", "type": "linear", "in": 7, "out": 10},
    ]
    (j,) = joins(layers)
    assert j.name == "cat" and j.type == "concat" and j.fork == "input"
    assert [(b.name, b.r, b.path) for b in j.branches] == [
        ("c1", 3, ("c1",)), ("c2", 5, ("c2",)), ("input", 1, ())]
    assert j.r == 5 and j.widest.name == "c2"
    text = join_sentence(j)
    assert "cat stacks the channels of 3 branches that start from input" in text
    assert "input (straight from the fork (an identity shortcut)): 1x1" in text


def test_not_a_join_is_refused_with_the_joins_named() -> None:
    with pytest.raises(ValueError, match="'b' is not a join of this network; its joins: join"):
        join_field(BLOCK, "b")
    with pytest.raises(ValueError, match="its joins: none"):
        join_field(ARCHITECTURES["seed"].layers(), "conv1")
    assert joins(ARCHITECTURES["seed"].layers()) == []


def test_kernel_path_follows_the_graph_not_the_list() -> None:
    table = describe(BLOCK)
    assert kernel_path(table, "stem", "short") == ("short",)  # not a, b (listed before it)
    assert kernel_path(table, "stem", "join") == ("a", "b", "short")


@pytest.mark.skipif("resnet-mini" not in ARCHITECTURES, reason="resnet-mini not registered")
def test_resnet_mini_joins_match_its_field_table() -> None:
    layers = ARCHITECTURES["resnet-mini"].layers()
    rows = {r.name: r for r in describe(layers)}
    found = joins(layers)
    assert found and all(j.aligned for j in found)
    for j in found:
        assert (j.r, j.stride, j.padding) == (rows[j.name].r, rows[j.name].stride,
                                              rows[j.name].padding)
        assert j.r == max(rows[b.name].r if b.name in rows else 1 for b in j.branches)
        assert [b.name for b in j.branches] == list(rows[j.name].inputs)
    # at least one join goes through a strided projection (its stride doubles)
    assert any(j.stride > j.fork_stride and any(b.path for b in j.branches) for j in found)
