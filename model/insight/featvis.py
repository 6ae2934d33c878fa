"""Feature visualization: the 28x28 input that excites a channel most (activation maximization).

Projected gradient ascent in pixel space (pixels stay in [0, 255], like a real digit) with
jitter, a total-variation penalty, a smooth maximum and a leaky ReLU while searching, then a
polish of the strongest unit on the real network; the method in words is in docs/app.md.
Channels run together in batches within ``viz.limits.BATCH_OUTPUT_BYTES`` on a private copy,
so the shared model is never written.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from model.data import MEAN, PROJECT_ROOT, STD
from model.files.atomic import atomic_path
from model.insight.activations import batch_images, forward_to, private_copy
from model.insight.rf_adapter import receptive_field_table
from model.training.background import Progress
from model.zoo import walk
from viz.network.layers import INPUT_SHAPE, batches

CACHE_DIR = PROJECT_ROOT / ".cache" / "featvis"


@dataclass(frozen=True)
class Settings:
    steps: int = 200
    lr: float = 0.1
    jitter: int = 2
    tv: float = 0.002  # weight of the total-variation penalty, relative to the activation scale
    polish: int = 40  # final steps without jitter or penalty: the exact maximum nearby
    leak: float = 0.1  # negative slope of every ReLU while optimising
    seed: int = 0
    soft: float = 1.0  # temperature of a smooth maximum over positions (0: the plain maximum)
    starts: int = 2  # runs per channel (smooth, then plain maximum; greys); the best is kept


@dataclass(frozen=True)
class Synthesis:
    """Synthesized inputs (uint8 (C, 28, 28)), their channel activations (C,), the unit where
    each peaks (C, 2) and that unit's receptive field (C, 4: y0, y1, x0, x1, unclipped)."""

    layer: str
    channels: list[int]
    images: np.ndarray
    values: np.ndarray
    units: np.ndarray
    regions: np.ndarray


def _normalise(pixels: torch.Tensor) -> torch.Tensor:
    return (pixels / 255.0 - MEAN) / STD


def _forward(model: nn.Module, x: torch.Tensor, layer: str, leak: float) -> torch.Tensor:
    """Output of ``layer``; with ``leak`` > 0 every ReLU lets ``leak`` of a negative through.

    A channel that is negative everywhere at the start (dead for this input) has no gradient
    through a plain ReLU; the leak gives it one. The reported value uses the real network.
    """
    if leak <= 0:
        return forward_to(model, x, layer)

    def call(name: str, module: nn.Module, xs: list[torch.Tensor]) -> torch.Tensor:
        return F.leaky_relu(xs[0], leak) if isinstance(module, nn.ReLU) else module(*xs)

    for name, _, y in walk(model, x, call):
        if name == layer:
            return y
    raise ValueError(f"no layer named {layer!r}")


def _activation(model: nn.Module, x: torch.Tensor, layer: str, channels: torch.Tensor,
                leak: float = 0.0, units: torch.Tensor | None = None,
                soft: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Row ``i`` of ``x`` -> (the max over positions of channel ``channels[i]`` at ``layer``,
    the flat position of that unit); with ``units``, the value of that unit instead."""
    out = _forward(model, x, layer, leak)
    if out.dim() == 2:
        out = out[:, :, None, None]
    picked = out[torch.arange(len(x)), channels].flatten(1)  # (N, H * W)
    if units is not None:
        return picked[torch.arange(len(x)), units], units
    values, where = picked.max(dim=1)
    if soft is not None:  # rows with soft > 0: a smooth maximum, every strong unit gets some
        t = soft.clamp_min(1e-6)[:, None]
        values = torch.where(soft > 0, (t * torch.logsumexp(picked / t, dim=1, keepdim=True))[:, 0],
                             values)
    return values, where


def _tv(pixels: torch.Tensor) -> torch.Tensor:
    p = pixels / 255.0
    return ((p[..., 1:, :] - p[..., :-1, :]).abs().mean(dim=(1, 2, 3))
            + (p[..., :, 1:] - p[..., :, :-1]).abs().mean(dim=(1, 2, 3)))


def synthesize(model: nn.Module, layer: str, channels: Sequence[int],
               settings: Settings = Settings(), progress: Progress | None = None,
               batch_bytes: int | None = None) -> Synthesis:
    """Gradient ascent for each of ``channels`` of ``layer``, as many at once as
    ``batch_bytes`` of layer outputs allow (default ``viz.limits.BATCH_OUTPUT_BYTES``; each row goes
    its own way, so the batches change nothing but the memory)."""
    if not channels:
        raise ValueError("no channels to synthesize")
    clone = private_copy(model).eval()
    gen = torch.Generator().manual_seed(settings.seed)
    k = len(channels)
    starts = torch.linspace(0.1, 0.5, settings.starts)  # dark grey ... mid grey
    n = k * settings.starts
    chan = torch.as_tensor(list(channels), dtype=torch.long).repeat(settings.starts)
    with torch.no_grad():
        probe = forward_to(clone, torch.zeros(1, *INPUT_SHAPE), layer)
    width, map_w = probe.shape[1], (probe.shape[-1] if probe.dim() == 4 else 1)
    if int(chan.max()) >= width or int(chan.min()) < 0:
        raise ValueError(f"layer {layer!r} has channels 0..{width - 1}")
    base = starts.repeat_interleave(k)[:, None, None, None]
    # start 0 ascends a smooth maximum over positions, the others the plain maximum
    soft = torch.where(torch.arange(n) < k, settings.soft, 0.0)
    z0 = (base + 0.02 * torch.randn(n, *INPUT_SHAPE, generator=gen)).clamp(0, 1)
    shifts: list[tuple[int, int] | None] = []  # every row is shifted alike at each step
    for step in range(settings.steps):
        if settings.jitter and step < settings.steps - settings.polish:
            dy, dx = (int(v) for v in torch.randint(-settings.jitter, settings.jitter + 1, (2,),
                                                    generator=gen))
            shifts.append((dy, dx))
        else:
            shifts.append(None)
    parts = batches(n, batch_images(clone, backward=True, budget=batch_bytes))
    final = torch.empty(n, *INPUT_SHAPE)
    for i, part in enumerate(parts):
        def report(step: int, i: int = i) -> None:
            if progress is not None and step % 10 == 0:
                done = i * settings.steps + step
                progress(done, len(parts) * settings.steps,
                         f"step {done} of {len(parts) * settings.steps}")
        final[part] = _ascend(clone, layer, z0[part], chan[part], soft[part], shifts, settings,
                              report)
    with torch.no_grad():
        images = final.round().clamp(0, 255).to(torch.uint8)
        values, where = torch.empty(n), torch.empty(n, dtype=torch.long)
        for part in batches(n, batch_images(clone, budget=batch_bytes)):
            values[part], where[part] = _activation(clone, _normalise(images[part].float()),
                                                    layer, chan[part])
        best = values.view(settings.starts, k).argmax(dim=0) * k + torch.arange(k)
        images, values, where = images[best], values[best], where[best]
    if progress is not None:
        progress(len(parts) * settings.steps, len(parts) * settings.steps, "done")
    units = np.stack([where.numpy() // map_w, where.numpy() % map_w], axis=1)
    field = {f.name: f for f in receptive_field_table(model)}[layer]
    regions = np.array([[r.h.start, r.h.end, r.w.start, r.w.end]
                        for r in (field.region(int(y), int(x)) for y, x in units)])
    return Synthesis(layer, [int(c) for c in channels], images[:, 0].numpy(),
                     values.numpy().astype(np.float32), units, regions)


def _ascend(clone: nn.Module, layer: str, z0: torch.Tensor, chan: torch.Tensor,
            soft: torch.Tensor, shifts: list[tuple[int, int] | None], settings: Settings,
            report: Callable[[int], None]) -> torch.Tensor:
    """The ascent of some rows: their best pixels (float, 0..255) after ``settings.steps``."""
    n = len(z0)
    z = z0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=settings.lr)
    scale: torch.Tensor | None = None
    units: torch.Tensor | None = None
    best_value = torch.full((n,), -float("inf"))
    best_pixels = torch.zeros(n, *INPUT_SHAPE)
    for step in range(settings.steps):
        pixels = 255.0 * z
        polishing = step >= settings.steps - settings.polish
        shift = shifts[step]
        shifted = pixels if shift is None else torch.roll(pixels, shifts=shift, dims=(2, 3))
        act, where = _activation(clone, _normalise(shifted), layer, chan,
                                 0.0 if polishing else settings.leak, units,
                                 None if polishing else soft)
        if step == settings.steps - settings.polish - 1:
            units = where.detach()  # polish the strongest unit only: a steady target
        if polishing:  # keep the best image seen (Adam may overshoot the maximum)
            with torch.no_grad():
                better = act.detach() > best_value
                best_value = torch.where(better, act.detach(), best_value)
                best_pixels[better] = pixels.detach()[better]
        if scale is None:  # the penalty in units of the channel's own activation scale
            scale = act.detach().abs().clamp_min(1.0)
        tv = 0.0 if polishing else settings.tv
        loss = -(act - tv * scale * _tv(pixels) * 28).sum()
        opt.zero_grad()
        (grad,) = torch.autograd.grad(loss, z)
        z.grad = grad
        opt.step()
        with torch.no_grad():  # projected ascent: pixels stay in [0, 255] and can reach both ends
            z.clamp_(0.0, 1.0)
        report(step)
    with torch.no_grad():
        last, _ = _activation(clone, _normalise(255.0 * z), layer, chan, 0.0, units)
        return torch.where((last > best_value)[:, None, None, None], 255.0 * z, best_pixels)


def cache_path(sha256: str, layer: str, cache_dir: Path = CACHE_DIR) -> Path:
    return Path(cache_dir) / sha256 / f"{layer}.npz"


def layer_grid(model: nn.Module, sha256: str, layer: str, progress: Progress | None = None,
               cache_dir: Path = CACHE_DIR) -> Synthesis:
    """Every channel of ``layer``, cached on disk under the checkpoint's content hash."""
    path = cache_path(sha256, layer, cache_dir)
    if sha256 and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as d:
                return Synthesis(layer, d["channels"].tolist(), d["images"], d["values"],
                                 d["units"], d["regions"])
        except (OSError, KeyError, ValueError):
            pass
    with torch.no_grad():
        width = forward_to(model, torch.zeros(1, *INPUT_SHAPE), layer).shape[1]
    synth = synthesize(model, layer, list(range(width)), progress=progress)
    if sha256:
        save(synth, path)
    return synth


def save(synth: Synthesis, path: str | os.PathLike[str]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, channels=np.array(synth.channels), images=synth.images,
                            values=synth.values, units=synth.units, regions=synth.regions)
