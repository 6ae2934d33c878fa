"""The training budget: an estimate per run from MACs, images and this server's speed."""

from __future__ import annotations

import json
import platform

import pytest

from model import budget
from model.zoo import ARCHITECTURES

# One image costs 20 us plus 0.5 ns per MAC (as if measured on a server).
TP = budget.Throughput(overhead_s=20e-6, macs_per_s=2e9, host=platform.node())


@pytest.fixture
def runs(tmp_path, monkeypatch):
    (tmp_path / budget.CACHE_NAME).write_text(json.dumps(TP.__dict__))
    monkeypatch.delenv(budget.MAX_MINUTES_ENV, raising=False)
    return tmp_path


def test_estimate_is_macs_times_images_over_the_measured_speed() -> None:
    seed = ARCHITECTURES["seed"].layers()
    from viz.lab import analyse
    macs = analyse(seed).macs
    per_image = 20e-6 + macs / 2e9
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
    message = str(info.value)
    assert message.startswith("Training seed-original (1,549.5M MACs per image, 165,000 images) "
                              "would take about 37 h here; this server allows runs of up to 15 "
                              "minutes (CNN_LENS_MAX_TRAIN_MINUTES).")


def test_the_limit_comes_from_the_environment(runs, monkeypatch) -> None:
    seed = ARCHITECTURES["seed"].layers()
    est = budget.check("seed", seed, 3, runs)  # about 8 min at this speed
    assert est.allowed and est.text() == budget.about(est.seconds)
    monkeypatch.setenv(budget.MAX_MINUTES_ENV, "1")
    with pytest.raises(budget.OverBudget, match="up to 1 minutes"):
        budget.check("seed", seed, 3, runs)
    assert budget.check("seed", seed, 3, runs, max_steps=20).allowed  # a short demo still runs
    monkeypatch.setenv(budget.MAX_MINUTES_ENV, "not a number")
    assert budget.max_minutes() == 15


def test_a_network_over_the_upload_limits_is_refused_with_their_message(runs) -> None:
    from viz.card import LIMITS
    from viz.lab import rows_to_layers
    huge = rows_to_layers([{"type": "conv", "padding": 1, "channels": 3000},
                           {"type": "conv", "padding": 1, "channels": 3000}, {"type": "gap"},
                           {"type": "flatten"}, {"type": "linear"}])
    with pytest.raises(budget.OverBudget, match=f"this table cannot be trained here: .*{LIMITS}"):
        budget.check("this table", huge, 1, runs)


def test_throughput_is_measured_once_and_cached_in_the_runs_folder(tmp_path, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(budget, "_MEASURED", None)
    monkeypatch.setattr(budget, "measure", lambda: calls.append(1) or TP)
    assert budget.throughput(tmp_path) == TP
    assert json.loads((tmp_path / budget.CACHE_NAME).read_text())["macs_per_s"] == 2e9
    assert budget.throughput(tmp_path) == TP and len(calls) == 1
    other = budget.Throughput(1e-5, 2e9, host="elsewhere")
    (tmp_path / budget.CACHE_NAME).write_text(json.dumps(other.__dict__))  # another machine's
    assert budget.throughput(tmp_path) == TP and len(calls) == 1  # this process measured it


@pytest.mark.slow
def test_measuring_gives_a_plausible_speed() -> None:
    tp = budget.measure()
    assert 1e7 < tp.macs_per_s < 1e13 and 0 <= tp.overhead_s < 1e-2
    assert tp.host == platform.node()
