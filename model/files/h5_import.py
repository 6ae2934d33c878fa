"""The HDF5 reader: a whole Keras model saved as ``model.save("net.h5")``, by Keras 3 on
TensorFlow or by Keras 2 (``tf_keras``), as many TensorFlow tutorials still do, turned into an
:class:`model.files.imported.ImportedNetwork`.

The same reader as ``.keras`` files' (:mod:`model.files.keras_import`) with another container:
the config is the root's ``model_config`` attribute (bounded in bytes and nesting before it is
parsed, then brought to the ``.keras`` form: :mod:`model.files.keras_reader.h5`), read against
the same class allowlist into the same graph; the weights are the ``model_weights`` group's
datasets, named per layer by its ``weight_names``, each through the same checks of shape,
dtype, storage (filters, chunks, no external or virtual data, not resizable) and the file's one
budget before it is read. The optimizer's state is never read. Nothing of Keras or TensorFlow
is imported and nothing in the file is run: a ``Lambda`` layer or a class outside the
allowlist is refused naming the layer.

A file without ``model_config`` (``model.save_weights``) is refused asking for the whole
model. Every problem raises :class:`viz.network.card.CardError` with a one-line message.
"""

from __future__ import annotations

from collections.abc import Mapping

from model.files.imported import ImportedNetwork
from model.files.keras_import import build, open_h5
from model.files.keras_reader.config import graph
from model.files.keras_reader.h5 import EXTENSIONS, FORMAT, H5Layout, config_of
from model.files.keras_reader.layers import Builder
from model.files.keras_reader.zip import H5_MAGIC
from viz.limits import KERAS_FILE_BYTES
from viz.network.card import CardError

MAX_FILE_BYTES = KERAS_FILE_BYTES  # the upload box's


def read(data: bytes, source: str = "model.h5", max_bytes: int = MAX_FILE_BYTES
         ) -> ImportedNetwork:
    """The network of a Keras ``.h5`` file's bytes (see the module docstring).

    Args:
        data: the file's bytes.
        source: its name, for messages.
        max_bytes: the largest file read (default: the upload box's limit).
    Raises:
        CardError: with a one-line message naming the problem.
    """
    if len(data) > max_bytes:
        raise CardError(f"{source}: {len(data):,} bytes; a Keras file here is at most "
                        f"{max_bytes // 2**20} MB (save it without the optimizer's state: "
                        f"model.save(\"net.h5\", include_optimizer=False)).")
    if not data.startswith(H5_MAGIC):
        raise CardError(f"{source}: not an HDF5 file; save the model with "
                        f"model.save(\"net.keras\") or model.save(\"net.h5\").")
    with open_h5(data, source, "the HDF5 file") as h5:
        config, producer = config_of(h5, source)
        layers, sources, last, _ = graph(config, source)
        builder = Builder(source)
        builder.h5 = h5
        builder.find = H5Layout(h5, source).find
        builder.weights_file = "the HDF5 file"
        return build(builder, layers, sources, last, FORMAT, producer)


def read_h5(files: Mapping[str, bytes], name: str, max_bytes: int = MAX_FILE_BYTES
            ) -> ImportedNetwork:
    """The importer's reader (``model/importer.py`` READERS): ``files[name]`` is the ``.h5``
    file; it needs no other file uploaded with it."""
    return read(files[name], name, max_bytes)


__all__ = ["EXTENSIONS", "FORMAT", "MAX_FILE_BYTES", "read", "read_h5"]
