"""Train a zoo network on MNIST: in-memory tensors, batched augmentation, one-cycle schedule.

    python -m model.train --arch seed --epochs 15 --out checkpoints/seed.safetensors

Validation accuracy is measured on a seeded 5k split carved from the 60k training images and is
what a progress bar shows. The official 10k test set is evaluated once, at the end, and only
written to the model card; it never picks an epoch. Seeded and reproducible on a given machine.
A GPU is used when present; the CPU is enough.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from model.architectures import ARCHITECTURES, DEFAULT
from model.data import MNIST, VALIDATION_SIZE, MNISTError, load_mnist, to_float
from model.files.checkpoint import save_checkpoint
from model.store import PROJECT_ROOT
from model.zoo import ZooNet, build, build_from_config
from viz.inputs.preprocess import MEAN, STD
from viz.network.layers import total_macs, total_params


@dataclass
class TrainConfig:
    """Everything that determines a training run (stored in the model card)."""

    arch: str = DEFAULT
    layers: list[dict[str, Any]] | None = None  # a custom network's layer records (else the zoo's)
    epochs: int = 15
    batch_size: int = 128
    optimizer: str = "sgd"  # "sgd" (Nesterov momentum 0.9) or "adam"
    max_lr: float = 0.1
    weight_decay: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)  # Adam's
    label_smoothing: float = 0.0
    rotate_deg: float = 7.0  # augmentation: uniform rotation in +-rotate_deg
    shift_px: float = 2.0  # augmentation: uniform shift in +-shift_px pixels per axis
    seed: int = 0
    val_size: int = VALIDATION_SIZE  # images held out of the 60k training set for validation
    max_steps: int | None = None  # stop early (smoke runs)
    threads: int = 1
    device: str = "auto"


@dataclass
class EpochStats:
    epoch: int
    loss: float
    val_accuracy: float
    images_per_s: float
    seconds: float


class Stopped(Exception):
    """Raised by :func:`predict` when its ``stop`` function says to stop (between batches)."""


StopCheck = Callable[[], bool]


@dataclass
class TrainResult:
    model: ZooNet
    history: list[EpochStats] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    stopped: bool = False


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def augment(x: torch.Tensor, rotate_deg: float, shift_px: float, gen: torch.Generator) -> torch.Tensor:
    """Random rotation and shift of a batch (N, 1, H, W) of [0, 1] images, one affine per image."""
    n, _, h, w = x.shape
    if rotate_deg == 0 and shift_px == 0:
        return x
    angle = (torch.rand(n, generator=gen, device=gen.device) * 2 - 1) * math.radians(rotate_deg)
    shift = (torch.rand(n, 2, generator=gen, device=gen.device) * 2 - 1) * shift_px
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([
        torch.stack([cos, -sin, shift[:, 0] * 2 / w], 1),
        torch.stack([sin, cos, shift[:, 1] * 2 / h], 1),
    ], 1).to(x.device)  # (N, 2, 3), translations in normalised [-1, 1] units
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 1000,
            stop: StopCheck | None = None) -> torch.Tensor:
    """Predicted classes for uint8 images (N, 28, 28), in eval mode, in fixed-size batches;
    raises :class:`Stopped` before a batch once ``stop()`` is true."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    try:
        for i in range(0, len(images), batch_size):
            if stop is not None and stop():
                raise Stopped
            x = to_float(images[i:i + batch_size]).to(device)
            out.append(model(x).argmax(1).cpu())
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
             batch_size: int = 1000, stop: StopCheck | None = None) -> tuple[float, int]:
    """(fraction correct, number correct); raises :class:`Stopped` as :func:`predict` does."""
    correct = int((predict(model, images, batch_size, stop) == labels).sum())
    return correct / max(len(labels), 1), correct


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.max_lr, momentum=0.9, nesterov=True,
                               weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.AdamW(model.parameters(), lr=cfg.max_lr, betas=cfg.betas,
                                 weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; use 'sgd' or 'adam'")


def one_cycle(step: int, total: int, warmup: float = 0.25, start: float = 0.04,
              end: float = 1e-4) -> float:
    """Learning-rate factor of the one-cycle schedule: cosine up from ``start`` to 1 over the first
    ``warmup`` of the steps, then cosine down to ``end`` (works for any total, even 1)."""
    up = max(1, round(warmup * total))
    if step < up:
        return start + (1 - start) * (1 - math.cos(math.pi * step / up)) / 2
    down = max(1, total - up)
    t = min(1.0, (step - up) / down)
    return end + (1 - end) * (1 + math.cos(math.pi * t)) / 2


Callback = Callable[[dict[str, Any]], bool | None]


def train(cfg: TrainConfig, data: MNIST, callback: Callback | None = None,
          progress: bool = True, stop: StopCheck | None = None) -> TrainResult:
    """Train ``cfg.arch`` on the training split; validate each epoch on the held-out split.

    ``callback(event)`` is called once before the first step with the freshly initialised model
    (``{"kind": "init", "model": ..., "total": steps}``), after every step (``{"kind": "step",
    ...}``) and epoch (``{"kind": "epoch", "model": ..., ...}``); returning ``False`` from a step
    or epoch event stops training cleanly. ``stop()``, when given, is asked after every step and
    before every batch of the validation pass: once it is true the run ends there (an epoch
    whose validation was cut short is not recorded), with ``stopped`` set.
    """
    if cfg.layers is None and cfg.arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {cfg.arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise ValueError("epochs and batch_size must be at least 1")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    (x_train, y_train), (x_val, y_val) = data.split(cfg.val_size)
    x_train, y_train = x_train.to(device), y_train.to(device)

    net = build(cfg.arch) if cfg.layers is None else build_from_config(cfg.arch, cfg.layers)
    model = net.to(device).to(memory_format=torch.channels_last)
    opt = make_optimizer(model, cfg)
    steps_per_epoch = math.ceil(len(y_train) / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: one_cycle(step, total))
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    result = TrainResult(model=model)
    t_start = time.perf_counter()
    step = 0
    bar = _bar(total, progress)
    if callback:
        callback({"kind": "init", "model": model, "total": total})
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        t_epoch, seen, loss_sum = time.perf_counter(), 0, 0.0
        order = torch.randperm(len(y_train), generator=gen, device=device)
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            x = x_train[idx].float().unsqueeze(1) / 255.0  # (B, 1, 28, 28) in [0, 1]
            x = augment(x, cfg.rotate_deg, cfg.shift_px, gen)
            x = ((x - MEAN) / STD).contiguous(memory_format=torch.channels_last)
            loss = F.cross_entropy(model(x), y_train[idx], label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
            bar.update(1)
            if callback and callback({"kind": "step", "step": step, "total": total,
                                      "epoch": epoch, "loss": loss.item()}) is False:
                result.stopped = True
            if stop is not None and stop():
                result.stopped = True
            if result.stopped or step >= total:
                break
        seconds = time.perf_counter() - t_epoch
        try:  # in training-sized batches: no more memory than a step, and stop between them
            val_acc, _ = accuracy(model, x_val, y_val.cpu(), cfg.batch_size, stop)
        except Stopped:
            result.stopped = True
            break
        stats = EpochStats(epoch, loss_sum / max(seen, 1), val_acc, seen / seconds, seconds)
        result.history.append(stats)
        bar.set_postfix_str(f"epoch {epoch}/{cfg.epochs} loss {stats.loss:.4f} "
                            f"val {100 * val_acc:.2f}% {stats.images_per_s:.0f} img/s")
        if callback and callback({"kind": "epoch", "model": model, **asdict(stats)}) is False:
            result.stopped = True
        if result.stopped or step >= total:
            break
    bar.close()
    result.seconds = time.perf_counter() - t_start
    result.steps = step
    model.eval()
    return result


def _bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="step", disable=not enabled, dynamic_ncols=True)


def model_card(cfg: TrainConfig, result: TrainResult, data: MNIST,
               stop: StopCheck | None = None) -> dict[str, Any]:
    """The card stored with the checkpoint; the test set is evaluated here, once, for a run
    that finished. A stopped run (or one stopped during this evaluation) is not measured:
    ``test_accuracy``, ``test_correct`` are None, ``test_n`` is 0 and ``stopped`` is true."""
    model = result.model.cpu()
    test_acc: float | None = None
    correct: int | None = None
    if not result.stopped:
        with contextlib.suppress(Stopped):  # stopped during the test pass: not measured
            test_acc, correct = accuracy(model, data.test_images, data.test_labels,
                                         cfg.batch_size, stop)
    last = result.history[-1] if result.history else None
    return {
        "params": total_params(model.layer_config),
        "macs": total_macs(model.layer_config),
        "val_accuracy": last.val_accuracy if last else None,
        "test_accuracy": test_acc,
        "test_correct": correct,
        "test_n": len(data.test_labels) if correct is not None else 0,
        "stopped": result.stopped or correct is None,
        "epochs": len(result.history),
        "steps": result.steps,
        "seed": cfg.seed,
        "train_seconds": round(result.seconds, 1),
        "history": [asdict(h) for h in result.history],
        "recipe": asdict(cfg),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "data_md5": data.md5,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.train", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--arch", default=DEFAULT, choices=list(ARCHITECTURES),
                   help="the zoo network to train")
    d = TrainConfig()
    p.add_argument("--epochs", type=int, default=d.epochs, help="passes over the training split")
    p.add_argument("--max-steps", type=int, default=argparse.SUPPRESS,
                   help="stop after this many steps (a smoke run; default: every epoch)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="images per step")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default=d.optimizer,
                   help="SGD with Nesterov momentum 0.9, or AdamW")
    p.add_argument("--max-lr", type=float, default=d.max_lr,
                   help="peak learning rate of the one-cycle schedule")
    p.add_argument("--betas", type=float, nargs=2, default=d.betas, metavar=("B1", "B2"),
                   help="Adam's betas")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="weight decay")
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing,
                   help="label smoothing of the loss")
    p.add_argument("--rotate", type=float, default=d.rotate_deg, help="max rotation, degrees")
    p.add_argument("--shift", type=float, default=d.shift_px, help="max shift, pixels")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed")
    p.add_argument("--threads", type=int, default=d.threads, help="torch threads")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--data-dir", default=argparse.SUPPRESS,
                   help="MNIST folder (default: $MNIST_DIR, else .cache/mnist)")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading")
    p.add_argument("--out", default=argparse.SUPPRESS,
                   help="checkpoint path (default: runs/ARCH-seedN.safetensors)")
    a = p.parse_args(argv)
    for name in ("max_steps", "data_dir", "out"):  # SUPPRESS: absent unless given
        setattr(a, name, getattr(a, name, None))
    cfg = TrainConfig(arch=a.arch, epochs=a.epochs, batch_size=a.batch_size,
                      optimizer=a.optimizer, max_lr=a.max_lr, betas=tuple(a.betas),
                      weight_decay=a.weight_decay,
                      label_smoothing=a.label_smoothing, rotate_deg=a.rotate, shift_px=a.shift,
                      seed=a.seed, max_steps=a.max_steps, threads=a.threads, device=a.device)
    try:
        data = load_mnist(a.data_dir, download=not a.no_download)
        result = train(cfg, data)
    except (MNISTError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    card = model_card(cfg, result, data)
    out = Path(a.out) if a.out else PROJECT_ROOT / "runs" / f"{cfg.arch}-seed{cfg.seed}.safetensors"
    path = save_checkpoint(result.model, card, out)
    def pct(value: float | None) -> str:
        return "not measured" if value is None else f"{100 * value:.2f}%"

    print(f"{cfg.arch}: val {pct(card['val_accuracy'])}  test {pct(card['test_accuracy'])}"
          f"  ({card['params']} params, {card['train_seconds']} s) -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
