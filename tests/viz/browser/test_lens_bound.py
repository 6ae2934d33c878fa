"""The lens's size bound: what runs live in the browser (weight text and MACs per digit), what is
refused in words (seed-original), and the bound's edges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from viz.browser import lens
from viz.network import npforward
from viz.network.layers import analyse

CHECKPOINTS = Path(__file__).resolve().parents[3] / "checkpoints"


def _net(name: str) -> npforward.NumpyNet:
    path = CHECKPOINTS / f"{name}.safetensors"
    if not path.is_file():
        pytest.skip(f"{path.name} is not shipped")
    return npforward.load(path)


def test_seed_original_is_refused_in_words_and_nothing_is_encoded(monkeypatch) -> None:
    net = _net("seed-original")

    def no_encoding(_a):
        raise AssertionError("a refused network's weights were encoded")

    monkeypatch.setattr(lens, "_encode", no_encoding)
    p = lens.payload(net)
    assert p["too_big"] and not p["supported"] and p["weights"] == {}
    floats = sum(v.size for v in net.tensors.values())
    assert floats == 4_155_626  # every tensor is a weight or bias (no BatchNorm)
    # base64 of each tensor's float32 bytes: 4 characters per 3 bytes, padded per tensor
    assert p["weight_text"] == sum(4 * ((v.size * 4 + 2) // 3)
                                   for v in net.tensors.values()) == 22_163_364
    assert p["macs"] == analyse(net.layers).macs == 1_549_459_968
    assert p["reason"] == (
        "seed-original is too big to run live in your browser: 22.2 MB of weights to send to "
        "every browser (the lens takes at most 8.0 MB) and 1,549.5 million multiply-adds per "
        "digit, redone on every pen stroke (the lens runs at most 20 million). The server runs "
        "it instead, one digit at a time")
    assert [r["name"] for r in p["layers"]] == [r["name"] for r in net.layers]  # still described
    other = npforward.NumpyNet(net.arch, net.layers,
                               {**net.tensors, "head.bias": net.tensors["head.bias"] + 1},
                               net.card)
    assert lens.payload(other)["id"] != p["id"]  # told apart by their numbers


@pytest.mark.parametrize("name", ["seed", "seed-3x3", "compact", "fast"])
def test_the_zoos_shipped_networks_run_live(name: str) -> None:
    p = lens.payload(_net(name))
    assert p["supported"] and not p["too_big"] and p["weights"]
    assert p["weight_text"] == sum(len(w["b64"]) for w in p["weights"].values())
    assert p["macs"] == analyse(_net(name).layers).macs <= lens.LENS_MACS_PER_STROKE


def test_the_bound_edges(monkeypatch) -> None:
    net = _net("seed")
    p = lens.payload(net)
    text, macs = p["weight_text"], p["macs"]
    monkeypatch.setattr(lens, "LENS_WEIGHT_CHARS", text)
    monkeypatch.setattr(lens, "LENS_MACS_PER_STROKE", macs)
    assert lens.payload(net)["supported"]  # exactly at both bounds: live
    monkeypatch.setattr(lens, "LENS_WEIGHT_CHARS", text - 1)
    p = lens.payload(net)
    assert p["too_big"] and "MB of weights" in p["reason"] and "multiply-adds" not in p["reason"]
    monkeypatch.setattr(lens, "LENS_WEIGHT_CHARS", text)
    monkeypatch.setattr(lens, "LENS_MACS_PER_STROKE", macs - 1)
    p = lens.payload(net)
    assert p["too_big"] and "5.7 million multiply-adds per digit" in p["reason"]
    assert "MB of weights" not in p["reason"]


def test_an_unsupported_layer_is_not_called_too_big() -> None:
    layers = [{"name": "up", "type": "upsample"}]
    net = npforward.NumpyNet("odd", layers, {"w": np.zeros(3, np.float32)}, {})
    p = lens.payload(net)
    assert not p["supported"] and not p["too_big"] and "upsample" in p["reason"]
