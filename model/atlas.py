"""The channel atlas: for every conv, activation, pooling and join layer, its strongest inputs.

One batched pass over the test digits records every atlas layer at once, on a private copy of the
model. :func:`get_atlas` reads the content-keyed cache, else the shipped atlas, else computes it
from MNIST. ``python -m model.atlas CKPT --layer L [--channels C ...]`` prints one JSON object per
channel.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from model.data import PROJECT_ROOT, to_float
from model.files.atomic import atomic_path
from model.insight.activations import batch_images, capture
from model.insight.rf_adapter import receptive_field_table
from model.store import file_sha256  # noqa: F401  (the atlas key; re-exported)
from model.training.background import Progress
from model.zoo import Add, Concat, walk
from viz.network.layers import INPUT_SHAPE
from viz.teaching import atlasdata
from viz.teaching.atlasdata import TOP_K, Atlas, LayerAtlas

CACHE_DIR = PROJECT_ROOT / ".cache" / "atlas"
ATLAS_MODULES = (nn.Conv2d, nn.ReLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.MaxPool2d, nn.AvgPool2d,
                 nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d,  # conv, activation and pooling
                 Add, Concat)  # and joins
BATCH = 250  # digits per pass at most (fewer when their layer outputs pass BATCH_OUTPUT_BYTES)


def atlas_layers(model: nn.Module) -> list[str]:
    """The conv, ReLU and pooling layers whose output has feature maps (N, C, H, W)."""
    with torch.no_grad():  # (a graph network walked by its records' inputs)
        return [name for name, module, y in walk(model, torch.zeros(1, *INPUT_SHAPE))
                if isinstance(module, ATLAS_MODULES) and y.dim() == 4]


def channel_peaks(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, C, H, W) -> per image and channel the largest value and its flat position (N, C)."""
    values, where = out.flatten(2).max(dim=2)
    return values, where


def compute_atlas(model: nn.Module, images: np.ndarray | torch.Tensor, sha256: str = "",
                  k: int = TOP_K, progress: Progress | None = None,
                  layers: Sequence[str] | None = None, batch_bytes: int | None = None) -> Atlas:
    """The atlas of ``model`` over ``images`` (uint8 (N, 28, 28), the test set in order), in
    batches whose recorded layer outputs fit ``batch_bytes`` (default
    ``viz.limits.BATCH_OUTPUT_BYTES``)."""
    imgs = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
    if imgs.dtype != torch.uint8 or imgs.dim() != 3 or tuple(imgs.shape[1:]) != INPUT_SHAPE[1:]:
        raise ValueError(f"expected uint8 digits of shape (N, 28, 28), got {tuple(imgs.shape)} "
                         f"{imgs.dtype}")
    n = len(imgs)
    if n < k:
        raise ValueError(f"need at least {k} digits for a top-{k} atlas, got {n}")
    names = list(layers) if layers is not None else atlas_layers(model)
    values: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    where: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    widths: dict[str, int] = {}
    size = batch_images(model, keep=True, budget=batch_bytes, most=BATCH)
    with capture(model, names) as store, torch.no_grad():
        clone = store["model"]
        for start in range(0, n, size):
            clone(to_float(imgs[start:start + size]))
            for name in names:
                out = store.pop(name)  # not kept while the next batch runs
                widths[name] = out.shape[-1]
                v, w = channel_peaks(out)
                values[name].append(v)
                where[name].append(w)
            if progress is not None:
                progress(min(start + size, n), n, f"{min(start + size, n):,} of {n:,} digits")
    fields = {f.name: f for f in receptive_field_table(model)}
    result: dict[str, LayerAtlas] = {}
    for name in names:
        v = torch.cat(values[name]).numpy()  # (N, C)
        w = torch.cat(where[name]).numpy()
        order = np.argsort(-v, axis=0, kind="stable")[:k].T  # (C, k): ties keep test order
        cols = np.arange(v.shape[1])[:, None]
        top_v = v[order, cols]
        flat = w[order, cols]
        unit = np.stack([flat // widths[name], flat % widths[name]], axis=-1)
        result[name] = LayerAtlas(name=name, index=order.astype(np.int64),
                                  value=top_v.astype(np.float32), unit=unit.astype(np.int64),
                                  region=_regions(fields[name], unit),
                                  dataset_max=v.max(axis=0).astype(np.float32))
    return Atlas(sha256=sha256, layers=result)


def _regions(layer_field, unit: np.ndarray) -> np.ndarray:
    """(C, k, 2) units -> (C, k, 4) inclusive unclipped input bounds from the engine."""
    memo: dict[tuple[int, int], list[int]] = {}
    out = np.zeros(unit.shape[:-1] + (4,), np.int64)
    for idx in np.ndindex(unit.shape[:-1]):
        y, x = int(unit[idx][0]), int(unit[idx][1])
        if (y, x) not in memo:
            r = layer_field.region(y, x)
            memo[(y, x)] = [r.h.start, r.h.end, r.w.start, r.w.end]
        out[idx] = memo[(y, x)]
    return out


# ------------------------------------------------------------------------------------ files


def cache_path(sha256: str, cache_dir: Path = CACHE_DIR) -> Path:
    return Path(cache_dir) / f"{sha256}.npz"


def shipped_path(checkpoint: str | os.PathLike[str]) -> Path:
    """``checkpoints/NAME.atlas.npz`` beside ``checkpoints/NAME.safetensors``."""
    p = Path(checkpoint)
    return p.with_name(p.stem + ".atlas.npz")


def save_atlas(atlas: Atlas, path: str | os.PathLike[str], compact: bool = False,
               test_images: np.ndarray | None = None) -> Path:
    """Write ``atlas`` as ``.npz`` atomically (compact: float16 values and the digits)."""
    arrays = atlasdata.to_arrays(atlas, compact=compact, test_images=test_images)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        (np.savez_compressed if compact else np.savez)(f, **arrays)
    return Path(path)


def stored_atlas(checkpoint: str | os.PathLike[str], sha256: str | None = None,
                 cache_dir: Path = CACHE_DIR) -> Atlas | None:
    """The cached (exact) or shipped (compact) atlas of ``checkpoint``, or None."""
    sha256 = sha256 or file_sha256(checkpoint)
    for path in (cache_path(sha256, cache_dir), shipped_path(checkpoint)):
        if path.is_file():
            try:
                atlas = atlasdata.load(path)
            except (OSError, ValueError):
                continue  # a damaged file is recomputed, never trusted
            if atlas.sha256 == sha256:
                return atlas
    return None


def get_atlas(checkpoint: str | os.PathLike[str], model: nn.Module | None = None,
              test_images: np.ndarray | torch.Tensor | None = None,
              progress: Progress | None = None, cache_dir: Path = CACHE_DIR) -> Atlas:
    """The atlas of ``checkpoint``: stored if possible, else computed over ``test_images``
    (read from MNIST when not given) and cached under its content hash."""
    sha256 = file_sha256(checkpoint)
    atlas = stored_atlas(checkpoint, sha256, cache_dir)
    if atlas is not None:
        return atlas
    if model is None:
        from model.files.checkpoint import load_checkpoint
        model, _ = load_checkpoint(checkpoint)
    if test_images is None:
        from model.data import load_mnist
        test_images = load_mnist(download=False).test_images
    atlas = compute_atlas(model, test_images, sha256, progress=progress)
    save_atlas(atlas, cache_path(sha256, cache_dir))
    return atlas


def ship_atlas(checkpoint: str | os.PathLike[str], test_images: np.ndarray) -> Path:
    """Compute and write the compact shipped atlas of ``checkpoint`` (with its digits)."""
    from model.files.checkpoint import load_checkpoint
    model, _ = load_checkpoint(checkpoint)
    atlas = compute_atlas(model, test_images, file_sha256(checkpoint))
    return save_atlas(atlas, shipped_path(checkpoint), compact=True,
                      test_images=np.asarray(test_images))


# -------------------------------------------------------------------------------------- CLI


def channel_records(atlas: Atlas, layer: str, channels: Sequence[int] | None,
                    synthesized: dict[int, float] | None = None) -> list[dict]:
    """The CLI's records: one per channel of ``layer``."""
    la = atlas.layer(layer)
    chosen = list(range(la.channels)) if not channels else list(channels)
    bad = [c for c in chosen if not 0 <= c < la.channels]
    if bad:
        raise ValueError(f"layer {layer!r} has channels 0..{la.channels - 1}; "
                         f"{', '.join(map(str, bad))} do not exist")
    return [{"layer": layer, "channel": c, "top": la.top(c),
             "synthesized_value": None if synthesized is None else synthesized.get(c),
             "dataset_max": float(la.dataset_max[c])} for c in chosen]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model.atlas",
        description="Per channel of a layer: the 9 test digits that excite it most, the unit "
                    "where each peaks and its receptive field, the synthesized input's "
                    "activation and the test set's largest. One JSON object per line.")
    parser.add_argument("checkpoint", help="a .safetensors checkpoint")
    parser.add_argument("--layer", required=True, help="a conv, ReLU or pooling layer")
    parser.add_argument("--channels", type=int, nargs="+", help="channels (default: all)")
    parser.add_argument("--data-dir", help="folder of the MNIST files (default: MNIST_DIR, "
                                           "else .cache/mnist)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    from model.data import MNISTError, load_mnist, mnist_available
    from model.files.checkpoint import CheckpointError, load_checkpoint
    try:
        model, _ = load_checkpoint(args.checkpoint)
        names = atlas_layers(model)
        if args.layer not in names:
            raise ValueError(f"layer {args.layer!r} has no atlas; choose one of "
                             f"{', '.join(names)}")
        sha256 = file_sha256(args.checkpoint)
        atlas = stored_atlas(args.checkpoint, sha256)
        if atlas is None:
            if not mnist_available(args.data_dir):
                raise ValueError(f"{args.checkpoint} has no stored atlas and the MNIST test set "
                                 f"is not here; give --data-dir or set MNIST_DIR")
            images = load_mnist(args.data_dir, download=False).test_images
            atlas = get_atlas(args.checkpoint, model, images)
        from model.insight.featvis import synthesize
        la = atlas.layer(args.layer)
        chosen = args.channels or list(range(la.channels))
        records = channel_records(atlas, args.layer, chosen)  # validates the channels
        synth = synthesize(model, args.layer, chosen)
        for rec, value in zip(records, synth.values, strict=True):
            rec["synthesized_value"] = float(value)
            print(json.dumps(rec), flush=True)
    except (CheckpointError, MNISTError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
