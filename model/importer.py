"""Convert a network from another tool's file into this project's checkpoint; print one JSON line.

    python -m model.importer PATH [--out OUT.safetensors]
                             [--input-scale auto|unit|mnist|symmetric|raw] [--max-bytes N]
                             [--architecture NAME | --layers TABLE.csv]

prints ``{"source", "format", "out", "input_scale", "scale_accuracy", "params", "macs",
"layers": [{"name", "type", "inputs", "output_shape", "rf", "stride", "global"}]}`` (``rf`` and
``stride`` as ``[h, w]`` from the receptive-field engine, null for a layer whose units see the
whole input, ``global: true``), with ``"scale_likelihood"`` (each scaling's mean
log-probability of the true digit on the shipped samples, which chooses it) and, for a PyTorch
state dict (``.pt``, ``.pth``), ``"architecture"`` (the zoo network its tensors were matched to,
or the one ``--architecture`` names, or ``"layer table"`` for ``--layers``), the ones tried in
``"architectures_tried"`` (with ``"architecture_likelihood"`` when several fitted), and
``"scale_close"`` (scalings within 0.05 nats of the chosen one).
A refused file prints ``error: MESSAGE`` on stderr, exit 2.
Without ``--out`` the checkpoint is written beside PATH as NAME.safetensors (and NAME.json).
PATH is read only when it is within the upload box's byte limit (what the app takes), unless
``--max-bytes`` raises it on purpose.

Readers, one per file extension, in :data:`READERS`. A reader is

    def read_X(files: Mapping[str, bytes], name: str) -> model.files.imported.ImportedNetwork

``files[name]`` is the uploaded (or given) file; the other entries are files uploaded with it,
looked up by plain name only (e.g. an ONNX file's ``NAME.onnx.data``: ``name in files``,
``files[location]``). It raises ``viz.network.card.CardError`` (a ``ValueError``) with a
one-line message for any file it refuses, before allocating anything large. Adding a format
is one entry in :data:`READERS`; the sidebar's upload box and this command both read it. The
line of code that saves each format, shown under the upload box, is its entry in
:data:`model.files.formats.SAVE_LINES`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from model.files import h5_import, keras_import
from model.files.atomic import atomic_write
from model.files.imported import AUTO, CHOICES, Converted, ImportedNetwork, to_checkpoint
from model.files.onnx_import import read_onnx
from model.files.statedict_import import read_statedict
from viz.limits import ONNX_SIDE_FILE_BYTES, UPLOAD_FILE_BYTES
from viz.network.card import CardError
from viz.network.layers import input_names

Reader = Callable[..., ImportedNetwork]  # (files, name, max_bytes=...) -> ImportedNetwork
READERS: dict[str, Reader] = {
    ".onnx": read_onnx,
    ".keras": keras_import.read_keras,
    ".pt": read_statedict,
    ".pth": read_statedict,
    ".h5": h5_import.read_h5,  # model.save("net.h5"): Keras 3 on TensorFlow, Keras 2 (tf_keras)
    ".hdf5": h5_import.read_h5,
}
# readers that take ``architecture=`` (a zoo name or a layer table's records): a state dict holds
# weights, not the network
ARCHITECTURE_READERS = (read_statedict,)


def reader_for(name: str) -> Reader | None:
    """The reader of a file name's extension, or None."""
    lower = name.lower()
    return next((r for ext, r in READERS.items() if lower.endswith(ext)), None)


def main_file(names: list[str]) -> str | None:
    """Of files uploaded together, the one a reader reads (the others are its data)."""
    found = [n for n in names if reader_for(n) is not None]
    return found[0] if len(found) == 1 else None


class Folder(Mapping[str, bytes]):
    """The file PATH and, on demand, files beside it named by a plain name (bounded in size)."""

    def __init__(self, path: Path, max_bytes: int = UPLOAD_FILE_BYTES) -> None:
        self.path = path
        size = path.stat().st_size
        if size > max_bytes:  # refused before a byte is read
            raise CardError(f"{path.name}: {size:,} bytes; the app takes files of up to "
                            f"{max_bytes:,} bytes (raise it on purpose with --max-bytes).")
        self.main = path.read_bytes()

    def _side(self, key: str) -> Path | None:
        if (not isinstance(key, str) or not key or "/" in key or "\\" in key
                or key in (".", "..") or "\x00" in key):
            return None
        p = self.path.parent / key
        return p if p.is_file() and not p.is_symlink() else None

    def __contains__(self, key: object) -> bool:
        return key == self.path.name or self._side(key) is not None  # type: ignore[arg-type]

    def __getitem__(self, key: str) -> bytes:
        if key == self.path.name:
            return self.main
        p = self._side(key)
        if p is None:
            raise KeyError(key)
        if p.stat().st_size > ONNX_SIDE_FILE_BYTES:
            raise CardError(f"{key}: {p.stat().st_size:,} bytes; data files of up to "
                            f"{ONNX_SIDE_FILE_BYTES:,} bytes are read.")
        return p.read_bytes()

    def __iter__(self) -> Iterator[str]:
        return iter([self.path.name])

    def __len__(self) -> int:
        return 1


def convert(files: Mapping[str, bytes], name: str, scale: str = AUTO,
            max_bytes: int = UPLOAD_FILE_BYTES, architecture: str | list | None = None
            ) -> Converted:
    """The checkpoint of ``files[name]`` read by its extension's reader.

    Args:
        files: the file and those uploaded with it.
        name: the network file's name in ``files``.
        scale: the input scaling (one of :data:`model.files.imported.CHOICES`).
        max_bytes: the largest network file read (default: the upload box's limit).
        architecture: for a state dict, a zoo architecture's name or a layer table's records
            (None: matched against the zoo).
    Returns:
        The checkpoint. Raises CardError with a one-line message.
    """
    reader = reader_for(name)
    if reader is None:
        raise CardError(f"{name}: not a format this app imports; it reads "
                        f"{', '.join(READERS)} files.")
    if architecture and reader not in ARCHITECTURE_READERS:
        raise CardError(f"{name}: the file holds its network; an architecture is named only "
                        f"for a PyTorch state dict (.pt, .pth).")
    extra = {"architecture": architecture} if reader in ARCHITECTURE_READERS else {}
    return to_checkpoint(reader(files, name, max_bytes=max_bytes, **extra), scale)


def summary(conv: Converted, out: str | None) -> dict[str, Any]:
    """The JSON object the command prints."""
    card = conv.card
    layers = []
    for rec, info, srcs in zip(card["layers"], conv.report.layers, input_names(card["layers"])):
        layers.append({
            "name": rec["name"], "type": rec["type"], "inputs": list(srcs),
            "output_shape": list(info.shape),
            "rf": None if info.is_global else [info.r, info.r],
            "stride": None if info.is_global or info.stride is None
            else [info.stride, info.stride],
            "global": bool(info.is_global)})
    doc = {"source": card["source"], "format": card["source_format"], "out": out,
           "input_scale": card["input_scale"], "scale_accuracy": conv.scale_accuracy,
           "scale_likelihood": conv.scale_likelihood, "scale_close": conv.close,
           "params": card["params"], "macs": card["macs"], "layers": layers}
    if card.get("architecture"):
        doc["architecture"] = card["architecture"]
        doc["architectures_tried"] = card.get("architectures_tried", [])
        if "architecture_likelihood" in card:  # when several fitted: what chose among them
            doc["architecture_likelihood"] = card["architecture_likelihood"]
    return doc


def architecture_of(name: str | None, table: str | None) -> str | list | None:
    """The ``--architecture`` name, or the records of the ``--layers`` table file (its size
    bounded), or None."""
    if table is None:
        return name
    from model.files.torch_reader.match import read_table
    from viz.limits import CARD_HEADER_BYTES

    path = Path(table)
    if not path.is_file():
        raise CardError(f"{table}: no such layer table file.")
    if path.stat().st_size > CARD_HEADER_BYTES:
        raise CardError(f"{table}: {path.stat().st_size:,} bytes; a layer table is at most "
                        f"{CARD_HEADER_BYTES:,}.")
    return read_table(path.read_text("utf-8", "replace"), path.name)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.importer",
                                description=__doc__.split("\n")[0])
    p.add_argument("path")
    p.add_argument("--out", default=None, help="the checkpoint to write (default: beside PATH)")
    p.add_argument("--input-scale", default=AUTO, choices=CHOICES,
                   help="how pixels were scaled in training (default: found on the samples)")
    p.add_argument("--max-bytes", type=int, default=UPLOAD_FILE_BYTES,
                   help=f"the largest file read (default {UPLOAD_FILE_BYTES:,}: the upload box's)")
    arch = p.add_mutually_exclusive_group()
    arch.add_argument("--architecture", default=None,
                      help="a state dict's network: a zoo architecture (default: matched by "
                           "its tensors' shapes)")
    arch.add_argument("--layers", default=None,
                      help="a state dict's network as a layer table (the lab's CSV columns)")
    a = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    path = Path(a.path)
    try:
        if not path.is_file():
            raise CardError(f"{path}: no such file.")
        conv = convert(Folder(path, a.max_bytes), path.name, a.input_scale, a.max_bytes,
                       architecture_of(a.architecture, a.layers))
    except (CardError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(a.out) if a.out else path.with_name(path.name.split(".")[0] + ".safetensors")
    out = out.with_suffix(".safetensors")
    atomic_write(out, conv.data)
    atomic_write(out.with_suffix(".json"), (json.dumps(conv.card, indent=2) + "\n").encode())
    print(json.dumps(summary(conv, str(out))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
