"""Write ``checkpoints/samples.npz``: 20 test digits per class, so the app runs with no dataset.

    python -m model.make_samples [--data-dir DIR] [--per-class 20]

The digits are the first ``per-class`` of each class in the official test set (deterministic);
their test-set indices are stored beside them.
"""

from __future__ import annotations

import argparse

import numpy as np

from model.data import SAMPLES_PATH, load_mnist, save_samples


def pick(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first ``per_class`` examples of each digit, ordered by class."""
    return np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(10)])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.make_samples")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--per-class", type=int, default=20)
    a = p.parse_args(argv)
    data = load_mnist(a.data_dir)
    labels = data.test_labels.numpy()
    idx = pick(labels, a.per_class)
    save_samples(data.test_images.numpy()[idx], labels[idx], idx, SAMPLES_PATH)
    print(f"wrote {len(idx)} digits to {SAMPLES_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
