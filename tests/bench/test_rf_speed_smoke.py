"""The benchmark's network is what it claims (no timing here: that is the benchmark's job)."""

import importlib.util
from pathlib import Path

from viz.receptive_field import compute

BENCH = Path(__file__).resolve().parents[2] / "bench" / "rf_speed.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("rf_speed", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_network_has_the_requested_layers_and_is_valid():
    bench = load_bench()
    for n in (20, 200):
        layers = bench.resnet_like(n)
        assert len(layers) == n
        fields = compute(layers, 224)
        assert any(f.type == "add" for f in fields) and fields[-1].is_global
