"""The classroom benchmark's protocol client works: one session opens a link and clicks once of
each kind, and every request ends in a ``script_finished`` with what was asked on the page and
no exception (no timing here: that is the benchmark's job)."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "classroom_load.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("classroom_load", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def test_plans_are_valid_links_with_units_inside_their_layers():
    bench = load_bench()
    shapes = bench.layer_shapes()
    for i in range(40):
        p = bench.plan(i, i, shapes)
        c, y, x = p.unit
        depth, h, w = shapes[p.model][p.layer]
        assert 0 <= c < depth and 0 <= y < h and 0 <= x < w
        assert p.layer2 != p.layer and p.layer2 in shapes[p.model]
        assert p.link() == (f"model={p.model}&input=sample:{i}&layer={p.layer}&view=field"
                            f"&unit={c},{y},{x}")
    assert {bench.plan(i, 0, shapes).model for i in range(4)} == set(bench.MODELS)


def test_percentile_interpolates_between_ranks():
    bench = load_bench()
    assert bench.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert bench.percentile([1.0, 2.0], 95) == pytest.approx(1.95)
    assert bench.percentile([5.0], 95) == 5.0


def test_bounds_are_refused_with_a_message():
    bench = load_bench()
    with pytest.raises(ValueError, match="between 1 and 40"):
        bench.run([41])
    with pytest.raises(ValueError, match="between 1 and 40"):
        bench.run([0])


@pytest.mark.slow
def test_one_session_opens_a_link_and_every_interaction_finishes_cleanly():
    bench = load_bench()
    result = bench.run([1], think=0.0, warmup=False, timeout=240, request_timeout=120)
    assert not result["meta"]["timed_out"]
    (phase,) = result["phases"]
    requests = phase["requests"]
    assert [r["kind"] for r in requests] == list(bench.KINDS)
    for r in requests:
        assert r["finished"], r
        assert r["errors"] == [], r
        assert r["verified"], r  # the page shows the asked layer, unit, view and method
        assert r["bytes"] > 0 and r["seconds"] > 0
    assert phase["stats"]["interaction"]["count"] == 4
