"""The channel atlas as data: per channel, the test digits that excite it most (numpy only).

Per layer and channel: the ``k`` strongest test digits, the unit where each peaks, that unit's
receptive field and the channel's largest activation. Computed by ``model.atlas``; held and
(de)serialised here as one ``.npz`` (no pickles), so a shipped atlas is read without torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from viz.network.layers import INPUT_SHAPE

TOP_K = 9


@dataclass(frozen=True)
class LayerAtlas:
    """One layer: ``C`` channels, ``K`` top digits each."""

    name: str
    index: np.ndarray  # (C, K) int: test-set positions, by value (largest first)
    value: np.ndarray  # (C, K) float32: the channel's activation for each
    unit: np.ndarray  # (C, K, 2) int: (row, column) of the unit where it peaks
    region: np.ndarray  # (C, K, 4) int: that unit's field y0, y1, x0, x1 (inclusive, unclipped)
    dataset_max: np.ndarray  # (C,) float32: largest activation over the test set

    @property
    def channels(self) -> int:
        return int(self.index.shape[0])

    def top(self, channel: int) -> list[dict[str, Any]]:
        """The channel's top digits as plain records (JSON-ready)."""
        if not 0 <= channel < self.channels:
            raise ValueError(f"layer {self.name!r} has channels 0..{self.channels - 1}, "
                             f"not {channel}")
        return [{"index": int(self.index[channel, k]),
                 "value": float(self.value[channel, k]),
                 "unit": [int(v) for v in self.unit[channel, k]],
                 "region": [int(v) for v in self.region[channel, k]]}
                for k in range(self.index.shape[1])]


@dataclass
class Atlas:
    """Every atlas layer of one checkpoint, and (when shipped) the digits it shows."""

    sha256: str
    layers: dict[str, LayerAtlas]
    digits: dict[int, np.ndarray] = field(default_factory=dict)  # test index -> uint8 (28, 28)

    def layer(self, name: str) -> LayerAtlas:
        if name not in self.layers:
            raise ValueError(f"no atlas for layer {name!r}; the atlas covers the conv, ReLU and "
                             f"pooling layers: {', '.join(self.layers)}")
        return self.layers[name]

    def used_indices(self) -> np.ndarray:
        """Every test index that appears in some channel's top list, sorted."""
        if not self.layers:
            return np.zeros(0, np.int64)
        return np.unique(np.concatenate([la.index.ravel() for la in self.layers.values()]))

    def image(self, index: int, test_images: np.ndarray | None = None) -> np.ndarray:
        """Test digit ``index`` (uint8 28x28): from the test set when given, else shipped."""
        if test_images is not None:
            return np.asarray(test_images[index])
        if index not in self.digits:
            raise ValueError(f"test digit #{index} is not stored with this atlas and the MNIST "
                             f"test set is not on this machine (set MNIST_DIR)")
        return self.digits[index]


def to_arrays(atlas: Atlas, compact: bool = False,
              test_images: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The atlas as named arrays for ``np.savez``; ``compact`` stores float16 values and the
    digits themselves (taken from ``test_images``, else from ``atlas.digits``)."""
    value_type = np.float16 if compact else np.float32
    out: dict[str, np.ndarray] = {"sha256": np.array(atlas.sha256),
                                  "layers": np.array(list(atlas.layers))}
    for name, la in atlas.layers.items():
        out[f"{name}/index"] = la.index.astype(np.uint16)
        out[f"{name}/value"] = la.value.astype(value_type)
        out[f"{name}/unit"] = la.unit.astype(np.uint8)
        out[f"{name}/region"] = la.region.astype(np.int16)
        out[f"{name}/max"] = la.dataset_max.astype(value_type)
    if compact:
        used = atlas.used_indices()
        out["digit_index"] = used.astype(np.uint16)
        out["digits"] = np.stack([atlas.image(int(i), test_images) for i in used]).astype(
            np.uint8) if len(used) else np.zeros((0, *INPUT_SHAPE[1:]), np.uint8)
    return out


def from_arrays(data: Any) -> Atlas:
    """An :class:`Atlas` from what :func:`to_arrays` wrote (an ``np.load`` result or a dict)."""
    try:
        names = [str(n) for n in data["layers"]]
        layers = {n: LayerAtlas(
            name=n,
            index=np.asarray(data[f"{n}/index"]).astype(np.int64),
            value=np.asarray(data[f"{n}/value"]).astype(np.float32),
            unit=np.asarray(data[f"{n}/unit"]).astype(np.int64),
            region=np.asarray(data[f"{n}/region"]).astype(np.int64),
            dataset_max=np.asarray(data[f"{n}/max"]).astype(np.float32)) for n in names}
        digits: dict[int, np.ndarray] = {}
        if "digit_index" in data:
            images = np.asarray(data["digits"])
            digits = {int(i): images[k] for k, i in enumerate(np.asarray(data["digit_index"]))}
        return Atlas(sha256=str(data["sha256"]), layers=layers, digits=digits)
    except KeyError as exc:
        raise ValueError(f"not an atlas file: it lacks {exc}") from None


def load(path: Any) -> Atlas:
    """Read an atlas ``.npz`` (never unpickles)."""
    with np.load(path, allow_pickle=False) as data:
        return from_arrays(data)
