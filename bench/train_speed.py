"""Benchmark: wall time to reach 99.2% MNIST test accuracy, our fastest recipe vs the classic one.

    MNIST_DIR=../shared/data/mnist python bench/train_speed.py [--threads 1] [--classic-epochs 14]

Both run in this one invocation, on the same in-memory tensors and thread count. The clock counts
training only: after each epoch it is paused while the 10k test set is evaluated, and a run stops
as soon as it reaches the target. This is a benchmark (the test set is its finish line), not how
the shipped checkpoints are selected (they report their final epoch).

- ours: the zoo's ``fast`` net (215k parameters), AdamW with a 3-epoch one-cycle schedule, batch 256.
- classic: the PyTorch-examples MNIST recipe: Conv32-Conv64-MaxPool-FC128 (1.2M parameters),
  Adadelta lr 1.0, StepLR gamma 0.7, batch 64, dropout 0.25/0.5, up to 14 epochs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model.data import MNIST, load_mnist, to_float  # noqa: E402
from model.train import TrainConfig, accuracy, train  # noqa: E402

TARGET = 0.992


class ClassicNet(nn.Module):
    """pytorch/examples mnist/main.py ``Net``."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(self.dropout1(x), 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


def run_classic(data: MNIST, max_epochs: int, seed: int = 1) -> tuple[float | None, float, list]:
    """(seconds to reach TARGET or None, seconds trained, [(epoch, test accuracy)])."""
    torch.manual_seed(seed)
    model = ClassicNet()
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    x_all, y_all = data.train_images, data.train_labels
    clock, log = 0.0, []
    for epoch in range(1, max_epochs + 1):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(len(y_all))
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            loss = F.nll_loss(model(to_float(x_all[idx])), y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        clock += time.perf_counter() - t0
        acc, _ = accuracy(model, data.test_images, data.test_labels)
        log.append((epoch, acc))
        print(f"  classic epoch {epoch}: test {100 * acc:.2f}%  ({clock:.1f} s)", flush=True)
        if acc >= TARGET:
            return clock, clock, log
    return None, clock, log


def run_ours(data: MNIST, threads: int) -> tuple[float | None, float, list]:
    cfg = TrainConfig(arch="fast", epochs=3, batch_size=256, optimizer="adam", max_lr=0.01,
                      betas=(0.7, 0.9), weight_decay=0.0, rotate_deg=0, shift_px=0,
                      threads=threads, device="cpu")
    log: list = []
    clock = 0.0

    def on_event(event):
        nonlocal clock
        if event["kind"] != "epoch":
            return None
        clock += event["seconds"]  # this epoch's training steps only, not its evaluations
        acc, _ = accuracy(event["model"], data.test_images, data.test_labels)
        log.append((event["epoch"], acc))
        print(f"  ours epoch {event['epoch']}: test {100 * acc:.2f}%  ({clock:.1f} s)", flush=True)
        return False if acc >= TARGET else None

    train(cfg, data, callback=on_event, progress=False)
    reached = clock if log and log[-1][1] >= TARGET else None
    return reached, clock, log


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--classic-epochs", type=int, default=14)
    p.add_argument("--data-dir", default=None)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    data = load_mnist(a.data_dir, download=False)
    print(f"torch {torch.__version__}, {a.threads} thread(s); target {100 * TARGET:.1f}% test")
    print("ours (zoo 'fast', 3-epoch one-cycle AdamW, batch 256):")
    ours, ours_total, _ = run_ours(data, a.threads)
    print("classic (PyTorch examples, Adadelta 1.0, StepLR 0.7, batch 64):")
    classic, classic_total, _ = run_classic(data, a.classic_epochs)
    ours_s = f"{ours:.1f} s" if ours is not None else f"not reached in {ours_total:.1f} s"
    classic_s = (f"{classic:.1f} s" if classic is not None
                 else f"not reached in {a.classic_epochs} epochs ({classic_total:.1f} s)")
    print(f"\ntime to {100 * TARGET:.1f}%: ours {ours_s}; classic {classic_s}")
    if ours is not None:
        bound = "" if classic is not None else ">= "
        print(f"speed-up: {bound}{(classic or classic_total) / ours:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
