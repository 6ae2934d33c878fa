"""A training budget: how long a run would take on this server, and a limit the server sets.

Before a run starts its time is estimated from the network's MACs per image (``viz.lab``, the
one source of per-layer MACs), the number of images it will see and this server's speed. The
speed is measured once per server (a few timed training steps of two small networks, about a
second) and cached in the runs folder (``.throughput.json``), so the estimate is for this
machine: a training image costs ``overhead + MACs / rate`` seconds, fitted on the two networks.

:func:`check` refuses a run over ``$CNN_LENS_MAX_TRAIN_MINUTES`` (default 15) minutes, or a
network over the upload limits (``viz.card``), with a message naming the limit and the
estimate. ``model.jobs.JobManager.start`` calls it, so no page can bypass it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from model.atomic import atomic_write
from viz.card import analyse_checked

MAX_MINUTES_ENV = "CNN_LENS_MAX_TRAIN_MINUTES"
DEFAULT_MAX_MINUTES = 15.0
TRAIN_IMAGES = 55_000  # 60k minus the 5k validation split
VAL_IMAGES, TEST_IMAGES = 5_000, 10_000
CACHE_NAME = ".throughput.json"
# The two networks timed: a tiny one (the fixed cost per image: data, augmentation, optimiser)
# and a seed-sized one (the cost per MAC).
_TINY = [{"name": "conv1", "type": "conv", "in": 1, "out": 4, "kernel": 3, "stride": 1,
          "padding": 0, "bias": True}, {"name": "relu1", "type": "relu"},
         {"name": "pool1", "type": "maxpool", "kernel": 2, "stride": 2},
         {"name": "flatten", "type": "flatten"},
         {"name": "head", "type": "linear", "in": 676, "out": 10}]


_MEASURED: Throughput | None = None  # this process's measurement, for other runs folders


class OverBudget(ValueError):
    """A run this server will not start, with a message saying why and what to change."""


@dataclass(frozen=True)
class Throughput:
    """Seconds per training image: ``overhead + macs / macs_per_s`` (one torch thread)."""

    overhead_s: float
    macs_per_s: float
    host: str = ""
    torch: str = ""
    measured: str = ""

    def seconds_per_image(self, macs: int) -> float:
        return self.overhead_s + macs / self.macs_per_s


def _time_steps(layers: list[dict[str, Any]], batch: int = 64, steps: int = 6) -> float:
    """Seconds per image of a training step (forward, backward, SGD, augmentation)."""
    import torch
    import torch.nn.functional as F

    from model.train import augment
    from model.zoo import build_from_config

    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    model = build_from_config("timing", layers).to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    x = torch.rand(batch, 1, 28, 28, generator=gen)
    y = torch.randint(0, 10, (batch,), generator=gen)
    best = math.inf
    for i in range(steps + 1):
        t = time.perf_counter()
        xb = augment(x, 7.0, 2.0, gen).contiguous(memory_format=torch.channels_last)
        loss = F.cross_entropy(model(xb), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i:  # the first step warms up
            best = min(best, time.perf_counter() - t)
    return best / batch


def measure() -> Throughput:
    """Time a tiny and a seed-sized network; fit the cost per image and per MAC."""
    import torch

    from model.architectures import seed_layers
    from viz.lab import analyse

    m0, m1 = analyse(_TINY).macs, analyse(seed_layers()).macs
    t0, t1 = _time_steps(_TINY), _time_steps(seed_layers())
    if t1 > t0 * 1.05:
        rate = (m1 - m0) / (t1 - t0)
        overhead = max(0.0, t0 - m0 / rate)
    else:  # noise: charge everything to the MACs (an over- rather than underestimate)
        rate, overhead = m1 / t1, 0.0
    return Throughput(overhead, rate, platform.node(), torch.__version__,
                      time.strftime("%Y-%m-%dT%H:%M:%S"))


def throughput(runs_dir: str | os.PathLike[str]) -> Throughput:
    """This server's training speed: read from ``runs_dir/.throughput.json`` when it was
    measured on this machine, else measured now (about a second) and cached there."""
    global _MEASURED
    path = Path(runs_dir) / CACHE_NAME
    try:
        data = json.loads(path.read_text())
        tp = Throughput(**data)
        if tp.host == platform.node() and tp.macs_per_s > 0 and tp.overhead_s >= 0:
            return tp
    except (OSError, ValueError, TypeError):
        pass
    if _MEASURED is None or _MEASURED.host != platform.node():
        _MEASURED = measure()
    tp = _MEASURED
    with contextlib.suppress(OSError):  # a read-only runs folder: measured again next time
        atomic_write(path, (json.dumps(asdict(tp), indent=1) + "\n").encode())
    return tp


def images_seen(epochs: int, batch_size: int = 128, max_steps: int | None = None,
                train_images: int | None = None) -> int:
    """Training images a run goes through (its epochs, or its step limit if sooner)."""
    images = epochs * (TRAIN_IMAGES if train_images is None else train_images)
    if max_steps:
        images = min(images, max_steps * batch_size)
    return images


def estimate_seconds(layers: list[dict[str, Any]], images: int, epochs: int,
                     tp: Throughput) -> float:
    """Seconds to train ``layers`` on ``images`` images over ``epochs`` epochs on this server,
    with the validation pass after each epoch and the test pass at the end (a forward pass
    costs about a third of a training step)."""
    macs = analyse_checked(layers).macs
    forward = (epochs * VAL_IMAGES + TEST_IMAGES) / 3
    return (images + forward) * tp.seconds_per_image(macs)


def about(seconds: float) -> str:
    """'about 8 h here', 'about 12 min here', 'about 40 s here'."""
    if seconds >= 5400:
        return f"about {seconds / 3600:.0f} h here"
    if seconds >= 90:
        return f"about {seconds / 60:.0f} min here"
    return f"about {max(1, round(seconds))} s here"


def max_minutes() -> float:
    """The server's limit on a run's estimated time, from $CNN_LENS_MAX_TRAIN_MINUTES."""
    value = os.environ.get(MAX_MINUTES_ENV, "")
    try:
        minutes = float(value) if value.strip() else DEFAULT_MAX_MINUTES
    except ValueError:
        minutes = DEFAULT_MAX_MINUTES
    return minutes if minutes > 0 else DEFAULT_MAX_MINUTES


@dataclass(frozen=True)
class Estimate:
    seconds: float
    limit_s: float
    macs: int
    images: int

    @property
    def allowed(self) -> bool:
        return self.seconds <= self.limit_s

    def text(self) -> str:
        return about(self.seconds)


def estimate(layers: list[dict[str, Any]], epochs: int, runs_dir: str | os.PathLike[str],
             batch_size: int = 128, max_steps: int | None = None,
             train_images: int | None = None) -> Estimate:
    """The estimate for a run (raises ``viz.card.CardError`` for a network over the limits)."""
    macs = analyse_checked(layers).macs
    images = images_seen(epochs, batch_size, max_steps, train_images)
    seconds = estimate_seconds(layers, images, epochs, throughput(runs_dir))
    return Estimate(seconds, 60 * max_minutes(), macs, images)


def check(name: str, layers: list[dict[str, Any]], epochs: int,
          runs_dir: str | os.PathLike[str], batch_size: int = 128,
          max_steps: int | None = None, train_images: int | None = None) -> Estimate:
    """The estimate, or :class:`OverBudget` saying the limit, the estimate and what to change."""
    try:
        est = estimate(layers, epochs, runs_dir, batch_size, max_steps, train_images)
    except ValueError as exc:
        raise OverBudget(f"{name} cannot be trained here: {exc}") from None
    if not est.allowed:
        limit = max_minutes()
        raise OverBudget(
            f"Training {name} ({est.macs / 1e6:,.1f}M MACs per image, {est.images:,} images) "
            f"would take {est.text()}; this server allows runs of up to {limit:g} minutes "
            f"({MAX_MINUTES_ENV}). Train fewer epochs, stop after fewer steps, or choose a "
            f"smaller network.")
    return est
