"""The ONNX reader's bounds: every tensor it makes is charged to the file's budget from shapes
before it is made, so hostile small files are refused in one line, fast and with little memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from model.files.budget import MAX_VALUES  # noqa: E402
from model.files.onnx_import import read_onnx  # noqa: E402
from tests.model.files.test_onnx_import import tiny  # noqa: E402
from viz.network.card import CardError  # noqa: E402


def _const(name: str, a: np.ndarray) -> TensorProto:
    return numpy_helper.from_array(np.asarray(a), name)


def folded(chain: list, inits: list) -> bytes:  # type: ignore[type-arg]
    """The tiny network (flatten + Gemm) whose scores get ``c`` added: ``chain`` is the
    constant nodes making ``c`` from the initializers ``inits``."""
    rng = np.random.default_rng(0)
    w = _const("w", rng.standard_normal((10, 784)).astype(np.float32))
    nodes = [helper.make_node("Flatten", ["x"], ["f"], axis=1),
             helper.make_node("Gemm", ["f", "w"], ["g"], transB=1), *chain,
             helper.make_node("Add", ["g", "c"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], [w, *inits])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]
                             ).SerializeToString()


BIG = np.zeros(200_000, np.float32)
N = helper.make_node
HOSTILE = {
    "gather 500 zero indices": (
        [N("Gather", ["big", "idx"], ["c"])],
        [_const("big", BIG.reshape(1, -1)), _const("idx", np.zeros(500, np.int64))],
        "folded to shape (500, 200000)"),
    "concat one constant 500 times": (
        [N("Concat", ["big"] * 500, ["c"], axis=0)], [_const("big", BIG)],
        "folded to shape (100000000,)"),
    "tile": ([N("Tile", ["big", "r"], ["c"])],
             [_const("big", BIG), _const("r", np.array([1000], np.int64))], "(Tile)"),
    "expand": ([N("Expand", ["one", "s"], ["c"])],
               [_const("one", np.ones(1, np.float32)),
                _const("s", np.array([100_000_000], np.int64))], "(Expand)"),
    "constant of shape": ([N("ConstantOfShape", ["s"], ["c"])],
                          [_const("s", np.array([50_000, 50_000], np.int64))],
                          "(ConstantOfShape)"),
    "range": ([N("Range", ["a", "b", "d"], ["c"])],
              [_const("a", np.array(0.0, np.float32)), _const("b", np.array(1e9, np.float32)),
               _const("d", np.array(1.0, np.float32))], "(Range)"),
    "add broadcast": ([N("Add", ["col", "row"], ["c"])],
                      [_const("col", np.zeros((20_000, 1), np.float32)),
                       _const("row", np.zeros((1, 20_000), np.float32))], "(Add)"),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_folded_constants_over_the_budget_are_refused_from_shapes(case: str) -> None:
    chain, inits, words = HOSTILE[case]
    data = folded(chain, inits)
    assert len(data) < 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(CardError) as info:
            read_onnx({"a.onnx": data}, "a.onnx")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert message.startswith("a.onnx: ") and "\n" not in message
    assert words in message, message
    assert f"more than {MAX_VALUES:,} numbers" in message and "Export" in message, message
    assert peak < 40_000_000, peak  # the file and its parse; nothing of the folded size


FILES = {
    "3,000 one-number initializers": (
        lambda: tiny(extra=[_const(f"i{k}", np.zeros(1, np.float32)) for k in range(3000)]),
        {}, "more than 2,000 initializers in its graph"),
    "over the byte limit": (tiny, {"max_bytes": 10_000}, "Keep the weights in an .onnx.data"),
    "not protobuf (a field runs past the end)": (
        lambda: b"\x3a\xff\xff\xff\x0f" + b"\0" * 20, {}, "not an ONNX model"),
}


@pytest.mark.parametrize("case", list(FILES), ids=list(FILES))
def test_files_refused_before_parsing(case: str) -> None:
    make, kwargs, words = FILES[case]
    with pytest.raises(CardError) as info:
        read_onnx({"a.onnx": make()}, "a.onnx", **kwargs)
    message = str(info.value)
    assert words in message and "\n" not in message and message.startswith("a.onnx: "), message


# -- random small graphs of foldable ops ---------------------------------------------------------

BUDGET = 200_000  # numbers: small, so random graphs cross it


@st.composite
def chains(draw):  # type: ignore[no-untyped-def]
    """(nodes, initializers, numbers every made tensor holds in all): a chain of Tile, Concat,
    Gather, Expand+Reshape, Add and Cast on 1-d constants, each output's size known here."""
    n = draw(st.integers(1, 400))
    inits = [_const("c0", np.arange(n, dtype=np.float32))]
    total = n + 784 * 10  # the chain's constants and the Gemm's weights
    nodes = []
    for i in range(draw(st.integers(1, 5))):
        x, y = f"c{i}", f"c{i + 1}"
        op = draw(st.sampled_from(["Tile", "Concat", "Gather", "Expand", "Add", "Cast"]))
        if op == "Tile":
            r = draw(st.integers(1, 600))
            inits.append(_const(f"r{i}", np.array([r], np.int64)))
            nodes.append(N("Tile", [x, f"r{i}"], [y]))
            total, n = total + 1 + n * r, n * r
        elif op == "Concat":
            k = draw(st.integers(1, 40))
            nodes.append(N("Concat", [x] * k, [y], axis=0))
            total, n = total + n * k, n * k
        elif op == "Gather":
            m = draw(st.integers(1, 3000))
            inits.append(_const(f"i{i}", np.zeros(m, np.int64)))
            nodes.append(N("Gather", [x, f"i{i}"], [y]))
            total, n = total + m + m, m
        elif op == "Expand":
            a = draw(st.integers(1, 300))
            inits += [_const(f"s{i}", np.array([a, 1], np.int64)),
                      _const(f"f{i}", np.array([-1], np.int64))]
            nodes += [N("Expand", [x, f"s{i}"], [f"e{i}"]), N("Reshape", [f"e{i}", f"f{i}"], [y])]
            total, n = total + 3 + 2 * a * n, a * n
        elif op == "Add":
            nodes.append(N("Add", [x, x], [y]))
            total += n
        else:
            nodes.append(N("Cast", [x], [y], to=TensorProto.FLOAT))
            total += n
    nodes.append(N("Identity", [f"c{i + 1}"], ["c"]))
    return nodes, inits, total + n


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chains())
def test_random_folded_graphs_stay_within_the_budget(chain) -> None:  # type: ignore[no-untyped-def]
    nodes, inits, total = chain
    data = folded(nodes, inits)
    tracemalloc.start()
    try:
        try:
            imp = read_onnx({"a.onnx": data}, "a.onnx", max_values=BUDGET)
            refused = None
        except CardError as exc:
            refused = str(exc)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # at most the budget's numbers at 8 bytes, a few copies, plus the parsed file
    assert peak <= 4 * 8 * BUDGET + 4 * len(data) + 2_000_000, (peak, total)
    if total > BUDGET:
        assert refused is not None and f"more than {BUDGET:,} numbers" in refused, refused
    elif refused is not None:  # within the budget: refused only for what the sum is
        assert "numbers" not in refused and "\n" not in refused, refused
        assert "of a constant on a vector" in refused, refused
    else:
        assert imp.layers[-1]["type"] == "linear"
