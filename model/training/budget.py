"""A training budget: how long a run would take on this server, how much memory a batch needs,
and the limits the server sets.

Both are estimated from the layer records alone (nothing is built), with per-image cost
coefficients measured once per server and cached in the runs folder. :func:`check` refuses a run
over the time or memory limit or the upload limits, with a message naming the limit, the
estimate and what to change; the job manager calls it, so no page can bypass it. The cost model
in words: docs/models.md.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from model.data import TEST_SET_SIZE, TRAIN_SIZE, VALIDATION_SIZE
from model.files.atomic import atomic_write
from viz.limits import TRAINING_MEMORY_MB, TRAINING_MINUTES
from viz.network.card import analyse_checked
from viz.network.layers import INPUT_ELEMENTS, INPUT_SHAPE, LayerInfo
from viz.network.layertypes import LAYER_TYPE_LIST

MAX_MINUTES_ENV = "CNN_LENS_MAX_TRAIN_MINUTES"
MAX_MEMORY_ENV = "CNN_LENS_MAX_TRAIN_MEMORY_MB"
# A run is stopped on the clock once it has run this much longer than the time limit (the
# estimate is checked against measured steps to within 3x; the slack covers a busy server).
DEADLINE_SLACK = 1.5
CACHE_NAME = ".throughput.json"
MEMORY_SAFETY = 1.25  # the memory model against measured peaks (tests/model/training/test_budget.py)
# Per layer type, how many numbers' worth of work one output number costs: its entry's ``cost``
# (ReLU = 1), required of every entry, so no type is counted by a guess.
ELEMENT_WEIGHT: dict[str, float] = {t.name: t.cost for t in LAYER_TYPE_LIST}
POOLS = ("maxpool", "avgpool", "gap", "gmp")


def _conv(out: int, k: int = 3, s: int = 1, p: int = 0, name: str = "c") -> dict[str, Any]:
    return {"name": name, "type": "conv", "in": 0, "out": out, "kernel": k, "stride": s,
            "padding": p, "bias": True}


def _chain(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill in the input channels / features of hand-written calibration records."""
    channels, out = 1, []
    for i, rec in enumerate(layers):
        rec = {**rec, "name": f"{rec['type']}{i}"}
        if rec["type"] == "conv":
            rec["in"], channels = channels, rec["out"]
        elif rec["type"] == "bn":
            rec["channels"] = channels
        out.append(rec)
    return out


# The networks timed, each dominated by one term of the cost: a tiny one (the fixed cost per
# image: data, augmentation, optimiser), conv MACs (64-channel 3x3 convs), linear MACs (an MLP),
# elements (1x1 conv + BatchNorm, ReLU, dropout on 32x28x28) and windows (stride-1 9x9 pooling).
_TINY = [{"name": "conv1", "type": "conv", "in": 1, "out": 4, "kernel": 3, "stride": 1,
          "padding": 0, "bias": True}, {"name": "relu1", "type": "relu"},
         {"name": "pool1", "type": "maxpool", "kernel": 2, "stride": 2},
         {"name": "flatten", "type": "flatten"},
         {"name": "head", "type": "linear", "in": 676, "out": 10}]
_POOL28 = {"type": "maxpool", "kernel": 28, "stride": 28}
_CONV_NET = _chain([_conv(16, 3, 2, 1), _conv(64, 3, 1, 1), _conv(64, 3, 1, 1),
                    {"type": "maxpool", "kernel": 14, "stride": 14}, _conv(10, 1),
                    {"type": "flatten"}])
_LINEAR_NET = [{"name": "flatten", "type": "flatten"},
               {"name": "fc1", "type": "linear", "in": 784, "out": 1024},
               {"name": "fc2", "type": "linear", "in": 1024, "out": 512},
               {"name": "head", "type": "linear", "in": 512, "out": 10}]
_ELEMENT_NET = _chain([_conv(32, 1), {"type": "bn"}, {"type": "relu"},
                       {"type": "dropout", "p": 0.1}, {"type": "relu"}, {"type": "bn"},
                       _POOL28, _conv(10, 1), {"type": "flatten"}])
_WINDOW_NET = _chain([_conv(4, 1), {"type": "maxpool", "kernel": 9, "stride": 1, "padding": 4},
                      {"type": "avgpool", "kernel": 9, "stride": 1, "padding": 4},
                      {"type": "maxpool", "kernel": 9, "stride": 1, "padding": 4},
                      _POOL28, _conv(10, 1), {"type": "flatten"}])
CALIBRATION = {"tiny": _TINY, "conv": _CONV_NET, "linear": _LINEAR_NET,
               "elements": _ELEMENT_NET, "windows": _WINDOW_NET}


_MEASURED: Throughput | None = None  # this process's measurement, for other runs folders


class OverBudget(ValueError):
    """A run this server will not start, with a message saying why and what to change."""


@dataclass(frozen=True)
class Cost:
    """What one training image costs, from the layer records (per image)."""

    conv_macs: int
    linear_macs: int
    elements: float  # numbers read and written, weighted by layer type
    windows: int  # kernel positions visited by convs and pooling layers
    kept: int  # bytes every layer keeps for the backward pass (outputs, indices, masks)
    widest: int  # elements of the largest layer output (its gradient is held in backward)
    params: int
    biggest: str  # the layer whose output is largest
    biggest_bytes: int

    @property
    def macs(self) -> int:
        return self.conv_macs + self.linear_macs

    def vector(self) -> tuple[float, float, float, float, float]:
        return (1.0, float(self.conv_macs), float(self.linear_macs), self.elements,
                float(self.windows))


def cost(infos: list[LayerInfo] | tuple[LayerInfo, ...]) -> Cost:
    """The per-image cost of a described network (``viz.network.layers.describe``)."""
    conv = linear = windows = kept = widest = 0
    elements = 0.0
    prev = INPUT_ELEMENTS
    biggest, biggest_n = "", 0
    params = 0
    for info in infos:
        out = info.elements
        params += info.params
        if info.type == "conv":
            conv += info.macs
            windows += out * (info.kernel or 1) ** 2 // 4  # (its MACs count the rest)
        elif info.type == "linear":
            linear += info.macs
        elif info.type in ("maxpool", "avgpool"):
            windows += out * (info.kernel or 1) ** 2
        elements += ELEMENT_WEIGHT[info.type] * out
        if info.type in POOLS:
            elements += prev  # reads its whole input
        kept += 4 * out + (8 * out if info.type == "maxpool" else 0) + (
            out if info.type == "dropout" else 0)
        widest = max(widest, out)
        if out > biggest_n:
            biggest, biggest_n = info.name, out
        prev = out
    return Cost(conv, linear, elements, windows, kept + 4 * INPUT_ELEMENTS, max(widest, prev), params,
                biggest, 4 * biggest_n)


@dataclass(frozen=True)
class Throughput:
    """Seconds per training image: ``overhead + conv MACs * conv_s + linear MACs * linear_s
    + elements * element_s + windows * window_s`` (one torch thread)."""

    overhead_s: float
    conv_s: float  # per conv MAC
    linear_s: float  # per linear MAC
    element_s: float  # per weighted element
    window_s: float  # per kernel window position
    host: str = ""
    torch: str = ""
    measured: str = ""

    def seconds_per_image(self, c: Cost) -> float:
        coef = (self.overhead_s, self.conv_s, self.linear_s, self.element_s, self.window_s)
        return sum(a * b for a, b in zip(coef, c.vector()))

    def valid(self) -> bool:
        coef = (self.overhead_s, self.conv_s, self.linear_s, self.element_s, self.window_s)
        return (all(isinstance(v, (int, float)) and math.isfinite(v) and v >= 0 for v in coef)
                and self.conv_s > 0 and self.linear_s > 0 and self.element_s > 0
                and self.window_s > 0)


def _time_steps(layers: list[dict[str, Any]], batch: int = 64, steps: int = 4) -> float:
    """Seconds per image of a training step (forward, backward, SGD, augmentation): the best of
    ``steps``, in this thread's CPU time (one torch thread runs in the calling thread), so other
    processes on a busy server do not inflate it."""
    import torch
    import torch.nn.functional as F

    from model.train import augment
    from model.zoo import build_from_config

    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    model = build_from_config("timing", layers).to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    x = torch.rand(batch, *INPUT_SHAPE, generator=gen)
    y = torch.randint(0, 10, (batch,), generator=gen)
    best = math.inf
    for i in range(steps + 1):
        t = time.thread_time()
        xb = augment(x, 7.0, 2.0, gen).contiguous(memory_format=torch.channels_last)
        loss = F.cross_entropy(model(xb), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i:  # the first step warms up
            best = min(best, time.thread_time() - t)
    return best / batch


def fit(costs: list[Cost], seconds: list[float]) -> tuple[float, ...]:
    """Non-negative least squares of seconds per image on the cost terms (relative error): a
    term fitted negative (noise) is dropped and the rest refitted; a dropped term other than the
    overhead gets the smallest rate seen, so no kind of work is ever free."""
    import numpy as np

    a = np.array([c.vector() for c in costs], dtype=float)
    t = np.array(seconds, dtype=float)
    w = 1.0 / t  # relative error: small networks count as much as large ones
    active = list(range(a.shape[1]))
    coef = np.zeros(a.shape[1])
    while active:
        sub = a[:, active] * w[:, None]
        sol, *_ = np.linalg.lstsq(sub, t * w, rcond=None)
        if (sol >= 0).all():
            coef[:] = 0
            coef[active] = sol
            break
        active.pop(int(np.argmin(sol)))
    for j in range(1, len(coef)):  # a dropped term: the cheapest rate per unit among the rest
        if coef[j] <= 0:
            floor = min((coef[i] for i in range(1, len(coef)) if coef[i] > 0), default=1e-9)
            coef[j] = floor
    return tuple(float(v) for v in coef)


def measure() -> Throughput:
    """Time the calibration networks; fit the cost per image, MAC, element and window."""
    import torch

    from viz.network.layers import describe

    costs = [cost(describe(layers)) for layers in CALIBRATION.values()]
    seconds = [_time_steps(layers, batch=64, steps=4) for layers in CALIBRATION.values()]
    coef = fit(costs, seconds)
    return Throughput(*coef, host=platform.node(), torch=torch.__version__,
                      measured=time.strftime("%Y-%m-%dT%H:%M:%S"))


def throughput(runs_dir: str | os.PathLike[str]) -> Throughput:
    """This server's training speed: read from ``runs_dir/.throughput.json`` when it was
    measured on this machine with today's fields, else measured now (about two seconds) and
    cached there."""
    global _MEASURED
    path = Path(runs_dir) / CACHE_NAME
    try:
        data = json.loads(path.read_text())
        names = {f.name for f in fields(Throughput)}
        if isinstance(data, dict) and set(data) == names:  # an older file: stale
            tp = Throughput(**data)
            if tp.host == platform.node() and tp.valid():
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
    images = epochs * (TRAIN_SIZE if train_images is None else train_images)
    if max_steps:
        images = min(images, max_steps * batch_size)
    return images


def estimate_seconds(layers: list[dict[str, Any]], images: int, epochs: int,
                     tp: Throughput) -> float:
    """Seconds to train ``layers`` on ``images`` images over ``epochs`` epochs on this server,
    with the validation pass after each epoch and the test pass at the end (a forward pass
    costs about a third of a training step)."""
    c = cost(analyse_checked(layers).layers)
    forward = (epochs * VALIDATION_SIZE + TEST_SET_SIZE) / 3
    return (images + forward) * tp.seconds_per_image(c)


def memory_bytes(c: Cost, batch_size: int = 128, optimizer: str = "sgd") -> int:
    """Bytes a training step of ``batch_size`` images holds at its peak: every layer's output
    kept for the backward pass (and max-pool indices, dropout masks), the gradients of the
    widest layer going through, the weights with their gradients and optimiser state."""
    state = 4 if optimizer == "adam" else 3  # weights, gradients, momentum (+ Adam's second)
    step = batch_size * (c.kept + 2 * 4 * c.widest) + 4 * state * c.params
    return int(MEMORY_SAFETY * step)


def about(seconds: float) -> str:
    """'about 8 h here', 'about 12 min here', 'about 40 s here'."""
    if seconds >= 5400:
        return f"about {seconds / 3600:.0f} h here"
    if seconds >= 90:
        return f"about {seconds / 60:.0f} min here"
    return f"about {max(1, round(seconds))} s here"


def max_minutes() -> float:
    """The server's limit on a run's estimated time, from $CNN_LENS_MAX_TRAIN_MINUTES."""
    return _positive_env(MAX_MINUTES_ENV, TRAINING_MINUTES)


def max_memory_mb() -> float:
    """The server's limit on a training batch's memory, from $CNN_LENS_MAX_TRAIN_MEMORY_MB."""
    return _positive_env(MAX_MEMORY_ENV, TRAINING_MEMORY_MB)


def _positive_env(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    try:
        number = float(value) if value.strip() else default
    except ValueError:
        number = default
    return number if math.isfinite(number) and number > 0 else default


def deadline_seconds() -> float:
    """Wall-clock seconds after which a running job stops itself: the time limit plus half
    (:data:`DEADLINE_SLACK`), for a server busier than when the estimate was made."""
    return 60 * max_minutes() * DEADLINE_SLACK


@dataclass(frozen=True)
class Estimate:
    seconds: float
    limit_s: float
    macs: int
    images: int
    memory: int = 0  # bytes a training batch holds at its peak
    memory_limit: int = 0
    batch_size: int = 128
    cost: Cost | None = None

    @property
    def allowed(self) -> bool:
        return self.seconds <= self.limit_s and self.memory <= self.memory_limit

    def text(self) -> str:
        return about(self.seconds)


def estimate(layers: list[dict[str, Any]], epochs: int, runs_dir: str | os.PathLike[str],
             batch_size: int = 128, max_steps: int | None = None,
             train_images: int | None = None, optimizer: str = "sgd") -> Estimate:
    """The estimate for a run (raises ``viz.network.card.CardError`` for a network over the limits)."""
    c = cost(analyse_checked(layers).layers)
    images = images_seen(epochs, batch_size, max_steps, train_images)
    forward = (epochs * VALIDATION_SIZE + TEST_SET_SIZE) / 3
    seconds = (images + forward) * throughput(runs_dir).seconds_per_image(c)
    return Estimate(seconds, 60 * max_minutes(), c.macs, images,
                    memory_bytes(c, batch_size, optimizer), int(max_memory_mb() * 2**20),
                    batch_size, c)


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MB" if n >= 2**20 else f"{n / 2**20:.2f} MB"


def check(name: str, layers: list[dict[str, Any]], epochs: int,
          runs_dir: str | os.PathLike[str], batch_size: int = 128,
          max_steps: int | None = None, train_images: int | None = None,
          optimizer: str = "sgd") -> Estimate:
    """The estimate, or :class:`OverBudget` saying the limit, the estimate and what to change."""
    try:
        est = estimate(layers, epochs, runs_dir, batch_size, max_steps, train_images, optimizer)
    except ValueError as exc:
        raise OverBudget(f"{name} cannot be trained here: {exc}") from None
    problems = []
    if est.seconds > est.limit_s:
        problems.append(
            f"Training {name} ({est.macs / 1e6:,.1f}M MACs per image, {est.images:,} images) "
            f"would take {est.text()}; this server allows runs of up to {max_minutes():g} "
            f"minutes ({MAX_MINUTES_ENV}). Train fewer epochs, stop after fewer steps, or "
            f"choose a smaller network (fewer channels, large pooling windows or wide maps "
            f"cost time too).")
    if est.memory > est.memory_limit and est.cost is not None:
        c = est.cost
        problems.append(
            f"Training {name} would hold about {_mb(est.memory)} of memory per batch of "
            f"{batch_size} images (every layer's output is kept for the backward pass); this "
            f"server allows {_mb(est.memory_limit)} ({MAX_MEMORY_ENV}). The largest output is "
            f"{c.biggest}'s, {_mb(c.biggest_bytes * batch_size)} per batch: give it fewer "
            f"channels, or shrink the map before it (a stride or a pooling layer earlier).")
    if problems:
        raise OverBudget(" ".join(problems))
    return est
