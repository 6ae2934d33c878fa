"""How many bytes each of the server's caches may hold (docs/caching.md: why the caches together
stay within about 650 MB whatever users upload), and the batch rule of passes over many digits.
"""

from __future__ import annotations

from typing import Any

from viz.limits import (
    FORWARD_CACHE_BYTES,
    RANDOMIZED_CACHE_BYTES,
    UPLOAD_CACHE_BYTES,
    UPLOAD_FORWARD_CACHE_BYTES,
)
from viz.network.layers import BATCH_BYTES, LayerInfo, images_per_batch

MB = 1_000_000
# Every layer's output and the probabilities of one digit, of checkpoint files (a class's).
FORWARD_BYTES = FORWARD_CACHE_BYTES
# The same, of uploads and untrained networks (each seen by its own session).
UPLOAD_FORWARD_BYTES = UPLOAD_FORWARD_CACHE_BYTES
# Uploaded networks (numpy views of the uploaded bytes, and the torch model sharing them).
UPLOAD_BYTES = UPLOAD_CACHE_BYTES
# Randomized copies of networks, for the saliency sanity check.
RANDOMIZED_BYTES = RANDOMIZED_CACHE_BYTES
PREDICT_BATCH = 1000  # test digits per batch when the layer outputs are small


def batch_size(infos: list[LayerInfo], budget: int = BATCH_BYTES, most: int = PREDICT_BATCH
               ) -> int:
    """Images per batch of a forward pass without gradients within ``budget`` bytes
    (:func:`viz.network.layers.images_per_batch`, the one rule every batched view follows)."""
    return images_per_batch(infos, budget, most=most)


def model_bytes(model: Any) -> int:
    """Bytes of a torch model's parameters and buffers (its ``state_dict``)."""
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())
