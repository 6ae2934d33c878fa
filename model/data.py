"""MNIST: find, download, verify and read the four official IDX files into in-memory tensors.

Looked for in ``data_dir``, then ``MNIST_DIR``, then ``.cache/mnist``; each file's decompressed
content is checked against the official md5, and a download is written atomically. Every failure
is an :class:`MNISTError` that names the file and what to do. The seeded validation split lives
here too; importing this module does not import torch.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import sys
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from model import store
from model.files.atomic import atomic_path
from model.store import PROJECT_ROOT, SAMPLES_PATH
from viz.inputs.preprocess import MEAN, STD
from viz.network.layers import INPUT_SHAPE

if TYPE_CHECKING:
    import torch

DEFAULT_CACHE = PROJECT_ROOT / ".cache" / "mnist"

# Public mirrors, as in torchvision.datasets.MNIST.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

# md5 of the decompressed (raw IDX) content of each official file.
RAW_MD5: dict[str, str] = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

# IDX magic numbers: 0x00000801 = unsigned bytes, 1 dimension; 0x00000803 = 3 dimensions.
_MAGIC_LABELS = 2049
_MAGIC_IMAGES = 2051
TRAIN_SET_SIZE, TEST_SET_SIZE = 60_000, 10_000  # the official MNIST files' images
VALIDATION_SIZE = 5_000  # training images held out for validation (MNIST.split)
TRAIN_SIZE = TRAIN_SET_SIZE - VALIDATION_SIZE  # the images a run trains on (55,000)
SPLIT_SEED = 0


class MNISTError(RuntimeError):
    """A problem with the MNIST files, with a message saying what to do about it."""


def _how_to_provide(directory: Path) -> str:
    return (
        f"Put the four MNIST files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        f"t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz; gzipped or not) in {directory}, "
        f"or point the MNIST_DIR environment variable (or --data-dir) at a folder holding them."
    )


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder to read MNIST from: the argument, else $MNIST_DIR, else the project cache."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get("MNIST_DIR")
    if env:
        return Path(env).expanduser()
    return DEFAULT_CACHE


def find_file(directory: Path, name: str) -> Path | None:
    """``name`` or ``name.gz`` in ``directory``, whichever exists (raw first)."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_raw(path: Path) -> bytes:
    """The decompressed bytes of an IDX file, gzipped or not."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MNISTError(f"{path}: cannot be read ({exc.strerror or exc}).") from exc
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise MNISTError(
                f"{path}: the gzip data is truncated or corrupt ({exc}). Delete the file and "
                f"download it again."
            ) from exc
    return data


def parse_idx(raw: bytes, source: str = "<bytes>") -> np.ndarray:
    """An IDX byte string (unsigned-byte data, 1 or 3 dimensions) as a numpy uint8 array."""
    if len(raw) < 8:
        raise MNISTError(f"{source}: only {len(raw)} bytes, too short to be an IDX file.")
    magic = struct.unpack(">I", raw[:4])[0]
    if magic not in (_MAGIC_LABELS, _MAGIC_IMAGES):
        raise MNISTError(
            f"{source}: wrong magic number 0x{magic:08x} (expected 0x{_MAGIC_LABELS:08x} for "
            f"labels or 0x{_MAGIC_IMAGES:08x} for images); this is not an MNIST IDX file."
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise MNISTError(f"{source}: truncated inside its header.")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "longer than its header says"
        raise MNISTError(
            f"{source}: {what}: header declares shape {dims} ({expected} bytes), file has "
            f"{len(raw)} bytes. Delete it and download it again."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def verify_md5(raw: bytes, expected: str, source: str) -> None:
    digest = hashlib.md5(raw).hexdigest()
    if digest != expected:
        raise MNISTError(
            f"{source}: checksum mismatch: the decompressed content has md5 {digest}, expected "
            f"{expected}. The file is corrupt or not the official MNIST file; delete it and "
            f"download it again."
        )


def _progress(total: int | None, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, desc=desc, leave=False)


def download_file(
    name: str,
    directory: Path,
    mirrors: Sequence[str] = MIRRORS,
    checksums: Mapping[str, str] = RAW_MD5,
    timeout: float = 30.0,
) -> Path:
    """Fetch ``name.gz`` from the first mirror that serves a verified copy; write it atomically."""
    target = directory / f"{name}.gz"
    errors: list[str] = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + f"/{name}.gz"
        try:
            with atomic_path(target) as tmp:
                with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                    length = resp.headers.get("Content-Length")
                    with _progress(int(length) if length else None, f"{name}.gz") as bar:
                        while chunk := resp.read(1 << 16):
                            out.write(chunk)
                            bar.update(len(chunk))
                raw = read_raw(tmp)
                verify_md5(raw, checksums[name], url)
                parse_idx(raw, url)
            return target
        except (urllib.error.URLError, OSError, MNISTError) as exc:
            errors.append(f"  {url}: {getattr(exc, 'reason', None) or exc}")
    raise MNISTError(
        f"Could not download {name}.gz from any mirror:\n" + "\n".join(errors) + "\n"
        + _how_to_provide(directory)
    )


@dataclass(frozen=True)
class MNIST:
    """The four MNIST arrays as tensors: images uint8 (N, 28, 28), labels int64 (N,)."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    directory: Path
    md5: dict[str, str]

    def split(self, validation_size: int = VALIDATION_SIZE, seed: int = SPLIT_SEED):
        """Seeded (train, validation) split of the 60k training set: ((x, y), (x, y))."""
        import torch

        if not 0 < validation_size < len(self.train_labels):
            raise ValueError(f"validation_size must be in 1..{len(self.train_labels) - 1}")
        order = torch.randperm(len(self.train_labels), generator=torch.Generator().manual_seed(seed))
        val, train = order[:validation_size], order[validation_size:]
        return ((self.train_images[train], self.train_labels[train]),
                (self.train_images[val], self.train_labels[val]))


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    mirrors: Sequence[str] = MIRRORS,
    checksums: Mapping[str, str] = RAW_MD5,
) -> MNIST:
    """Read (downloading first if allowed and needed) and verify the four MNIST files."""
    directory = resolve_data_dir(data_dir)
    arrays: dict[str, np.ndarray] = {}
    for name, expected_md5 in checksums.items():
        path = find_file(directory, name)
        if path is None:
            if not download:
                raise MNISTError(f"{directory / name}(.gz) is missing. " + _how_to_provide(directory))
            path = download_file(name, directory, mirrors, checksums)
        raw = read_raw(path)
        array = parse_idx(raw, str(path))
        verify_md5(raw, expected_md5, str(path))
        arrays[name] = array
    _check_pairs(arrays, directory)
    import torch

    return MNIST(
        train_images=torch.from_numpy(arrays["train-images-idx3-ubyte"].copy()),
        train_labels=torch.from_numpy(arrays["train-labels-idx1-ubyte"].astype(np.int64)),
        test_images=torch.from_numpy(arrays["t10k-images-idx3-ubyte"].copy()),
        test_labels=torch.from_numpy(arrays["t10k-labels-idx1-ubyte"].astype(np.int64)),
        directory=directory,
        md5=dict(checksums),
    )


def _check_pairs(arrays: Mapping[str, np.ndarray], directory: Path) -> None:
    for split in ("train", "t10k"):
        images = arrays[f"{split}-images-idx3-ubyte"]
        labels = arrays[f"{split}-labels-idx1-ubyte"]
        if images.ndim != 3 or images.shape[1:] != INPUT_SHAPE[1:]:
            side = INPUT_SHAPE[-1]
            raise MNISTError(f"{directory}/{split}-images: images are {images.shape[1:]}, "
                             f"not {side}x{side}.")
        if labels.ndim != 1 or len(labels) != len(images):
            raise MNISTError(
                f"{directory}: {split} has {len(images)} images but {labels.shape} labels."
            )
        if labels.size and labels.max() > 9:
            raise MNISTError(f"{directory}/{split}-labels: label {labels.max()} is not a digit.")


def mnist_available(data_dir: str | os.PathLike[str] | None = None) -> bool:
    """True when all four files are present (not yet verified) where :func:`load_mnist` looks."""
    directory = resolve_data_dir(data_dir)
    return all(find_file(directory, name) is not None for name in RAW_MD5)


def load_samples(path: str | os.PathLike[str] = SAMPLES_PATH) -> tuple[np.ndarray, np.ndarray]:
    """The shipped sample digits: images uint8 (N, 28, 28) and labels int64 (N,)."""
    try:
        return store.load_samples(path)
    except ValueError as exc:
        raise MNISTError(str(exc)) from exc


def save_samples(
    images: np.ndarray, labels: np.ndarray, indices: np.ndarray, path: str | os.PathLike[str]
) -> None:
    """Write a sample bundle atomically (``indices`` record where in the test set they came from)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, images=images, labels=labels, test_indices=indices)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28), normalised with MNIST's mean and std."""
    return (images.float().unsqueeze(1) / 255.0 - MEAN) / STD




def main(argv: Sequence[str] | None = None) -> int:
    """``python -m model.data [DIR]``: find, download if needed, and verify MNIST."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m model.data",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", help="folder for the four files (default: MNIST_DIR, "
                                               "else .cache/mnist in the project)")
    parser.add_argument("--no-download", action="store_true",
                        help="only check the files; fail instead of downloading")
    args = parser.parse_args(argv)
    try:
        data = load_mnist(args.dir, download=not args.no_download)
    except MNISTError as exc:  # missing or damaged data: status 2, as python -m model.train
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"MNIST verified in {data.directory}: {len(data.train_labels):,} training and "
          f"{len(data.test_labels):,} test images.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
