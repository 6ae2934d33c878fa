"""The Keras 3 ``.keras`` reader: a zip of ``config.json``, ``metadata.json`` and
``model.weights.h5``, turned into an :class:`model.files.imported.ImportedNetwork`.

Nothing of Keras is imported and no code is deserialized: the config is read as JSON against an
allowlist of layer classes (:data:`CLASSES`); a ``Lambda`` layer, a custom object (a
``registered_name`` of its own) or any ``module``/``class_name`` pair outside the allowlist is
refused with a message naming the layer. The weights are read with h5py, each dataset's declared
shape and dtype checked against what the config implies before it is read.

The zip is checked before anything is extracted: its size, at most
:data:`viz.limits.KERAS_ZIP_ENTRIES` entries, no entry named with ``..``, an absolute path or a
drive, no encryption, stored or deflated only, and the declared uncompressed size of each of the
three entries read (nothing else is read) within its limit, so a zip bomb is refused from its
directory alone.

Keras is NHWC; this project's records are NCHW (``viz/network/layertypes.py``):

- conv kernels ``(kh, kw, in/groups, out)`` become ``(out, in/groups, kh, kw)``; a depthwise
  kernel ``(kh, kw, in, m)`` a conv with ``groups = in`` and ``out = in * m``;
- a flatten of an ``H x W x C`` map lists ``(h, w, c)`` in that order where this project lists
  ``(c, h, w)``: the first Dense layer after it gets its input rows permuted to match;
- ``padding="same"`` becomes the symmetric padding ``total / 2`` when Keras pads both sides
  alike (``total = max((ceil(H/s) - 1) s + d (k - 1) + 1 - H, 0)``); an odd total (Keras pads one
  more at the bottom and right) is expressible for pooling only (torch's ceil mode, which ignores
  the window's part past the input as Keras's padding is ignored) and refused for a conv,
  naming the layer. (Average pooling there follows TensorFlow's and JAX's Keras, which average
  the cells inside the image; Keras's torch backend pads by copying the edge and averages the
  copies too, so that one case differs from it);
- an ``activation`` inside Conv2D / DepthwiseConv2D / Dense becomes its own record;
  ``softmax`` (and ``log_softmax``) is taken only as the network's last step (the app's
  probabilities are the softmax of the logits: the same numbers);
- BatchNormalization: Keras's epsilon (default 1e-3) is folded exactly into the running
  variance, since ``var + eps_keras = (var + eps_keras - BN_EPS) + BN_EPS``;
- Rescaling (``x * scale + offset`` on the 0..255 pixels, first in the network) becomes the
  network's own input scaling ``(mean, std)`` with ``std = 1/(255 scale)``,
  ``mean = -offset std``, which the checkpoint's card then carries.

The reader's modules, by job: :mod:`model.files.keras_reader.zip` (the zip),
:mod:`model.files.keras_reader.config` (the class allowlist and the graph),
:mod:`model.files.keras_reader.weights` (model.weights.h5, bounded before each read, one
:class:`model.files.budget.Budget` per file) and :mod:`model.files.keras_reader.layers` (the records).
:func:`build` and :func:`open_h5` are shared with the ``.h5`` reader (:mod:`model.files.h5_import`).

Every problem raises :class:`viz.network.card.CardError` with a one-line message.
"""


from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np

from model.files.imported import ImportedNetwork
from model.files.keras_reader.config import ACTIVATIONS, CLASSES, graph, layer_name
from model.files.keras_reader.layers import Builder
from model.files.keras_reader.weights import check_heaps, shown
from model.files.keras_reader.zip import (
    CONFIG,
    EXTENSION,
    FORMAT,
    H5_MAGIC,
    MAX_FILE_BYTES,
    MAX_SIZES,
    METADATA,
    WEIGHTS,
    read_json,
    read_zip,
)
from viz.network.card import CardError, show
from viz.network.layertypes import NUM_CLASSES


def _producer(meta: Any) -> str:
    if not isinstance(meta, dict):
        return "Keras"
    version = meta.get("keras_version")
    return f"Keras {version}" if isinstance(version, str) and len(version) < 40 else "Keras"


def read(data: bytes, source: str = "model.keras", max_bytes: int = MAX_FILE_BYTES
         ) -> ImportedNetwork:
    """The network of a Keras 3 ``.keras`` file's bytes (see the module docstring).

    Args:
        data: the file's bytes.
        source: its name, for messages.
        max_bytes: the largest file read (default: the upload box's limit).
    Raises:
        CardError: with a one-line message naming the problem.
    """
    entries = read_zip(data, source, max_bytes)
    config = read_json(entries[CONFIG], CONFIG, source)
    meta = read_json(entries[METADATA], METADATA, source) if METADATA in entries else None
    if isinstance(meta, dict) and isinstance(meta.get("keras_version"), str) and not \
            meta["keras_version"].startswith("3."):
        raise CardError(f"{source}: saved by Keras {show(meta['keras_version'])}; this app reads "
                        f"Keras 3 files (load it in Keras 3 and save it again).")
    if not isinstance(config, dict):
        raise CardError(f"{source}: config.json is not a model config.")
    layers, sources, last, h5_path = graph(config, source)
    raw = entries[WEIGHTS]
    if not raw.startswith(H5_MAGIC):
        raise CardError(f"{source}: model.weights.h5 is not an HDF5 file.")
    builder = Builder(source)
    builder.h5_path = h5_path
    with open_h5(raw, source, "model.weights.h5") as builder.h5:
        return build(builder, layers, sources, last, FORMAT, _producer(meta))


def open_h5(raw: bytes, source: str, what: str) -> Any:
    """An h5py File of HDF5 bytes (to close after use), or CardError naming ``what``; its
    heaps are checked first (:func:`model.files.keras_reader.weights.check_heaps`)."""
    import h5py

    check_heaps(raw, source, what)
    try:
        return h5py.File(io.BytesIO(raw), "r")
    except (OSError, ValueError, RuntimeError) as exc:
        raise CardError(f"{source}: {what} cannot be read ({show(str(exc), 60)}).") from None


def build(builder: Builder, layers: list[dict[str, Any]], sources: dict[str, list[str]],
          last: str, fmt: str, producer: str) -> ImportedNetwork:
    """The network of a Keras config's layers (from :func:`graph`, in order), each read by
    ``builder`` from its open weights file: the records, the tensors, the input's scaling.

    Args:
        builder: the builder, its ``h5`` open (and ``find`` set for a layout other than
            ``.keras``'s).
        layers, sources, last: :func:`model.files.keras_reader.config.graph`'s.
        fmt: the file's format (``"keras"``, ``"h5"``).
        producer: the tool that wrote it, as the card shows it.
    """
    source = builder.source
    for layer in layers:
        name = layer_name(layer)
        srcs = [builder.values[s] for s in sources[name]]
        builder.values[name] = builder.layer(layer, srcs, name == last)
    out = builder.values[last]
    if out.image or out.shape != (NUM_CLASSES,):
        raise CardError(f"{source}: the model's output is {shown(out.shape)}; this app reads "
                        f"{NUM_CLASSES} classes (one per digit).")
    if builder.softmax_at is not None and builder.softmax_at != last:  # pragma: no cover
        raise CardError(f"{source}: softmax is read only as the network's last step.")
    inside = None
    if builder.inside is not None:  # x -> a x + b on 0..255 pixels is (x/255 - mean)/std
        a, b = builder.inside
        std = 1.0 / (255.0 * a)
        inside = (-b * std + 0.0, std)  # + 0.0: no -0.0
    tensors = {k: np.asarray(v, dtype=np.float32) for k, v in builder.tensors.items()}
    notes = [f"converted from Keras's NHWC layout ({builder.layout} input)", *builder.notes]
    if builder.softmax_at:
        notes.append(f"the final softmax of {builder.softmax_at!r} is the app's probabilities")
    return ImportedNetwork(builder.layers, tensors, builder.layout, source, fmt, inside,
                           producer, notes)


def read_keras(files: Mapping[str, bytes], name: str, max_bytes: int = MAX_FILE_BYTES
               ) -> ImportedNetwork:
    """The importer's reader (``model/importer.py`` READERS): ``files[name]`` is the ``.keras``
    file; a Keras file needs no other file uploaded with it."""
    return read(files[name], name, max_bytes)


def read_file(path: str) -> ImportedNetwork:
    """:func:`read` of a file, its size checked before it is read."""
    import os

    size = os.path.getsize(path)
    name = os.path.basename(path)
    if size > MAX_FILE_BYTES:
        raise CardError(f"{name}: {size:,} bytes; a Keras file here is at most "
                        f"{MAX_FILE_BYTES // 2**20} MB.")
    with open(path, "rb") as f:
        return read(f.read(), name)


__all__ = ["ACTIVATIONS", "CLASSES", "EXTENSION", "FORMAT", "MAX_FILE_BYTES", "MAX_SIZES", "build",
           "open_h5", "read", "read_file", "read_keras", "read_zip"]
