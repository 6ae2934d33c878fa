"""The lens payload: layer rows with the engine's receptive fields, weights that decode exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from viz.browser import lens
from viz.network import npforward
from viz.receptive_field import compute
from viz.teaching import lab

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def seed() -> npforward.NumpyNet:
    return npforward.load(ROOT / "checkpoints" / "seed.safetensors")


def test_payload_is_json_and_supported(seed) -> None:
    p = lens.payload(seed)
    again = json.loads(json.dumps(p))
    assert again == p
    assert p["supported"] and p["reason"] is None
    assert p["arch"] == "seed" and p["input"] == [28, 28]
    assert (p["mean"], p["std"], p["bn_eps"]) == (npforward.MEAN, npforward.STD, 1e-5)
    assert [r["name"] for r in p["layers"]] == [r["name"] for r in seed.layers]
    assert p["id"] == lens.payload(seed)["id"]  # stable


def test_weights_decode_exactly(seed) -> None:
    p = lens.payload(seed)
    floats = {k: v for k, v in seed.tensors.items() if v.dtype.kind == "f"}
    assert set(p["weights"]) == set(floats)  # BatchNorm's int64 step counters are left out
    for name, entry in p["weights"].items():
        np.testing.assert_array_equal(lens.decode(entry), floats[name])
    # 4 bytes per number, base64: the text is 4/3 of the bytes
    n = sum(v.size for v in floats.values())
    assert sum(len(e["b64"]) for e in p["weights"].values()) == pytest.approx(n * 4 * 4 / 3, rel=1e-3)


def test_rows_carry_the_engines_field(seed) -> None:
    p = lens.payload(seed)
    fields = compute({"input_size": [28, 28], "layers": seed.layers})
    report = lab.analyse(seed.layers)
    by_name = {r["name"]: r for r in p["layers"]}
    assert by_name["conv3"]["rf"] == {"r": [7, 7], "S": [1, 1], "P": [3, 3], "size": [28, 28],
                                      "global": False}
    assert by_name["pool"]["rf"]["S"] == [2, 2] and by_name["pool"]["shape"] == [8, 14, 14]
    assert by_name["head"]["rf"]["r"] == [54, 54] and by_name["head"]["shape"] == [10, 1, 1]
    assert by_name["flatten"]["rf"]["global"] and by_name["flatten"]["shape"] == [10]
    for row, f, rep in zip(p["layers"], fields, report.layers):
        assert row["shape"] == list(rep.shape)
        assert row["macs"] == rep.macs
        if f.is_global:
            continue
        h, w = f.output_size
        for y, x in [(0, 0), (h - 1, w - 1), (h // 2, w // 3)]:
            r = f.region(y, x)
            assert lens.unit_bounds(row, y, x) == (r.h.start, r.h.end, r.w.start, r.w.end)
    assert sum(r["macs"] for r in p["layers"]) == report.macs


def test_rows_say_how_the_browser_takes_gradients(seed) -> None:
    """Each row names its type's backward op, Guided Backprop and DeepLift rules (the browser's
    attribution reads them) and its field's side as the views read it (Occlusion's window)."""
    from viz.network.layers import describe
    from viz.network.layertypes import TYPES
    p = lens.payload(seed)
    for row, info in zip(p["layers"], describe(seed.layers)):
        t = TYPES[row["type"]]
        assert (row["backward"], row["guided"], row["deeplift"]) == (
            t.browser_backward, t.guided, t.deeplift)
        assert row["reach"] == info.r
    by_name = {r["name"]: r for r in p["layers"]}
    assert by_name["relu5"]["reach"] == 11 and by_name["flatten"]["reach"] == 54
    assert (by_name["relu1"]["guided"], by_name["relu1"]["deeplift"]) == ("positive", "rescale")
    assert by_name["pool"]["deeplift"] == "maxpool"


def test_valid_convs_have_no_padding() -> None:
    net = npforward.load(ROOT / "checkpoints" / "compact.safetensors")
    rows = {r["name"]: r for r in lens.payload(net)["layers"]}
    assert rows["conv1"]["rf"]["P"] == [0, 0] and rows["conv1"]["shape"] == [8, 26, 26]
    assert lens.unit_bounds(rows["conv3"], 0, 0) == (0, 6, 0, 6)
    assert rows["gap"]["rf"]["global"]
    assert lens.unit_bounds(rows["gap"], 0, 0) == (0, 27, 0, 27)


@pytest.mark.parametrize("rec, words", [
    ({"name": "up", "type": "upsample"}, "'upsample'"),
    ({"name": "c", "type": "conv", "in": 1, "out": 2, "kernel": 3, "padding_mode": "zeros"},
     "padding_mode"),
    ({"name": "c", "type": "conv", "in": 1, "out": 2, "kernel": [3, 5]}, "kernel [3, 5]"),
    ({"name": "p", "type": "maxpool", "kernel": 2, "padding": "same"}, "padding 'same'"),
])
def test_unsupported_layers_give_a_reason(rec, words: str) -> None:
    reason = lens.unsupported_reason([rec])
    assert reason is not None and words in reason
    net = npforward.NumpyNet("x", [rec], {})
    p = lens.payload(net)
    assert not p["supported"] and words in p["reason"]


def test_every_zoo_layer_type_is_supported() -> None:
    for path in sorted((ROOT / "checkpoints").glob("*.safetensors")):
        assert lens.unsupported_reason(npforward.load(path).layers) is None, path.stem
