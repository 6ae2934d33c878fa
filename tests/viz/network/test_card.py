"""Hostile checkpoints are refused from their header alone, with a message naming the problem."""

from __future__ import annotations

import json

import numpy as np
import pytest

from viz import limits
from viz.network import card as C
from viz.network import npforward
from viz.teaching.lab import analyse, rows_to_layers

SMALL = rows_to_layers([{"type": "conv", "kernel": 3, "channels": 4}, {"type": "relu"},
                        {"type": "maxpool"}, {"type": "flatten"}, {"type": "linear"}])


def raw(header: dict, body: bytes = b"") -> bytes:
    """A safetensors file with exactly this header (no check of its sense)."""
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + body


def pack(layers: list[dict], arch: str = "mine", tensors: dict | None = None,
         card: dict | None = None) -> bytes:
    """A well-formed file whose tensors are those ``layers`` imply (or ``tensors``)."""
    if tensors is None:
        rng = np.random.default_rng(0)
        tensors = {name: (rng.normal(size=shape).astype(np.float32) if dtype == "F32"
                          else np.zeros(shape, np.int64))
                   for name, (dtype, shape) in C.expected_tensors(layers).items()}
    header: dict = {"__metadata__": {"model_card": json.dumps(
        card if card is not None else {"arch": arch, "layers": layers})}}
    body, pos = b"", 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        dtype = {"float32": "F32", "int64": "I64", "float64": "F64"}[str(a.dtype)]
        header[name] = {"dtype": dtype, "shape": list(a.shape),
                        "data_offsets": [pos, pos + a.nbytes]}
        body += a.tobytes()
        pos += a.nbytes
    return raw(header, body)


def refused(data: bytes, match: str) -> str:
    with pytest.raises(C.CardError, match=match) as info:
        C.read(data, "evil.safetensors")
    message = str(info.value)
    assert message.startswith("evil.safetensors: ") and len(message) < 600
    return message


def test_a_good_file_reads_and_runs() -> None:
    card, tensors, report = C.read(pack(SMALL), "ok")
    assert card["arch"] == "mine" and report.params == analyse(SMALL).params == 4 * 9 + 4 + 676 * 10 + 10
    assert tensors["conv1.weight"].shape == (4, 1, 3, 3)
    net = npforward.NumpyNet(card["arch"], card["layers"], tensors, card)
    out = npforward.forward(net, np.zeros((28, 28), np.uint8))
    assert out["fc1"].shape == (10,)


def test_the_420_byte_card_of_60000_channels_is_refused_by_the_limits() -> None:
    layers = [{"name": "conv1", "type": "conv", "in": 1, "out": 60000, "kernel": 3},
              {"name": "conv2", "type": "conv", "in": 60000, "out": 60000, "kernel": 3},
              {"name": "head", "type": "conv", "in": 60000, "out": 10, "kernel": 24},
              {"name": "flatten", "type": "flatten"}]
    data = raw({"__metadata__": {"model_card": json.dumps({"arch": "x", "layers": layers})}})
    assert len(data) < 600
    message = refused(data, "too big: 32,746,260,010 parameters and 18,663 GMAC per image and "
                            "75,120,020 activation values per image")
    assert ("5,000,000 parameters, 2 GMAC per image, 4,000,000 activation values per image "
            "across all layers and 100 layers") in message


def test_two_6000_channel_convs_and_a_deep_card_name_the_limits() -> None:
    wide = rows_to_layers([{"type": "conv", "padding": 1, "channels": 6000},
                           {"type": "conv", "padding": 1, "channels": 6000},
                           {"type": "gap"}, {"type": "conv", "kernel": 1, "channels": 10},
                           {"type": "flatten"}])
    refused(pack(wide, tensors={}), r"324,\d{3},\d{3} parameters and \d+ GMAC.*5,000,000")
    deep = ([{"name": f"relu{i}", "type": "relu"} for i in range(1, 201)]  # (the lab refuses
            + [{"name": "flatten", "type": "flatten"},  # a table this deep before reading it)
               {"name": "fc1", "type": "linear", "in": 784, "out": 10}])
    refused(pack(deep, tensors={}), "202 layers; this server takes networks of up to")


@pytest.mark.parametrize("change, match", [
    ({"out": 0}, "out must be between 1 and"),
    ({"kernel": -3}, "kernel must be between 1 and"),
    ({"padding": -1}, "padding must be between 0 and"),
    ({"kernel": 3.5}, "kernel must be a whole number, not 3.5"),
    ({"kernel": True}, "kernel must be a whole number, not True"),
    ({"stride": "2"}, "stride must be a whole number"),
    ({"kernel": 10**30}, "kernel must be between 1 and 128"),
    ({"bias": "yes"}, "bias must be true or false"),
    ({"padding_mode": "reflect"}, "a conv layer has no 'padding_mode'"),
    ({"groups": 2}, r"groups 2 must divide both its input channels \(in 1\)"),
    ({"groups": 0}, "groups must be between 1 and"),
    ({"groups": 1.5}, "groups must be a whole number"),
    ({"type": "lstm"}, "unknown layer type 'lstm'"),
    ({"name": "x" * 10_000}, "its name must be 1 to 64 letters"),
    ({"name": "conv\udcff"}, "its name must be 1 to 64"),
    ({"name": "a.b"}, "its name must be"),
    ({"name": "fc1"}, "two layers are named 'fc1'"),
    ({"in": 3}, "reads 3 channels, but the layer before it makes 1"),
    ({"kernel": 40}, "kernel .* is larger than its padded input"),
])
def test_bad_layer_records(change: dict, match: str) -> None:
    layers = [dict(SMALL[0], **change)] + SMALL[1:]
    refused(pack(layers, tensors={}), match)


def test_records_that_do_not_chain_or_end_in_ten_outputs() -> None:
    layers = [dict(rec) for rec in SMALL]
    layers[-1]["in"] = 700
    refused(pack(layers, tensors={}), "reads 700 features, but the layer before it makes 676")
    layers = SMALL[:-2] + [{"name": "g", "type": "gap"}]
    refused(pack(layers, tensors={}), "must end with 10 outputs")
    refused(pack(SMALL[:1] + SMALL[3:4] + [dict(SMALL[0], name="c2")] + SMALL[4:], tensors={}),
            "after flatten only linear")


def test_shapes_and_dtypes_that_disagree_with_the_card() -> None:
    ok = dict(zip(C.expected_tensors(SMALL), [np.zeros(s, np.float32) for _, s in
                                                  C.expected_tensors(SMALL).values()]))
    wrong = dict(ok, **{"conv1.weight": np.zeros((4, 1, 5, 5), np.float32)})
    refused(pack(SMALL, tensors=wrong), r"conv1.weight is \(4, 1, 5, 5\), the architecture "
                                        r"needs \(4, 1, 3, 3\)")
    wide = dict(ok, **{"fc1.bias": np.zeros(10, np.float64)})
    refused(pack(SMALL, tensors=wide), "fc1.bias is F64, the architecture needs F32")
    extra = dict(ok, **{"y" * 5000: np.zeros(1, np.float32)})
    message = refused(pack(SMALL, tensors=extra), "unexpected yyyy")
    assert len(message) < 300
    missing = {k: v for k, v in ok.items() if k != "conv1.bias"}
    refused(pack(SMALL, tensors=missing), "missing conv1.bias")


def test_lying_headers() -> None:
    good = pack(SMALL)
    n = int.from_bytes(good[:8], "little")
    header = json.loads(good[8:8 + n])
    header["conv1.weight"]["data_offsets"][1] += 4
    refused(raw(header, good[8 + n:]), "needs 144 bytes, but its offsets span 148")
    header = json.loads(good[8:8 + n])
    header["conv1.weight"]["shape"] = [4, 1, 3, -3]
    refused(raw(header, good[8 + n:]), "a shape is a list of at most 8 sizes")
    refused(good[:-10], "truncated")
    refused((2_000_000).to_bytes(8, "little") + b"{" * 100, "headers of at most 1,000,000")
    refused(b"\xff" * 8 + b"x" * 100, "not a checkpoint")
    refused(raw({"__metadata__": {"model_card": "[" * 50_000}}), "model card is not valid JSON")
    text = b'{"__metadata__": {"model_card": "{}"}, "\xff\xfe": 1}'
    refused(len(text).to_bytes(8, "little") + text, "not a checkpoint")
    refused(raw({"__metadata__": {"model_card": json.dumps({"arch": "<b>" * 30,
                                                             "layers": SMALL})}}),
            "architecture name must be 1 to 64")


def test_nan_and_infinite_weights_are_refused_by_name() -> None:
    tensors = {name: np.ones(shape, np.float32 if dtype == "F32" else np.int64)
               for name, (dtype, shape) in C.expected_tensors(SMALL).items()}
    tensors["conv1.weight"][0, 0, 0, :2] = np.nan
    tensors["fc1.bias"][3] = np.inf
    refused(pack(SMALL, tensors=tensors),
            r"NaN or infinite weights in conv1.weight \(2 of 36\), fc1.bias \(1 of 10\)")


def test_the_lab_refuses_a_table_over_the_limits_with_the_same_message() -> None:
    report = analyse(rows_to_layers([{"type": "conv", "padding": 1, "channels": 3000},
                                     {"type": "conv", "padding": 1, "channels": 3000},
                                     {"type": "gap"}, {"type": "flatten"}, {"type": "linear"}]))
    with pytest.raises(C.CardError, match=f"this network is too big: .*; {C.LIMITS}"):
        C.check_limits(report)


def test_header_only_reads_and_shipped_checkpoints_pass() -> None:
    from pathlib import Path
    root = Path(__file__).resolve().parents[3] / "checkpoints"
    for path in root.glob("*.safetensors"):
        card, table = C.read_header_file(path)
        report = C.validate_card(card, table, path.name)
        assert report.params == card.get("params", report.params)
        assert C.read(path.read_bytes(), path.name)[0] == card


def wide(channels: int) -> list[dict]:
    """One 1x1 conv of ``channels`` on the 28x28 input, then gap and a 1x1 head: 785 *
    channels + 20 activation values per image, few parameters and MACs."""
    return rows_to_layers([{"type": "conv", "kernel": 1, "channels": channels}, {"type": "gap"},
                           {"type": "conv", "kernel": 1, "channels": 10}, {"type": "flatten"}])


def test_the_activation_limit_takes_a_network_just_under_and_names_one_just_over() -> None:
    from viz.network.layers import activation_elements
    under, over = analyse(wide(5095)), analyse(wide(5096))
    assert activation_elements(list(under.layers)) == 3_999_595 <= limits.NETWORK_ACTIVATIONS
    assert activation_elements(list(over.layers)) == 4_000_380 > limits.NETWORK_ACTIVATIONS
    # only this limit binds
    assert under.params < limits.NETWORK_PARAMS and over.macs < limits.NETWORK_MACS_PER_IMAGE
    C.check_limits(under)
    with pytest.raises(C.CardError) as info:
        C.check_limits(over)
    assert str(info.value) == (f"this network is too big: 4,000,380 activation values per "
                               f"image; {C.LIMITS}.")
    # a file is refused from its header, with the same message
    card, _, report = C.read(pack(wide(5095)), "under.safetensors")
    assert report == under and card["layers"] == wide(5095)
    refused(pack(wide(5096), tensors={}), "its network is too big: 4,000,380 activation values "
                                          "per image; this server takes")


def test_every_zoo_network_and_the_trained_seed_original_pass_the_limits() -> None:
    from pathlib import Path

    from model.architectures import ARCHITECTURES
    from viz.network.layers import activation_elements
    counts = {}
    for name, arch in ARCHITECTURES.items():
        report = analyse(arch.layers())
        C.check_limits(report)
        counts[name] = activation_elements(list(report.layers))
    assert counts["seed"] == 254_036 and counts["seed-original"] == 1_988_244
    assert max(counts.values()) == counts["seed-original"] < limits.NETWORK_ACTIVATIONS / 2
    # the GPU-trained checkpoint beside the clone (../shared/checkpoints), when it is there
    path = Path(__file__).resolve().parents[4] / "shared" / "checkpoints" / "seed-original.safetensors"
    if not path.is_file():
        pytest.skip("the trained seed-original checkpoint is not on this machine")
    card, table = C.read_header_file(path)
    assert C.validate_card(card, table, path.name).params == 4_155_626
