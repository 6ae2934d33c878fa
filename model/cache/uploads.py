"""An uploaded network as the caches keep it: its checked numpy network, and its torch model
built only when a view needs gradients."""

from __future__ import annotations

import threading
from typing import Any

from model.cache.lru import array_bytes
from viz.network import npforward


class Upload:
    """An uploaded network: its checked NumpyNet (views of the uploaded bytes) and, once a view
    needs gradients, its torch model (built once, sharing the NumpyNet's arrays)."""

    def __init__(self, net: npforward.NumpyNet, name: str) -> None:
        self.net, self.name = net, name
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """Bytes of its weights (the torch model shares them)."""
        return array_bytes(self.net.tensors)

    def model(self):
        """The torch model (eval mode), built on the first call."""
        with self._lock:
            if self._model is None:
                from model.files.checkpoint import torch_model
                self._model = torch_model(self.net, self.name, share=True)
            return self._model


def read_upload(data: bytes, name: str) -> Upload:
    """Check and read an uploaded checkpoint (raises CheckpointError, a ValueError)."""
    from model.files.checkpoint import read_network
    return Upload(read_network(data, name), name)
