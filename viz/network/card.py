"""The one reader of a checkpoint's header, and the checks a file from a user passes first.

Every file from a user is hostile until checked, so :func:`read_header` and
:func:`validate_card` run on the safetensors header alone, before any tensor is read or any
network built: the header's form, the model card's layer records against the header's tensors,
and the server's limits (``viz.limits``). :func:`arrays` then reads the (now known small) tensors and refuses
NaN or infinite weights. Every problem raises :class:`CardError` with a message a student can
act on; the checks are listed in docs/deploy.md.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from viz.limits import (
    CARD_HEADER_BYTES,
    LAYER_NAME_CHARS,
    NETWORK_ACTIVATIONS,
    NETWORK_LAYERS,
    NETWORK_MACS_PER_IMAGE,
    NETWORK_PARAMS,
)
from viz.network.layers import (
    INPUT,
    INPUT_SHAPE,
    LabReport,
    activation_elements,
    analyse,
    check_inputs,
    input_names,
    param_shapes,
)
from viz.network.layertypes import AFTER_FLATTEN, LAYER_TYPES, TYPES, listed

CARD_KEY = "model_card"
# (viz.limits.LAYER_WIDTH and LAYER_WINDOW bound the channels, features and windows)
LIMITS = (f"this server takes networks of up to {NETWORK_PARAMS:,} parameters, "
          f"{NETWORK_MACS_PER_IMAGE / 1e9:g} GMAC per image, {NETWORK_ACTIVATIONS:,} activation "
          f"values per image across all layers and {NETWORK_LAYERS} layers")

# safetensors dtype -> numpy dtype (little endian)
DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
          "I8": "i1", "U8": "u1", "BOOL": "?"}
_NAME = re.compile(r"[A-Za-z0-9_-]+")


class CardError(ValueError):
    """A file or model card that cannot be used, with a message saying why."""


@dataclass(frozen=True)
class TensorEntry:
    """One tensor as the header describes it: dtype, shape and byte range in the data part."""

    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int


def show(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters: hostile names can be megabytes long."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _foreign(data: bytes) -> str:
    if data[:4] == b"PK\x03\x04":
        return ("it is a zip archive, probably a PyTorch file from torch.save, and a checkpoint "
                "reader never unpickles files; a state dict is imported when named .pt or .pth "
                "(read as data, no code run)")
    if data[:1] == b"\x80":
        return ("it is a Python pickle; for safety this tool never unpickles files (that would "
                "run the file's code). Save the weights with torch.save(model.state_dict(), "
                "\"net.pt\") and upload the .pt file")
    return "it is not a safetensors file"


# ---------------------------------------------------------------------------------------------
# The header
# ---------------------------------------------------------------------------------------------

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _entry(name: str, raw: Any, source: str) -> TensorEntry:
    if not isinstance(raw, dict):
        raise CardError(f"{source}: not a valid safetensors file: the entry of tensor "
                        f"{show(name)} is not an object.")
    dtype, shape, offsets = raw.get("dtype"), raw.get("shape"), raw.get("data_offsets")
    if dtype not in DTYPES:
        raise CardError(f"{source}: tensor {show(name)} has dtype {show(dtype)}; expected one "
                        f"of {', '.join(DTYPES)}.")
    if (not isinstance(shape, list) or len(shape) > 8
            or not all(_is_int(d) and 0 <= d <= 2**40 for d in shape)):
        raise CardError(f"{source}: tensor {show(name)} has shape {show(shape)}; a shape is a "
                        f"list of at most 8 sizes, each 0 or more.")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(_is_int(o) and o >= 0 for o in offsets)):
        raise CardError(f"{source}: tensor {show(name)} has data_offsets {show(offsets)}; "
                        f"expected [start, end].")
    size = math.prod(shape) * np.dtype(DTYPES[dtype]).itemsize
    if offsets[1] - offsets[0] != size:
        raise CardError(f"{source}: tensor {show(name)} of shape {tuple(shape)} needs {size:,} "
                        f"bytes, but its offsets span {offsets[1] - offsets[0]:,}.")
    return TensorEntry(dtype, tuple(shape), offsets[0], offsets[1])


def read_header(data: bytes, source: str = "checkpoint", *, complete: bool = True
                ) -> tuple[dict[str, Any], dict[str, TensorEntry]]:
    """(model card, tensor table) from a safetensors file's bytes, reading the header only.

    ``complete``: ``data`` is the whole file, so every tensor's bytes must lie inside it (with
    ``False``, ``data`` may end right after the header, e.g. to list runs cheaply). The card is
    parsed but not validated (see :func:`validate_card`). Raises :class:`CardError`.
    """
    if len(data) < 8:
        raise CardError(f"{source}: not a checkpoint: only {len(data)} bytes.")
    n = int.from_bytes(data[:8], "little")
    if n > CARD_HEADER_BYTES:
        if n < 100_000_000 and data[8:9] == b"{":
            raise CardError(f"{source}: its header claims {n:,} bytes; checkpoints here have "
                            f"headers of at most {CARD_HEADER_BYTES:,} bytes.")
        raise CardError(f"{source}: not a checkpoint: {_foreign(data)}.")
    if n > len(data) - 8:
        if data[8:9] == b"{":
            raise CardError(f"{source}: truncated: the file ends inside its header.")
        raise CardError(f"{source}: not a checkpoint: {_foreign(data)}.")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # JSONDecodeError is a ValueError
        raise CardError(f"{source}: not a checkpoint: {_foreign(data)}.") from None
    if not isinstance(header, dict):
        raise CardError(f"{source}: not a checkpoint: {_foreign(data)}.")
    meta = header.pop("__metadata__", None) or {}
    table = {name: _entry(name, raw, source) for name, raw in header.items()}
    ends = sorted((e.start, e.end) for e in table.values())
    position = 0
    for start, end in ends:  # safetensors packs tensors back to back, in order
        if start != position:
            raise CardError(f"{source}: not a valid safetensors file: its tensors overlap or "
                            f"leave gaps.")
        position = end
    if complete and 8 + n + position > len(data):
        raise CardError(f"{source}: truncated: {len(data):,} bytes, but its header needs "
                        f"{8 + n + position:,}. The file was cut short; copy or download it "
                        f"again.")
    if not isinstance(meta, dict) or CARD_KEY not in meta:
        raise CardError(f"{source}: a safetensors file without a model card, so its "
                        f"architecture is unknown. Save the weights with torch.save(model."
                        f"state_dict(), \"net.pt\") and upload the .pt file (its network is "
                        f"found from its tensors), or export ONNX with torch.onnx.export.")
    text = meta[CARD_KEY]
    try:
        card = json.loads(text) if isinstance(text, str) else None
    except RecursionError:
        raise CardError(f"{source}: its model card is not valid JSON (nested too deeply)."
                        ) from None
    except ValueError as exc:
        raise CardError(f"{source}: its model card is not valid JSON ({show(exc, 80)}).") from None
    if not isinstance(card, dict) or "arch" not in card or "layers" not in card:
        raise CardError(f"{source}: its model card lacks 'arch' or 'layers'.")
    return card, table


def read_header_file(path: str | Path) -> tuple[dict[str, Any], dict[str, TensorEntry]]:
    """:func:`read_header` of a file, reading only its first ``8 + header length`` bytes."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else 0
        data = head + (f.read(n) if n <= CARD_HEADER_BYTES else f.read(1))
    return read_header(data, path.name, complete=False)


# ---------------------------------------------------------------------------------------------
# The card's layer records
# ---------------------------------------------------------------------------------------------

def _whole(rec: dict[str, Any], key: str, lo: int, hi: int, where: str,
           default: int | None = None) -> int:
    value = rec.get(key, default)
    if value is None and default is None:
        raise CardError(f"{where}: a {rec['type']} layer needs {key!r}.")
    if value is None:
        return default  # type: ignore[return-value]
    if not _is_int(value):
        raise CardError(f"{where}: {key} must be a whole number, not {show(value)}.")
    if not lo <= value <= hi:
        raise CardError(f"{where}: {key} must be between {lo:,} and {hi:,}, not {value:,}.")
    return value


def _check_record(rec: Any, i: int, seen: set[str]) -> None:
    if not isinstance(rec, dict):
        raise CardError(f"layer #{i}: a layer record is an object like "
                        f'{{"name": "conv1", "type": "conv", ...}}, not {show(rec)}.')
    name = rec.get("name")
    if (not isinstance(name, str) or not 0 < len(name) <= LAYER_NAME_CHARS
            or not _NAME.fullmatch(name)):
        raise CardError(f"layer #{i}: its name must be 1 to {LAYER_NAME_CHARS} letters, digits, "
                        f"'_' or '-', not {show(name)}.")
    if name in seen:
        raise CardError(f"layer #{i}: two layers are named {name!r}; names must be unique.")
    seen.add(name)
    kind = rec.get("type")
    where = f"layer #{i} ({name})"
    if kind not in LAYER_TYPES:
        raise CardError(f"{where}: unknown layer type {show(kind)}; expected one of "
                        f"{', '.join(LAYER_TYPES)}.")
    layer_type = TYPES[kind]
    unknown = sorted(set(rec) - {"name", "type", "inputs"} - set(layer_type.keys), key=str)
    if unknown:
        raise CardError(f"{where}: a {kind} layer has no {show(unknown[0])}.")
    for option in layer_type.options:
        key = option.key
        if option.kind == "bool" and key in rec and not isinstance(rec[key], bool):
            raise CardError(f"{where}: {key} must be true or false, not {show(rec[key])}.")
    for option in layer_type.options:
        if option.kind in ("width", "window"):
            default = rec.get("kernel") if option.default == "kernel" else option.default
            _whole(rec, option.key, option.lo, option.hi, where, default)
        elif option.kind == "fraction":
            p = rec.get(option.key, option.default)
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
                raise CardError(f"{where}: {option.key} must be a number from 0 to below 1, "
                                f"not {show(p)}.")


def _chain(layers: list[dict[str, Any]], report: LabReport) -> None:
    """Every layer reads what the layer it reads makes (channels, or features after flatten):
    the one before it, or the one its ``inputs`` name."""
    made: dict[str, tuple[int, ...]] = {INPUT: INPUT_SHAPE}
    previous = INPUT
    for i, (rec, out, srcs) in enumerate(zip(layers, report.layers, input_names(layers)),
                                         start=1):
        reads = TYPES[rec["type"]].reads
        shape = made[srcs[0]]
        if reads is not None and rec[reads[0]] != shape[0]:
            message = reads[1].format(n=rec[reads[0]], m=shape[0])
            if srcs[0] != previous:  # "the layer before it" is the one its inputs name
                message = message.replace("the layer before it", f"{srcs[0]!r}")
            raise CardError(f"layer #{i} ({rec['name']}): " + message)
        made[rec["name"]] = out.shape
        previous = rec["name"]


def check_limits(report: LabReport, what: str = "this network") -> None:
    """Refuse a network over the server's limits, naming the limits (cards and lab tables)."""
    over = []
    if len(report.layers) > NETWORK_LAYERS:
        over.append(f"{len(report.layers)} layers")
    if report.params > NETWORK_PARAMS:
        over.append(f"{report.params:,} parameters")
    if report.macs > NETWORK_MACS_PER_IMAGE:
        gmac = report.macs / 1e9
        over.append(f"{gmac:,.0f} GMAC per image" if gmac >= 10 else f"{gmac:.2f} GMAC per image")
    values = activation_elements(list(report.layers))
    if values > NETWORK_ACTIVATIONS:
        over.append(f"{values:,} activation values per image")
    if over:
        raise CardError(f"{what} is too big: {' and '.join(over)}; {LIMITS}.")


def analyse_checked(layers: Any, what: str = "this network") -> LabReport:
    """:func:`viz.network.layers.analyse` of layer records, after checking their count, form and ranges,
    and before their sizes are trusted: raises :class:`CardError` naming the problem."""
    if not isinstance(layers, list) or not layers:
        raise CardError(f"{what}: 'layers' must be a non-empty list of layer records.")
    if len(layers) > NETWORK_LAYERS:
        raise CardError(f"{what} is too big: {len(layers):,} layers; {LIMITS}.")
    seen: set[str] = set()
    for i, rec in enumerate(layers, start=1):
        _check_record(rec, i, seen)
    try:  # inputs name earlier layers, as many as the type reads
        check_inputs(layers)
    except ValueError as exc:
        raise CardError(f"{what}: {exc}.") from None
    flat: dict[str, bool] = {INPUT: False}  # the layer's output is a vector (after flatten)
    for i, (rec, srcs) in enumerate(zip(layers, input_names(layers)), start=1):
        where, kind = f"layer #{i} ({rec['name']})", rec["type"]
        reads_flat = any(flat[s] for s in srcs)
        if reads_flat and kind not in AFTER_FLATTEN:
            raise CardError(f"{what}: {where}: after flatten only {listed(AFTER_FLATTEN)} "
                            f"layers fit, not {kind}.")
        if TYPES[kind].needs_flatten and not reads_flat:
            raise CardError(f"{what}: {where}: a {kind} layer needs a flatten before it.")
        flat[rec["name"]] = reads_flat or kind == "flatten"
    try:
        report = analyse(layers, INPUT_SHAPE)
    except CardError:
        raise
    except ValueError as exc:
        raise CardError(f"{what}: {exc}") from None
    _chain(layers, report)
    check_limits(report, what)
    return report


def expected_tensors(layers: list[dict[str, Any]]) -> dict[str, tuple[str, tuple[int, ...]]]:
    """{tensor name: (dtype, shape)} that checked layer records imply (as torch names them)."""
    return {f"{rec['name']}.{part}": ("I64" if part == "num_batches_tracked" else "F32", shape)
            for rec in layers for part, shape in param_shapes(rec).items()}


def _listed(names: list[str]) -> str:
    shown = ", ".join(show(n).strip("'") for n in names[:6])
    return shown + (f" and {len(names) - 6} more" if len(names) > 6 else "")


def validate_card(card: dict[str, Any], header_tensors: dict[str, TensorEntry],
                  source: str = "checkpoint") -> LabReport:
    """Check a card's layer records alone, then against the header's tensors; nothing is read
    or built. Returns the network's analysis (shapes, parameters, MACs per layer)."""
    arch = card.get("arch")
    if (not isinstance(arch, str) or not 0 < len(arch) <= LAYER_NAME_CHARS
            or not _NAME.fullmatch(arch)):
        raise CardError(f"{source}: its architecture name must be 1 to {LAYER_NAME_CHARS} letters, "
                        f"digits, '_' or '-', not {show(arch)}.")
    try:
        report = analyse_checked(card.get("layers"), "its network")
    except CardError as exc:
        raise CardError(f"{source}: {exc}") from None
    want = expected_tensors(card["layers"])
    missing = sorted(set(want) - set(header_tensors))
    extra = sorted(set(header_tensors) - set(want))
    problems = []
    if missing:
        problems.append("missing " + _listed(missing))
    if extra:
        problems.append("unexpected " + _listed(extra))
    for name, (dtype, shape) in want.items():
        got = header_tensors.get(name)
        if got is None:
            continue
        if got.shape != shape:
            problems.append(f"{name} is {got.shape}, the architecture needs {shape}")
        elif got.dtype != dtype:
            problems.append(f"{name} is {got.dtype}, the architecture needs {dtype}")
    if problems:
        raise CardError(f"{source}: the weights do not fit architecture {arch!r}: "
                        + "; ".join(problems[:8]) + ".")
    return report


# ---------------------------------------------------------------------------------------------
# The tensors
# ---------------------------------------------------------------------------------------------

def arrays(data: bytes, table: dict[str, TensorEntry], source: str = "checkpoint"
           ) -> dict[str, np.ndarray]:
    """The tensors of a checked file as read-only numpy views of ``data``; NaN or infinite
    weights are refused."""
    n = int.from_bytes(data[:8], "little")
    base = 8 + n
    out = {}
    for name, e in table.items():
        a = np.frombuffer(data, dtype=DTYPES[e.dtype], count=math.prod(e.shape),
                          offset=base + e.start).reshape(e.shape)
        out[name] = a
    check_finite(out, source)
    return out


def check_finite(tensors: dict[str, Any], source: str = "checkpoint") -> None:
    """Refuse NaN or infinite values in any float tensor (numpy arrays or anything
    ``np.asarray`` reads), naming the tensors."""
    bad = []
    for name in sorted(tensors):
        a = np.asarray(tensors[name])
        if a.dtype.kind == "f" and a.size:
            count = int(a.size - np.count_nonzero(np.isfinite(a)))
            if count:
                bad.append(f"{name} ({count:,} of {a.size:,})")
    if bad:
        raise CardError(f"{source}: NaN or infinite weights in " + ", ".join(bad[:6])
                        + ". A network with such weights computes nothing useful (its training "
                          "probably diverged); train it again with a lower learning rate.")


def read(data: bytes, source: str = "checkpoint"
         ) -> tuple[dict[str, Any], dict[str, np.ndarray], LabReport]:
    """(card, tensors, analysis) of a checkpoint's bytes, every check passed."""
    card, table = read_header(data, source)
    report = validate_card(card, table, source)
    return card, arrays(data, table, source), report
