"""The ``.keras`` zip: ``config.json``, ``metadata.json`` and ``model.weights.h5``, every check
on the zip's directory (size, entries, names, encryption, method, each entry's declared size)
done before any entry is decompressed, so a zip bomb is refused from its directory alone."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

from viz.inputs import wirejson
from viz.limits import (
    KERAS_CONFIG_BYTES,
    KERAS_FILE_BYTES,
    KERAS_METADATA_BYTES,
    KERAS_WEIGHTS_BYTES,
    KERAS_ZIP_ENTRIES,
)
from viz.network.card import CardError, show

FORMAT = "keras"
EXTENSION = ".keras"
MAX_FILE_BYTES = KERAS_FILE_BYTES  # the name the Keras reader imports
CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"
MAX_SIZES = {CONFIG: KERAS_CONFIG_BYTES, METADATA: KERAS_METADATA_BYTES,
             WEIGHTS: KERAS_WEIGHTS_BYTES}
# numbers read from model.weights.h5 in all (parameters and BatchNorm statistics), checked
# before each read: the parameter limit itself is checked on the records afterwards
H5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _bad_entry(name: str) -> bool:
    parts = re.split(r"[/\\]", name)
    return (name.startswith(("/", "\\")) or ".." in parts or bool(re.match(r"^[A-Za-z]:", name))
            or "\0" in name)


def read_zip(data: bytes, source: str, max_bytes: int = MAX_FILE_BYTES) -> dict[str, bytes]:
    """The three entries of a ``.keras`` zip ({name: bytes}; metadata.json may be missing),
    every check on the zip's directory done before any entry is decompressed."""
    if len(data) > max_bytes:
        raise CardError(f"{source}: {len(data):,} bytes; a Keras file here is at most "
                        f"{max_bytes // 2**20} MB.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise CardError(f"{source}: not a Keras 3 file (not a zip, or cut short); save it with "
                        f"model.save(\"name.keras\").") from None
    if len(infos) > KERAS_ZIP_ENTRIES:
        raise CardError(f"{source}: {len(infos):,} entries in the zip; a .keras file holds "
                        f"config.json, metadata.json and model.weights.h5.")
    for info in infos:
        if _bad_entry(info.filename):
            raise CardError(f"{source}: zip entry {show(info.filename)} points outside the "
                            f"archive ('..' or an absolute path); refused.")
    found = {info.filename: info for info in infos if info.filename in MAX_SIZES}
    for needed in (CONFIG, WEIGHTS):
        if needed not in found:
            raise CardError(f"{source}: no {needed} in the zip; a Keras 3 .keras file (model."
                            f"save(\"name.keras\")) holds config.json and model.weights.h5.")
    out = {}
    for name, info in found.items():
        if info.file_size > MAX_SIZES[name]:
            raise CardError(f"{source}: {name} declares {info.file_size:,} bytes unpacked "
                            f"({info.compress_size:,} packed); at most {MAX_SIZES[name]:,} are "
                            f"read (a zip bomb, or a network over this server's limits).")
        if info.flag_bits & 0x1:
            raise CardError(f"{source}: {name} is encrypted.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise CardError(f"{source}: {name} is compressed with method {info.compress_type}; "
                            f"Keras stores or deflates.")
    for name, info in found.items():
        try:
            with archive.open(info) as f:
                raw = f.read(MAX_SIZES[name] + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as exc:
            raise CardError(f"{source}: {name} cannot be unpacked (cut short or corrupt: "
                            f"{show(str(exc), 60)}).") from None
        if len(raw) > MAX_SIZES[name]:  # zipfile stops at the declared size: not reached
            raise CardError(f"{source}: {name} unpacks to more than its declared size.")
        out[name] = raw
    return out


def read_json(raw: bytes, what: str, source: str) -> Any:
    """JSON ``raw`` (already bounded in length by its reader) parsed only once its nesting is
    known to be within :data:`viz.inputs.wirejson.MAX_DEPTH` (counted without parsing; a
    Keras config nests about ten levels); CardError naming ``what`` otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CardError(f"{source}: {what} is not UTF-8 text.") from None
    if wirejson.depth(text) > wirejson.MAX_DEPTH:
        raise CardError(f"{source}: {what} nests more than {wirejson.MAX_DEPTH} levels deep; a "
                        f"Keras config nests about ten.")
    try:
        return json.loads(text)
    except RecursionError:
        raise CardError(f"{source}: {what} is nested too deeply.") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise CardError(f"{source}: {what} is not valid JSON ({show(str(exc), 60)}).") from None

