"""The weights file (``model.weights.h5``) of a ``.keras``, read with h5py and bounded before
each read: every dataset's shape and dtype against what the config implies, its storage
(contiguous, or chunks that fit within the dataset; filters from :data:`FILTERS`; no external
or virtual data; not resizable), and its size charged to the file's one
:class:`model.files.budget.Budget` (a chunk is never larger than its dataset, so the
decompressed bytes are bounded by the declared shapes)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.files.budget import Budget
from viz.limits import (
    KERAS_HEAP_BYTES,
    KERAS_HEAPS,
    LAYER_NAME_CHARS,
    LAYER_WINDOW,
    NETWORK_PARAMS,
)
from viz.network.card import CardError, show
from viz.network.layers import INPUT


@dataclass
class Value:
    """What a Keras tensor is here: the record that makes it (or :data:`INPUT`), and ``shape``:
    Keras's shape without the batch, ``(H, W, C)`` of a map or ``(n,)``. ``image``: still the
    input image (no record yet), which Reshape may relabel; ``order``: a vector that is Keras's
    flatten of an ``(H, W, C)`` map, which this project lists as ``(C, H, W)``."""

    src: str
    shape: tuple[int, ...]
    image: bool = False
    order: tuple[int, int, int] | None = None


class WeightsReader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.layers: list[dict[str, Any]] = []
        self.tensors: dict[str, np.ndarray] = {}
        self.names: set[str] = {INPUT}
        self.inside: tuple[float, float] | None = None  # (a, b): x -> a x + b on 0..255 pixels
        self.h5: Any = None
        self.h5_path: dict[str, str] = {}  # Keras layer name -> its group in the weights file
        # (keras layer name, count) -> its datasets, for a layout other than .keras's
        self.find: Callable[[str, int], list[Any]] | None = None
        self.weights_file = "model.weights.h5"  # as messages name it
        self.layout = "NHWC"
        self.budget = Budget(source)  # numbers read from model.weights.h5, charged before
        self.notes: list[str] = []

    def fail(self, message: str) -> CardError:
        return CardError(f"{self.source}: {message}")

    # -- records ------------------------------------------------------------------------------

    def name(self, wanted: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_-]", "_", wanted)[: LAYER_NAME_CHARS - 4] or "layer"
        name, n = base, 1
        while name in self.names:
            name, n = f"{base}_{n}", n + 1
        self.names.add(name)
        return name

    def emit(self, wanted: str, kind: str, srcs: list[str], **options: Any) -> str:
        name = self.name(wanted)
        rec: dict[str, Any] = {"name": name, "type": kind, **options}
        previous = self.layers[-1]["name"] if self.layers else INPUT
        if srcs != [previous]:
            rec["inputs"] = list(srcs)
        self.layers.append(rec)
        return name

    # -- config access ------------------------------------------------------------------------

    def opt(self, layer: dict[str, Any], key: str, default: Any = None) -> Any:
        cfg = layer.get("config")
        return cfg.get(key, default) if isinstance(cfg, dict) else default

    def pair(self, layer: dict[str, Any], key: str, where: str, default: Any = None) -> int:
        """A square kernel/stride/dilation (an int or two equal ints) within LAYER_WINDOW."""
        value = self.opt(layer, key, default)
        if isinstance(value, (list, tuple)) and len(value) == 2 and value[0] == value[1]:
            value = value[0]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= LAYER_WINDOW:
            raise self.fail(f"layer {where}: {key} must be square, from 1 to {LAYER_WINDOW}, not "
                            f"{show(value)} (this app draws square windows).")
        return value

    def channels_last(self, layer: dict[str, Any], where: str) -> None:
        fmt = self.opt(layer, "data_format")
        if fmt not in (None, "channels_last"):
            raise self.fail(f"layer {where}: data_format {show(fmt)} is not read; save the "
                            f"model with channels_last (Keras's default).")

    # -- weights ------------------------------------------------------------------------------

    def weights(self, keras_name: str, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
        """The layer's variables, each dataset's shape, dtype and storage checked and its size
        charged to the file's budget before it is read. Where the datasets are is the file's
        layout: :meth:`datasets` (``.keras``) or :attr:`find` (another layout, e.g. ``.h5``)."""
        import h5py

        where = show(keras_name)
        try:
            found = (self.find or self.datasets)(keras_name, len(shapes))
            out = []
            for i, (ds, shape) in enumerate(zip(found, shapes)):
                if not isinstance(ds, h5py.Dataset):
                    raise self.fail(f"layer {where}: weight {i} is not an array.")
                if tuple(ds.shape) != shape:
                    raise self.fail(f"layer {where}: weight {i} is {shown(ds.shape)} in "
                                    f"{self.weights_file}, its config needs {shown(shape)}.")
                if ds.dtype.kind != "f" or ds.dtype.itemsize not in (2, 4, 8):
                    raise self.fail(f"layer {where}: weight {i} has dtype {ds.dtype}, not a "
                                    f"float.")
                # charged before the read: a dataset never written reads as its fill value,
                # as large as its declared shape, from a small file
                try:
                    self.budget.charge(math.prod(shape), f"layer {where}: weight {i}")
                except CardError:
                    raise self.fail(f"layer {where}: the weights up to it hold over "
                                    f"{self.budget.max_values:,} numbers; this server takes "
                                    f"networks of up to {NETWORK_PARAMS:,} parameters.") from None
                check_storage(ds, shape, self.fail, f"layer {where}: weight {i}")
                out.append(np.asarray(ds[()]))
        except CardError:
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise self.fail(f"layer {where}: {self.weights_file} cannot be read "
                            f"({show(str(exc), 80)}).") from None
        return out

    def datasets(self, keras_name: str, count: int) -> list[Any]:
        """The ``.keras`` layout: a layer's variables are ``vars/0``, ``vars/1``, ... of its
        group (:attr:`h5_path`), hard links only."""
        import h5py

        where = show(keras_name)
        path = self.h5_path.get(keras_name)
        group = self.h5.get(f"{path}/vars") if path else None
        if not isinstance(group, h5py.Group):
            raise self.fail(f"layer {where}: model.weights.h5 has no weights for it "
                            f"(expected {path}/vars).")
        saved_name = group.attrs.get("name")
        if isinstance(saved_name, bytes):
            saved_name = saved_name.decode("utf-8", "replace")
        if saved_name is not None and saved_name != keras_name:
            raise self.fail(f"layer {where}: model.weights.h5 holds the weights of "
                            f"{show(saved_name)} where this layer's should be.")
        if len(group) != count:
            raise self.fail(f"layer {where}: model.weights.h5 holds {len(group)} arrays for "
                            f"it, its config needs {count}.")
        out = []
        for i in range(count):
            link = group.get(str(i), getlink=True)
            if not isinstance(link, h5py.HardLink):
                raise self.fail(f"layer {where}: weight {i} is missing or a link to "
                                f"elsewhere in model.weights.h5.")
            out.append(group[str(i)])
        return out


# HDF5 filters read (h5py's ids): what Keras and h5py write; any other is refused before a read
FILTERS = {1: "gzip", 2: "shuffle", 3: "fletcher32", 32000: "lzf"}
CHUNK_SLACK = 1024  # bytes a compressed chunk may exceed its raw size by (gzip's headers)


# HDF5's heaps, by their signature and version (HDF5 reads a heap whole, allocating the size
# it declares, past the file's end too): the global heap holds variable-length strings (an
# .h5's model_config, the weights' names), a local heap an old-style group's link names
HEAPS = {b"GCOL": (b"\x01\x00\x00\x00", "global heap"),
         b"HEAP": (b"\x00\x00\x00\x00", "local heap")}
HEAP_BYTES = KERAS_HEAP_BYTES  # the names this module reads
HEAP_COUNT = KERAS_HEAPS


def check_heaps(raw: bytes, source: str, what: str) -> None:
    """Refuse HDF5 bytes holding a heap that declares more than :data:`HEAP_BYTES` (a string
    attribute over any Keras config, or a heap that HDF5 would fill past the file's end), or
    more than :data:`HEAP_COUNT` heaps, before HDF5 reads any: a signature scan of the bytes
    (every heap HDF5 loads starts with its signature; sizes are 8 bytes, as h5py writes them).

    Args:
        raw: the HDF5 file's bytes.
        source: the file's name, for messages.
        what: the HDF5 file, as messages name it.
    """
    for magic, (version, kind) in HEAPS.items():  # (the 4 letters alone: a fast search)
        at, count = raw.find(magic), 0
        while at >= 0:
            if raw[at + 4: at + 8] != version:
                at = raw.find(magic, at + 1)
                continue
            count += 1
            size = int.from_bytes(raw[at + 8: at + 16], "little")
            if count > HEAP_COUNT:
                raise CardError(f"{source}: {what} holds over {HEAP_COUNT:,} {kind}s (one per "
                                f"group: a Keras file has a few per layer); save the model "
                                f"again with model.save(\"name.keras\").")
            if size > HEAP_BYTES:
                raise CardError(f"{source}: {what} holds a {kind} of {size:,} bytes; a Keras "
                                f"model's config and names fit in {HEAP_BYTES:,} (save the "
                                f"model again with model.save(\"name.keras\")).")
            at = raw.find(magic, at + 1)


def check_storage(ds: Any, shape: tuple[int, ...], fail: Any, what: str) -> None:
    """Refuse a dataset whose storage could decompress to more than its declared shape: data
    outside the file, a resizable dataset, a filter outside :data:`FILTERS`, a chunk larger
    than the dataset, more chunks than its grid, a chunk or contiguous block larger on disk
    than its raw bytes. h5py's metadata only; nothing of the data is read.

    Args:
        ds: the h5py Dataset.
        shape: its shape, as the config needs it (already checked against ``ds.shape``).
        fail: makes the reader's error from a message.
        what: the weight, as a message names it.
    """
    fix = "save the model again with model.save(\"name.keras\")"
    if ds.external or ds.is_virtual:
        raise fail(f"{what} points to data outside model.weights.h5.")
    if ds.maxshape is not None and tuple(ds.maxshape) != tuple(shape):
        raise fail(f"{what} is resizable (maxshape {show(ds.maxshape)}, shape {shown(shape)}); "
                   f"Keras writes fixed shapes: {fix}.")
    plist = ds.id.get_create_plist()
    for k in range(plist.get_nfilters()):
        code = int(plist.get_filter(k)[0])
        if code not in FILTERS:
            raise fail(f"{what} is stored with HDF5 filter {code}; this server reads "
                       f"{', '.join(FILTERS.values())}: {fix}.")
    raw = math.prod(shape) * ds.dtype.itemsize
    chunks = ds.chunks
    if chunks is None:
        if ds.id.get_storage_size() > raw + CHUNK_SLACK:
            raise fail(f"{what} holds {ds.id.get_storage_size():,} bytes for "
                       f"{shown(shape)} numbers; {fix}.")
        return
    if len(chunks) != len(shape) or any(c > max(d, 1) for c, d in zip(chunks, shape)):
        raise fail(f"{what} is stored in chunks of {shown(chunks)}, larger than the "
                   f"{shown(shape)} dataset (each chunk would unpack in full); {fix}.")
    grid = math.prod(-(-d // c) for d, c in zip(shape, chunks)) if all(shape) else 0
    count = ds.id.get_num_chunks()
    if count > grid:
        raise fail(f"{what} has {count:,} chunks where its shape has room for {grid:,}; {fix}.")
    chunk_raw = math.prod(chunks) * ds.dtype.itemsize
    for k in range(count):
        size = ds.id.get_chunk_info(k).size
        if size > chunk_raw + CHUNK_SLACK:
            raise fail(f"{what} has a chunk of {size:,} bytes where {chunk_raw:,} are raw; "
                       f"{fix}.")


def shown(shape: Any) -> str:
    return "x".join(str(d) for d in shape) if len(shape) else "a scalar"


@dataclass(frozen=True)
class Call:
    """One Keras layer being read: its config, the tensors it reads (``v``: the first, None for
    the input layer), its name (``where``: shown in messages), whether it is the network's last
    layer, and the layer type its class is read as (None: a class of the reader's own)."""

    layer: dict[str, Any]
    srcs: list[Value]
    v: Any
    where: str
    name: str
    last: bool
    kind: str | None
