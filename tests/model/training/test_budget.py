"""The training budget: time and memory per run from every layer's work, and this server's speed."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from bench.budget_accuracy import SPREAD
from model.training import budget
from model.zoo import ARCHITECTURES
from viz.network.layers import describe
from viz.teaching.lab import rows_to_layers

# As if measured on a server: 20 us per image, 0.05 ns per conv MAC, 0.15 ns per linear MAC,
# 2 ns per element, 1 ns per window position.
TP = budget.Throughput(overhead_s=20e-6, conv_s=0.05e-9, linear_s=0.15e-9, element_s=2e-9,
                       window_s=1e-9, host=platform.node())
ROOT = Path(__file__).resolve().parents[3]


def conv(ch: int, k: int = 3, s: int = 1, p: int = 0) -> dict:
    return {"type": "conv", "channels": ch, "kernel": k, "stride": s, "padding": p}


def pool(k: int, s: int | None = None, p: int = 0, kind: str = "maxpool") -> dict:
    return {"type": kind, "kernel": k, "stride": s or k, "padding": p}


RELU, BN, GAP, FLAT = {"type": "relu"}, {"type": "bn"}, {"type": "gap"}, {"type": "flatten"}

# Finding 1 (scaled to 2,000 channels, under the upload limits' activation count): 24k
# parameters, 3M MACs, but over a gigabyte of activations per batch.
WIDE_2000 = rows_to_layers([conv(2000, 1), RELU, pool(28), conv(10, 1), FLAT])
# Finding 3: four 127x127 stride-1 max-pools (no MACs; 16k window positions per output).
POOL_127 = rows_to_layers([conv(8, 1), *[pool(127, 1, 63)] * 4, pool(28), conv(10, 1), FLAT])


@pytest.fixture
def runs(tmp_path, monkeypatch):
    (tmp_path / budget.CACHE_NAME).write_text(json.dumps(TP.__dict__))
    monkeypatch.delenv(budget.MAX_MINUTES_ENV, raising=False)
    monkeypatch.delenv(budget.MAX_MEMORY_ENV, raising=False)
    return tmp_path


def test_every_kind_of_work_is_counted() -> None:
    seed = describe(ARCHITECTURES["seed"].layers())
    c = budget.cost(seed)
    assert c.conv_macs == sum(i.macs for i in seed) and c.linear_macs == 0
    # 10 convs: (out elements * k^2) / 4 window positions each; one 2x2 max-pool on 8x28x28
    convs = sum(i.elements * i.kernel ** 2 // 4 for i in seed if i.type == "conv")
    assert c.windows == convs + 8 * 14 * 14 * 4
    weights = budget.ELEMENT_WEIGHT
    assert c.elements == sum(weights[i.type] * i.elements for i in seed) + 8 * 28 * 28
    pools = budget.cost(describe(POOL_127))
    assert pools.macs == 8 * 28 * 28 + 8 * 10
    assert pools.windows == 8 * 28 * 28 // 4 + 4 * 8 * 28 * 28 * 127 ** 2 + 8 * 28 * 28 + 10 // 4
    mlp = budget.cost(describe(SPREAD["mlp"]))
    assert mlp.linear_macs == 784 * 1000 + 1000 * 1000 + 1000 * 10 and mlp.conv_macs == 0
    assert budget.cost(describe(WIDE_2000)).biggest in ("conv1", "relu1")


def test_estimate_is_the_work_times_this_servers_rates() -> None:
    seed = ARCHITECTURES["seed"].layers()
    c = budget.cost(describe(seed))
    per_image = (20e-6 + c.conv_macs * 0.05e-9 + c.elements * 2e-9 + c.windows * 1e-9)
    images = 3 * 55_000
    forward = (3 * 5_000 + 10_000) / 3
    assert budget.estimate_seconds(seed, images, 3, TP) == pytest.approx(
        (images + forward) * per_image)
    assert budget.images_seen(3) == 165_000
    assert budget.images_seen(3, batch_size=128, max_steps=10) == 1280


def test_readable_estimates() -> None:
    assert budget.about(28_800) == "about 8 h here"
    assert budget.about(725) == "about 12 min here"
    assert budget.about(40.4) == "about 40 s here"
    assert budget.about(0.2) == "about 1 s here"


def test_seed_original_is_refused_naming_the_limit_and_the_estimate(runs) -> None:
    with pytest.raises(budget.OverBudget) as info:
        budget.check("seed-original", ARCHITECTURES["seed-original"].layers(), 3, runs)
    est = budget.estimate_seconds(ARCHITECTURES["seed-original"].layers(), 165_000, 3, TP)
    message = str(info.value)
    assert message.startswith(f"Training seed-original (1,549.5M MACs per image, 165,000 "
                              f"images) would take {budget.about(est)}; this server allows runs "
                              f"of up to 15 minutes (CNN_LENS_MAX_TRAIN_MINUTES).")


def test_a_pooling_stack_is_charged_for_its_windows(runs) -> None:
    """Finding 3: no MACs, but 4 x 127^2 window positions per output: refused on time."""
    with pytest.raises(budget.OverBudget, match="would take about [0-9]+ h here"):
        budget.check("this table", POOL_127, 1, runs)


def test_the_limit_comes_from_the_environment(runs, monkeypatch) -> None:
    seed = ARCHITECTURES["seed"].layers()
    est = budget.check("seed", seed, 3, runs)
    assert est.allowed and est.text() == budget.about(est.seconds)
    monkeypatch.setenv(budget.MAX_MINUTES_ENV, "1")
    with pytest.raises(budget.OverBudget, match="up to 1 minutes"):
        budget.check("seed", seed, 3, runs)
    assert budget.check("seed", seed, 3, runs, max_steps=20).allowed  # a short demo still runs
    assert budget.deadline_seconds() == 60 * 1.5
    monkeypatch.setenv(budget.MAX_MINUTES_ENV, "not a number")
    assert budget.max_minutes() == 15
    monkeypatch.setenv(budget.MAX_MINUTES_ENV, "nan")
    assert budget.max_minutes() == 15 and budget.deadline_seconds() == 15 * 60 * 1.5


def test_a_batch_over_the_memory_bound_is_refused_saying_what_to_change(runs) -> None:
    """Finding 1: few parameters and MACs, but a batch's activations need gigabytes."""
    c = budget.cost(describe(WIDE_2000))
    need = budget.memory_bytes(c, 128)
    assert need > 128 * 2000 * 784 * 4 * 2  # the conv's and the ReLU's outputs, at least
    with pytest.raises(budget.OverBudget) as info:
        budget.check("this table", WIDE_2000, 1, runs)
    message = str(info.value)
    assert f"about {need / 2**20:,.0f} MB of memory per batch of 128 images" in message
    assert "this server allows 1,024 MB (CNN_LENS_MAX_TRAIN_MEMORY_MB)" in message
    assert f"The largest output is {c.biggest}'s, {128 * 2000 * 784 * 4 / 2**20:,.0f} MB" in message
    assert "fewer channels" in message


def test_the_zoos_trainable_networks_fit_the_default_memory_bound(runs, monkeypatch) -> None:
    for name in ("seed", "compact", "fast", "seed-3x3"):
        est = budget.check(name, ARCHITECTURES[name].layers(), 1, runs)
        assert 0 < est.memory < est.memory_limit == 1024 * 2**20, name
    monkeypatch.setenv(budget.MAX_MEMORY_ENV, "20")
    with pytest.raises(budget.OverBudget, match=r"this server allows 20 MB"):
        budget.check("seed", ARCHITECTURES["seed"].layers(), 1, runs)
    # Adam keeps one more copy of the weights than SGD
    c = budget.cost(describe(ARCHITECTURES["fast"].layers()))
    extra = budget.memory_bytes(c, 128, "adam") - budget.memory_bytes(c, 128, "sgd")
    assert extra == pytest.approx(budget.MEMORY_SAFETY * 4 * c.params, abs=1)


def test_a_network_over_the_upload_limits_is_refused_with_their_message(runs) -> None:
    from viz.network.card import LIMITS
    huge = rows_to_layers([{"type": "conv", "padding": 1, "channels": 3000},
                           {"type": "conv", "padding": 1, "channels": 3000}, {"type": "gap"},
                           {"type": "flatten"}, {"type": "linear"}])
    with pytest.raises(budget.OverBudget, match=f"this table cannot be trained here: .*{LIMITS}"):
        budget.check("this table", huge, 1, runs)


def test_fit_recovers_rates_and_never_makes_work_free() -> None:
    costs = [budget.cost(describe(layers)) for layers in budget.CALIBRATION.values()]
    true = (30e-6, 0.04e-9, 0.2e-9, 3e-9, 0.8e-9)
    seconds = [sum(a * b for a, b in zip(true, c.vector())) for c in costs]
    assert budget.fit(costs, seconds) == pytest.approx(true, rel=1e-6)
    # noise that would fit a negative rate: that term gets the smallest positive rate instead
    seconds[2] *= 0.2  # the linear network measured far faster than its work
    coef = budget.fit(costs, seconds)
    assert all(v >= 0 for v in coef) and min(coef[1:]) > 0


def test_throughput_is_measured_once_and_cached_in_the_runs_folder(tmp_path, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(budget, "_MEASURED", None)
    monkeypatch.setattr(budget, "measure", lambda: calls.append(1) or TP)
    assert budget.throughput(tmp_path) == TP
    assert json.loads((tmp_path / budget.CACHE_NAME).read_text())["window_s"] == 1e-9
    assert budget.throughput(tmp_path) == TP and len(calls) == 1
    other = budget.Throughput(1e-5, 1e-10, 1e-10, 1e-9, 1e-9, host="elsewhere")
    (tmp_path / budget.CACHE_NAME).write_text(json.dumps(other.__dict__))  # another machine's
    assert budget.throughput(tmp_path) == TP and len(calls) == 1  # this process measured it


def test_an_old_cache_file_without_todays_fields_is_stale(tmp_path, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(budget, "_MEASURED", None)
    monkeypatch.setattr(budget, "measure", lambda: calls.append(1) or TP)
    old = {"overhead_s": 2e-5, "macs_per_s": 2e9, "host": platform.node(), "torch": "",
           "measured": ""}  # before pooling, elements and linear layers were counted
    (tmp_path / budget.CACHE_NAME).write_text(json.dumps(old))
    assert budget.throughput(tmp_path) == TP and calls == [1]
    assert set(json.loads((tmp_path / budget.CACHE_NAME).read_text())) >= {
        "conv_s", "linear_s", "element_s", "window_s"}
    zero = {**TP.__dict__, "window_s": 0.0}  # a damaged file that would make pooling free
    (tmp_path / budget.CACHE_NAME).write_text(json.dumps(zero))
    monkeypatch.setattr(budget, "_MEASURED", None)
    assert budget.throughput(tmp_path) == TP and calls == [1, 1]


_PEAK = """
import sys
import torch, torch.nn.functional as F
sys.path.insert(0, {root!r})
from model.zoo import build_from_config
torch.set_num_threads(1)
model = build_from_config("m", {layers!r}).to(memory_format=torch.channels_last).train()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
x, y = torch.rand(128, 1, 28, 28).contiguous(memory_format=torch.channels_last), torch.arange(128) % 10
with torch.no_grad():
    model(x[:1])

def rss(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field))

base = rss("VmRSS:")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets the peak (VmHWM) to what is resident now
for _ in range(2):
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
print((rss("VmHWM:") - base) * 1024)
"""


@pytest.mark.slow
@pytest.mark.parametrize("name", ["seed", "wide 1x1"])
def test_the_memory_estimate_is_within_3x_of_a_measured_peak(name) -> None:
    """Peak resident memory (VmHWM, reset just before) of two training steps (batch 128) in a
    fresh process, over what it held before the first step."""
    layers = SPREAD[name]
    r = subprocess.run([sys.executable, "-c", _PEAK.format(root=str(ROOT), layers=layers)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    peak = int(r.stdout.split()[-1])
    est = budget.memory_bytes(budget.cost(describe(layers)), 128)
    assert peak / 3 <= est <= 3 * peak, (est, peak)


@pytest.mark.slow
def test_measuring_gives_valid_rates_for_this_host() -> None:
    """How fast is the machine's business (bench/budget_accuracy.py); here only that it fits."""
    tp = budget.measure()
    assert tp.valid() and tp.host == platform.node()


def test_the_split_it_counts_is_the_one_training_uses_and_needs_no_torch() -> None:
    from model.data import TRAIN_SET_SIZE, TRAIN_SIZE, VALIDATION_SIZE
    from model.train import TrainConfig
    assert TrainConfig().val_size == VALIDATION_SIZE == 5_000
    assert TRAIN_SIZE == TRAIN_SET_SIZE - VALIDATION_SIZE == 55_000
    assert budget.images_seen(1) == TRAIN_SIZE
    code = ("import sys; sys.modules['torch'] = None; from model import data; from model.training import budget; "
            "print(budget.images_seen(2), data.VALIDATION_SIZE)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.split() == ["110000", "5000"], out.stderr
