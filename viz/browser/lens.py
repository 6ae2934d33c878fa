"""What the in-browser lens needs about one network, built once per model (torch-free).

The lens runs the forward pass and draws the feature maps and receptive fields in the browser,
so it needs the layer records with their shapes and engine fields, the weights as base64
float32, and whether it can run them at all (:func:`unsupported_reason`; a network over
:data:`viz.limits.LENS_WEIGHT_CHARS` or :data:`viz.limits.LENS_MACS_PER_STROKE` is refused before anything is encoded). The
payload's keys are listed in docs/lens.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import numpy as np

from viz.inputs.scaling import scale_of
from viz.limits import LENS_MACS_PER_STROKE, LENS_WEIGHT_CHARS
from viz.network.layers import INPUT_SHAPE, LayerInfo, describe
from viz.network.layertypes import BN_EPS, LAYER_TYPES, TYPES
from viz.network.npforward import NumpyNet

# The browser runs every layer type (ui/components/js/forward.js; its ops are checked against
# the registry of viz.network.layertypes by tests/app/browser/test_forward_browser.py), with the options each
# type's entry lists.
LENS_TYPES = LAYER_TYPES
# The browser's attribution (attributeNet in attribute.js) needs these modules of
# ui/components/js/, in load order: a page that loads them as files, and the Web Worker that
# runs the maps off the main thread (attributionWorker), take this list.
ATTRIBUTE_JS = ("constants", "decode", "forward", "backward", "attribute")

# What runs live in the browser, bounded (the one place; ``bench/lens_bound.py`` measures them).
# The weights go to every student's browser once per network as base64 text (4 characters per
# 3 bytes), and every pen stroke reruns the whole network in plain JavaScript: about 0.1 GMAC/s
# on this 2-core server under load (the browser's forward.js in V8: seed 5.7M MACs in 64 ms,
# the PyTorch-examples net 12.0M in 151 ms, seed-original 1,549M in 16 s). Over either bound the
# lens says so and the explorer draws the server's maps (``ui/views/maps.py``). Every zoo
# network is within both but ``seed-original`` (22.2 MB of weights, 1,549M MACs). The bounds:
# :data:`viz.limits.LENS_WEIGHT_CHARS` and :data:`viz.limits.LENS_MACS_PER_STROKE`.


def weight_text(tensors: dict[str, Any]) -> int:
    """Characters of base64 text the float weights of ``tensors`` take in the payload."""
    return sum(4 * ((np.asarray(v).size * 4 + 2) // 3) for v in tensors.values()
               if np.issubdtype(np.asarray(v).dtype, np.floating))


def size_reason(name: str, text: int, macs: int) -> str | None:
    """Why a network of ``text`` characters of weights and ``macs`` multiply-adds per digit is
    too big to run live in the browser (in words), or None when it is within both bounds."""
    over = []
    if text > LENS_WEIGHT_CHARS:
        over.append(f"{text / 1e6:,.1f} MB of weights to send to every browser (the lens takes "
                    f"at most {LENS_WEIGHT_CHARS / 1e6:,.1f} MB)")
    if macs > LENS_MACS_PER_STROKE:
        over.append(f"{macs / 1e6:,.1f} million multiply-adds per digit, redone on every pen "
                    f"stroke (the lens runs at most {LENS_MACS_PER_STROKE / 1e6:,.0f} million)")
    if not over:
        return None
    return (f"{name} is too big to run live in your browser: {' and '.join(over)}. The server "
            f"runs it instead, one digit at a time")


def unsupported_reason(layers: list[dict[str, Any]]) -> str | None:
    """Why the lens cannot run these layer records, or None when it can run every one."""
    for rec in layers:
        name, kind = rec.get("name", "?"), rec.get("type")
        if kind not in LENS_TYPES:
            return (f"layer {name!r} is a {kind!r} layer, which the in-browser lens does not "
                    f"run (it runs {', '.join(LENS_TYPES)})")
        extra = set(rec) - {"name", "type", "inputs"} - set(TYPES[kind].keys)
        if extra:
            return (f"{TYPES[kind].noun} layer {name!r} has options the lens does not run: "
                    f"{sorted(extra)}")
        for key in (o.key for o in TYPES[kind].options if o.kind == "window"):
            value = rec.get(key)
            if value is not None and not (isinstance(value, int) and not isinstance(value, bool)):
                return (f"layer {name!r}: {key} {value!r} is not a single whole number (the lens "
                        f"runs square kernels with the same padding on every side)")
    return None


def _encode(a: np.ndarray) -> dict[str, Any]:
    f = np.ascontiguousarray(a, dtype="<f4")
    return {"shape": list(f.shape), "b64": base64.b64encode(f.tobytes()).decode("ascii")}


def _pair(h: int | None, w: int | None) -> list[int] | None:
    return None if h is None or w is None else [int(h), int(w)]


def rf_row(info: LayerInfo) -> dict[str, Any]:
    """A layer's receptive-field row as the browser reads it (see the module docstring)."""
    shape = [int(s) for s in info.shape]
    h, w = info.field.h, info.field.w
    return {"r": _pair(h.r, w.r), "S": _pair(h.stride, w.stride),
            "P": _pair(h.padding, w.padding),
            "size": shape[1:] if len(shape) == 3 else None, "global": bool(info.is_global)}


def layer_rows(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The layer records with their output shape and receptive-field row (from the engine)."""
    rows = []
    for rec, info in zip(layers, describe(layers)):
        kind = TYPES[rec["type"]]
        row = {**rec, "shape": [int(s) for s in info.shape], "macs": int(info.macs),
               "rf": rf_row(info), "reach": int(info.r),
               # how the browser's attribution takes its gradient (backward.js, attribute.js)
               "backward": kind.browser_backward, "guided": kind.guided,
               "deeplift": kind.deeplift}
        if kind.merge is not None:  # a join reads all its inputs
            row["join"] = True
        rows.append(row)
    return rows


def payload(net: NumpyNet) -> dict[str, Any]:
    """The lens's JSON payload for one network (see the module docstring)."""
    layers = [dict(rec) for rec in net.layers]
    reason = unsupported_reason(layers)
    rows: list[dict[str, Any]] = []
    if reason is None:
        try:
            rows = layer_rows(layers)
        except ValueError as exc:
            reason = str(exc)
    if reason is not None:
        rows = [dict(rec) for rec in layers]
    text = weight_text(net.tensors)
    macs = sum(int(r.get("macs", 0)) for r in rows)
    too_big = reason is None and size_reason(net.arch or "this network", text, macs) is not None
    if too_big:
        reason = size_reason(net.arch or "this network", text, macs)
    weights = {} if too_big else {
        k: _encode(v) for k, v in sorted(net.tensors.items())
        if np.issubdtype(np.asarray(v).dtype, np.floating)}
    digest = hashlib.sha256(json.dumps(layers, sort_keys=True).encode())
    for k in sorted(weights):
        digest.update(k.encode())
        digest.update(weights[k]["b64"].encode())
    if too_big:  # nothing encoded: the raw numbers tell two such networks apart
        for k, v in sorted(net.tensors.items()):
            digest.update(k.encode())
            digest.update(np.ascontiguousarray(v).tobytes())
    return {
        "id": digest.hexdigest()[:16],
        "arch": net.arch,
        "input": list(INPUT_SHAPE[1:]),
        "mean": scale_of(net.card)[0],
        "std": scale_of(net.card)[1],
        "bn_eps": BN_EPS,
        "supported": reason is None,
        "reason": reason,
        "too_big": too_big,
        "weight_text": text,
        "macs": macs,
        "layers": rows,
        "weights": weights,
    }


def decode(entry: dict[str, Any]) -> np.ndarray:
    """A weight entry of the payload back to a float32 array (for tests and checks)."""
    raw = base64.b64decode(entry["b64"])
    return np.frombuffer(raw, dtype="<f4").reshape(entry["shape"])


def unit_bounds(row: dict[str, Any], y: int, x: int) -> tuple[int, int, int, int]:
    """Inclusive, unclipped input bounds ``(y0, y1, x0, x1)`` of unit ``(y, x)`` of a layer row.

    The arithmetic the browser does on hover; a global layer's units see the whole input.
    """
    rf = row["rf"]
    if rf["global"]:
        return (0, 27, 0, 27)
    (rh, rw), (sh, sw), (ph, pw) = rf["r"], rf["S"], rf["P"]
    y0, x0 = y * sh - ph, x * sw - pw
    return (y0, y0 + rh - 1, x0, x0 + rw - 1)
