"""Write what each shipped checkpoint carries for offline use: its atlas and test predictions.

    python -m model.make_shipped [--data-dir DIR] [NAME ...]

For every shipped checkpoint (or the NAMEs given): ``checkpoints/NAME.atlas.npz`` (compact, with
the digits it shows) and ``checkpoints/NAME.predictions.npy``; the test labels once in
``checkpoints/test-labels.npy``. Needs the MNIST test set.

Batches stay within ``viz.limits.BATCH_OUTPUT_BYTES`` of layer outputs (the atlas and the
predictions size them from the network), so even ``seed-original`` (1.55 GMAC per digit, about
10 minutes per pass over the test set on one core) runs in bounded memory. Progress goes to
stdout, one line per ``--every`` digits, with the time so far.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from model.atlas import compute_atlas, save_atlas, shipped_path
from model.data import load_mnist
from model.files.atomic import atomic_path
from model.files.checkpoint import load_checkpoint, shipped_checkpoints
from model.files.shipped import LABELS_PATH, predictions_path
from model.insight.predictions import compute
from model.store import file_sha256


def _reporter(what: str, every: int, start: float):
    """A ``Progress`` callback printing a line each time ``every`` more digits are done."""
    last = [-every]

    def progress(done: int, total: int, message: str = "") -> None:
        if done - last[0] >= every or done == total:
            last[0] = done
            print(f"  {what}: {done:,} of {total:,} digits, {time.time() - start:,.0f} s",
                  flush=True)
    return progress


def _save_npy(array: np.ndarray, path: Path) -> Path:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)
    return path


def ship_one(path: Path, images: np.ndarray, labels: np.ndarray, every: int = 1000) -> None:
    """Write the compact atlas and the test predictions of the checkpoint at ``path``."""
    model, _ = load_checkpoint(path)
    t0 = time.time()
    atlas = compute_atlas(model, images, file_sha256(path),
                          progress=_reporter("atlas", every, t0))
    apath = save_atlas(atlas, shipped_path(path), compact=True, test_images=images)
    t1 = time.time()
    report = _reporter("predictions", every, t1)
    parts = []
    for s in range(0, len(images), every):
        parts.append(compute(model, images[s:s + every]))
        report(s + len(parts[-1]), len(images))
    preds = np.concatenate(parts)
    _save_npy(labels.astype(np.uint8), LABELS_PATH)
    ppath = _save_npy(preds, predictions_path(path))
    acc = float((preds.astype(np.int64) == labels).mean())
    print(f"{path.stem}: {apath.name} {apath.stat().st_size:,} bytes ({t1 - t0:,.0f} s), "
          f"{ppath.name} {ppath.stat().st_size:,} bytes ({time.time() - t1:,.0f} s), "
          f"test accuracy {acc:.2%}", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.make_shipped")
    p.add_argument("names", nargs="*", help="checkpoint names (default: every shipped one)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--every", type=int, default=1000, help="digits between progress lines")
    a = p.parse_args(argv)
    if a.every < 1:
        raise SystemExit("--every must be at least 1")
    torch.set_num_threads(1)
    data = load_mnist(a.data_dir, download=False)
    images, labels = data.test_images.numpy(), data.test_labels.numpy().astype(np.int64)
    known = shipped_checkpoints()
    unknown = [n for n in a.names if n not in known]
    if unknown:
        raise SystemExit(f"no shipped checkpoint called {', '.join(unknown)}; "
                         f"choose from {', '.join(known)}")
    for name, path in known.items():
        if a.names and name not in a.names:
            continue
        print(f"{name}: {path}", flush=True)
        ship_one(Path(path), images, labels, a.every)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
