"""ONNX networks as checkpoints: exported from torch (TorchScript and dynamo exporters) and from
Keras (its own exporter, torch backend), converted, and compared with onnxruntime; hostile
files refused in one line; the commands. The exported files are committed
(tests/fixtures/pytorch/make_onnx.py and tests/fixtures/keras/make_keras.py wrote them); one
network is exported here live by each torch exporter, and one by Keras in
tests/model/files/test_keras_import.py."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")
from onnx import TensorProto, helper  # noqa: E402
from torch import nn  # noqa: E402

from model import importer, predict  # noqa: E402
from model.files.checkpoint import load_checkpoint, read_network, torch_model  # noqa: E402
from model.files.imported import to_checkpoint  # noqa: E402
from model.files.onnx_import import read_onnx  # noqa: E402
from model.store import CHECKPOINT_DIR, load_samples  # noqa: E402
from tests.fixtures.pytorch.onnx_nets import (  # noqa: E402,F401 (the benchmarks import them here)
    EXPORTERS,
    NETS,
    FlatCNN,
    PReLUELU,
    Residual,
    export,
    randomise,
)
from viz.inputs.preprocess import MEAN, STD  # noqa: E402
from viz.inputs.scaling import SCALES, scale_of  # noqa: E402
from viz.network import npforward  # noqa: E402
from viz.network.card import CardError  # noqa: E402

ONNX_FILES = Path(__file__).resolve().parents[2] / "fixtures" / "pytorch" / "onnx"
KERAS_FILES = Path(__file__).resolve().parents[2] / "fixtures" / "keras"


@pytest.fixture(scope="module")
def exported() -> dict[tuple[str, str], Path]:
    """Each network of ``NETS`` by each exporter: the committed files (make_onnx.py wrote them;
    :func:`test_a_live_export_equals_onnxruntime` exports one network here)."""
    out = {(name, exporter): ONNX_FILES / f"{name}-{exporter}.onnx"
           for name in NETS for exporter in EXPORTERS}
    missing = [p.name for p in out.values() if not p.is_file()]
    assert not missing, f"run python -m tests.fixtures.pytorch.make_onnx: {missing} missing"
    return out


def _files(path: Path) -> dict[str, bytes]:
    files = {path.name: path.read_bytes()}
    data = path.with_name(path.name + ".data")
    if data.exists():
        files[data.name] = data.read_bytes()
    return files


def _probs_ort(path: Path, pixels: np.ndarray, scale: str) -> np.ndarray:
    sess = ort.InferenceSession(str(path))
    inp = sess.get_inputs()[0]
    mean, std = SCALES["raw" if scale == "inside" else scale]
    x = ((pixels.astype(np.float32) / 255.0 - mean) / std).astype(np.float32)
    batch = inp.shape[0] if isinstance(inp.shape[0], int) else len(pixels)
    dims = [d for d in inp.shape[1:]]
    outs = [sess.run(None, {inp.name: x[i:i + batch].reshape(batch, *dims)})[0]
            for i in range(0, len(x), batch)]
    y = np.concatenate(outs).astype(np.float64)
    if y.min() < 0 or np.abs(y.sum(1) - 1).max() > 1e-3:  # logits or log-probabilities
        y = np.exp(y - y.max(1, keepdims=True))
        y /= y.sum(1, keepdims=True)
    return y


DIFFS: dict[tuple[str, str], float] = {}


@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.parametrize("net", list(NETS))
def test_probabilities_equal_onnxruntime(exported, net: str, exporter: str) -> None:
    DIFFS[net, exporter] = _equals_onnxruntime(exported[net, exporter], net, exporter)


@pytest.mark.slow
@pytest.mark.parametrize("exporter", EXPORTERS)
def test_a_live_export_equals_onnxruntime(tmp_path: Path, exporter: str) -> None:
    """torch.onnx's current output (the committed files are an earlier one's): the network with
    the most kinds of layer exported here, read and compared as the committed ones are."""
    torch.manual_seed(0)
    model = randomise(PReLUELU())
    path = export(model, NETS["prelu-elu"][1], tmp_path / f"prelu-elu-{exporter}.onnx", exporter)
    DIFFS["prelu-elu", f"{exporter} (live)"] = _equals_onnxruntime(path, "prelu-elu", exporter)


def _equals_onnxruntime(path: Path, net: str, exporter: str) -> float:
    """Checks the file of network ``net`` converts, with the layers its kind needs, and gives
    onnxruntime's probabilities through the numpy and torch paths; returns the largest
    difference of the numpy path."""
    images, labels = load_samples()
    pixels = images[:8]
    scale = "inside" if net == "nhwc" else "mnist"
    imp = read_onnx(_files(path), path.name)
    assert (imp.inside is not None) == (net == "nhwc")
    conv = to_checkpoint(imp, "unit" if net == "nhwc" else "mnist", (images, labels))
    if net == "nhwc":  # "unit" into a network that divides by 255 itself
        assert conv.card["input_scale"] == "unit"
        conv = to_checkpoint(imp, "raw", (images, labels))  # raw pixels in: its own scaling
        assert conv.card["input_scale"] == "inside"
    assert conv.card["input_layout"] == {"concat": "NHW", "mlp": "flat",
                                         "nhwc": "NHWC"}.get(net, "NCHW")
    netw = read_network(conv.data)
    last = netw.layers[-1]["name"]
    ours = np.stack([npforward.softmax(npforward.forward(netw, im)[last]) for im in pixels])
    ref = _probs_ort(path, pixels, scale)
    diff = float(np.abs(ours - ref).max())
    assert diff < 1e-4
    model = torch_model(netw)  # the torch paths: MNIST-normalised digits in, the card's scaling
    with torch.no_grad():
        x = (torch.from_numpy(pixels).float()[:, None] / 255.0 - MEAN) / STD
        got = torch.softmax(model(x), 1).numpy()
    assert np.abs(got - ref).max() < 1e-4
    kinds = [r["type"] for r in netw.layers]
    if net == "residual":
        assert "add" in kinds
    if net == "concat":
        assert "concat" in kinds and ("gmp" in kinds or "maxpool" in kinds)
    if net == "bn" and exporter == "torchscript":
        assert "leakyrelu" in kinds and "avgpool" in kinds
    if net == "mlp":
        assert kinds[0] == "flatten" and "tanh" in kinds and "sigmoid" in kinds
    if net == "prelu-elu":
        assert kinds == ["conv", "prelu", "conv", "elu", "prelu", "flatten", "linear", "prelu",
                         "elu", "linear"]
        assert [r.get("num_parameters") for r in netw.layers if r["type"] == "prelu"] == \
            [6, 1, 16]
    return diff


@pytest.fixture(scope="module")
def keras_exported() -> Path:
    """Keras's own ONNX export (torch backend) of a Sequential CNN with BatchNorm, of a residual
    network and of a one-sided padding: the committed files (tests/fixtures/keras/make_keras.py
    wrote them; tests/model/files/test_keras_import.py exports the residual one live)."""
    return KERAS_FILES


@pytest.mark.parametrize("net", ["batchnorm", "residual"])
def test_keras_export_equals_onnxruntime(keras_exported, net: str) -> None:
    DIFFS[net, "keras"] = keras_onnx_equals_onnxruntime(keras_exported / f"{net}.onnx", net)


def keras_onnx_equals_onnxruntime(path: Path, net: str) -> float:
    """Checks Keras's ONNX export of case ``net`` ("batchnorm" or "residual") converts to the
    layers it should and gives onnxruntime's probabilities; returns the largest difference."""
    images, labels = load_samples()
    imp = read_onnx(_files(path), path.name)
    conv = to_checkpoint(imp, "unit", (images, labels))
    assert conv.card["input_layout"] == "NHWC" and conv.card["input_scale"] == "unit"
    netw = read_network(conv.data)
    pixels = images[:16]
    ours = np.stack([npforward.softmax(npforward.forward(netw, im)[netw.layers[-1]["name"]])
                     for im in pixels])
    ref = _probs_ort(path, pixels, "unit")
    assert np.abs(ref - 0.1).max() > 0.05  # far from uniform: the comparison can fail
    diff = float(np.abs(ours - ref).max())
    assert diff < 1e-4
    kinds = [r["type"] for r in netw.layers]
    pools = [r for r in netw.layers if r["type"] == "maxpool"]
    if net == "batchnorm":  # conv, its BatchNorm (Sub/Mul/Add), ..., the dense BatchNorm folded
        assert kinds == ["conv", "bn", "relu", "conv", "bn", "leakyrelu", "avgpool", "maxpool",
                         "flatten", "linear", "tanh", "linear"]
    else:  # the conv biases folded (Keras adds them after the transpose), one bn, the join
        assert kinds == ["conv", "relu", "conv", "bn", "add", "relu", "maxpool", "conv",
                         "flatten", "linear"]
        assert all(r.get("bias") for r in netw.layers if r["type"] == "conv")
    # 'same' pooling with a stride: Keras pads (0, 1) with a Pad node; here ceil mode
    assert pools[-1]["padding"] == 0 and pools[-1].get("ceil_mode") is True
    return diff


def test_keras_export_one_sided_conv_padding_refused(keras_exported) -> None:
    path = keras_exported / "asymmetric.onnx"
    with pytest.raises(CardError) as info:
        read_onnx(_files(path), path.name)
    assert "padded 0 before and 1 after" in str(info.value) and "\n" not in str(info.value)


def test_report_table() -> None:
    """Prints the exporters x networks table of the largest probability difference."""
    for (net, exporter), diff in sorted(DIFFS.items()):
        print(f"{net:10s} {exporter:12s} {diff:.2e}")
    assert all(d < 1e-4 for d in DIFFS.values())


# ---------------------------------------------------------------------------------------------
# The input scaling found on the shipped samples
# ---------------------------------------------------------------------------------------------

def test_scaling_found_for_a_shipped_network_rescaled(tmp_path) -> None:
    model, _ = load_checkpoint(CHECKPOINT_DIR / "fast.safetensors")
    conv1 = model.conv1
    assert conv1.padding == (0, 0)  # an input offset folds exactly into an unpadded conv
    mean, std = SCALES["symmetric"]
    with torch.no_grad():  # x_mnist = x_sym * std/STD + (mean - MEAN)/STD
        w = conv1.weight.clone()
        conv1.weight.mul_(std / STD)
        conv1.bias.add_(w.sum((1, 2, 3)) * (mean - MEAN) / STD)
    path = export(model, (1, 28, 28), tmp_path / "fast-symmetric.onnx", "torchscript")
    conv = importer.convert(_files(path), path.name)
    acc = conv.scale_accuracy
    assert conv.card["input_scale"] == "symmetric"
    print(acc)
    assert acc["symmetric"] >= 0.97 and max(v for k, v in acc.items() if k != "symmetric") < \
        acc["symmetric"]
    given = importer.convert(_files(path), path.name, "mnist")
    assert given.card["input_scale"] == "mnist" and given.card["scale_chosen"] == "given"


def test_scaling_inside_the_network_found(tmp_path) -> None:
    model, _ = load_checkpoint(CHECKPOINT_DIR / "fast.safetensors")

    class Raw(nn.Module):  # NHWC 0..255 pixels, scaled by the network itself
        def __init__(self) -> None:
            super().__init__()
            self.net = model

        def forward(self, x):
            return self.net((x.permute(0, 3, 1, 2) / 255.0 - MEAN) / STD)

    path = export(Raw().eval(), (28, 28, 1), tmp_path / "raw.onnx", "torchscript")
    conv = importer.convert(_files(path), path.name)
    assert conv.card["input_scale"] == "inside"
    assert conv.scale_accuracy["inside"] >= 0.97 > conv.scale_accuracy["mnist"]
    assert scale_of(conv.card) == pytest.approx((MEAN, STD))  # the same numbers as the zoo's


# ---------------------------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------------------------

def test_importer_and_predict_commands(exported, tmp_path, capsys) -> None:
    src = exported["residual", "dynamo"]
    out = tmp_path / "res.safetensors"
    assert importer.main([str(src), "--out", str(out), "--input-scale", "unit"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"source", "format", "out", "input_scale", "scale_accuracy", "params",
                        "macs", "layers", "scale_likelihood", "scale_close"}
    assert doc["format"] == "onnx" and doc["input_scale"] == "unit" and doc["out"] == str(out)
    assert set(doc["scale_accuracy"]) == {"unit", "mnist", "symmetric", "raw"}
    first = doc["layers"][0]
    assert first["type"] == "conv" and first["rf"] == [3, 3] and first["stride"] == [2, 2]
    assert first["inputs"] == ["input"] and first["output_shape"] == [8, 14, 14]
    add = next(la for la in doc["layers"] if la["type"] == "add")
    assert len(add["inputs"]) == 2 and add["rf"] == [11, 11]
    assert doc["layers"][-1]["global"] is True and doc["layers"][-1]["rf"] is None
    assert doc["params"] == sum(p.numel() for p in Residual().parameters())
    images, _ = load_samples()
    npy = tmp_path / "digits.npy"
    np.save(npy, images[:4])
    assert predict.main([str(out), "--images", str(npy)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    ref = _probs_ort(src, images[:4], "unit")
    assert [d["index"] for d in lines] == [0, 1, 2, 3]
    for d, r in zip(lines, ref):
        assert np.abs(np.array(d["probs"]) - r).max() < 1e-4
        assert d["prediction"] == int(np.argmax(r))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a network at all")
    assert importer.main([str(bad)]) == 2
    assert "not an ONNX model" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Hostile files
# ---------------------------------------------------------------------------------------------

def tiny(nodes=None, inits=None, shape=(None, 1, 28, 28), outputs=10, extra=None) -> bytes:
    """A valid small ONNX network (flatten + Gemm), or one with the given changes."""
    rng = np.random.default_rng(0)
    n_in = math.prod(d for d in shape[1:])
    w = helper.make_tensor("w", TensorProto.FLOAT, (outputs, n_in),
                           rng.standard_normal(outputs * n_in).astype(np.float32).tobytes(),
                           raw=True)
    nodes = nodes if nodes is not None else [
        helper.make_node("Flatten", ["x"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "w"], ["y"], transB=1)]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *shape[1:]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", outputs])],
        (inits if inits is not None else [w]) + (extra or []))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]
                             ).SerializeToString()


def _raw(name: str, dims: tuple[int, ...], data: bytes) -> TensorProto:
    t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims)
    t.raw_data = data
    return t


def _hostile(exported) -> dict[str, tuple[dict[str, bytes], str]]:
    dyn = exported["flat-cnn", "dynamo"]
    ts = exported["flat-cnn", "torchscript"].read_bytes()
    outside = onnx.load_from_string(dyn.read_bytes())
    for t in outside.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "../../etc/" + e.value
    nan = onnx.load_from_string(ts)
    a = onnx.numpy_helper.to_array(nan.graph.initializer[0]).copy()
    a.flat[0] = np.nan
    nan.graph.initializer[0].CopyFrom(onnx.numpy_helper.from_array(a, nan.graph.initializer[0].name))
    relu = [helper.make_node("Relu", [f"r{i}"], [f"r{i + 1}"]) for i in range(100_000)]
    relu[0].input[0] = "x"
    relu[-1].output[0] = "y"
    if_node = helper.make_node("If", ["c"], ["y"], then_branch=helper.make_graph(
        [], "t", [], []), else_branch=helper.make_graph([], "e", [], []))
    return {
        "not ONNX": ({"a.onnx": b"\x00garbage that is no protobuf\xff" * 50}, "not an ONNX"),
        "truncated": ({"a.onnx": ts[: len(ts) // 2]}, "cut short"),
        "external data missing": ({"a.onnx": dyn.read_bytes()}, "not a file uploaded with it"),
        "external data elsewhere": ({"a.onnx": outside.SerializeToString(),
                                     dyn.name + ".data": b"\x00" * 10},
                                    "not a file uploaded with it"),
        "control flow (If)": ({"a.onnx": tiny([if_node], [])}, "control flow or subgraphs"),
        "custom domain": ({"a.onnx": tiny([helper.make_node("Evil", ["x"], ["y"],
                                                           domain="com.evil")])},
                          "custom op domain 'com.evil'"),
        "op outside the list": ({"a.onnx": tiny([helper.make_node("LSTM", ["x", "w", "w"],
                                                                  ["y"])])},
                                "op 'LSTM' is not supported"),
        "cycle": ({"a.onnx": tiny([helper.make_node("Relu", ["x2"], ["x1"]),
                                   helper.make_node("Add", ["x", "x1"], ["x2"]),
                                   helper.make_node("Flatten", ["x2"], ["f"]),
                                   helper.make_node("Gemm", ["f", "w"], ["y"], transB=1)])},
                  "cycle"),
        "100,000 nodes": ({"a.onnx": tiny(relu, [])}, "more than 2,000 nodes"),
        "declared size disagrees": ({"a.onnx": tiny(inits=[_raw("w", (10, 784), b"\0" * 400)])},
                                    "holds 400 bytes"),
        "initializer over the limits": ({"a.onnx": tiny(inits=[_raw("w", (100_000, 100_000),
                                                                    b"\0" * 400)])},
                                        "more than 10,000,000 numbers"),
        "wrong input 3x32x32": ({"a.onnx": tiny(shape=(None, 3, 32, 32))}, "Nx3x32x32"),
        "5 outputs": ({"a.onnx": tiny(outputs=5)}, "its output has 5 values"),
        "NaN weights": ({"a.onnx": nan.SerializeToString()}, "NaN or infinite weights"),
        "ELU of alpha 0.5": ({"a.onnx": tiny(_then("Elu", alpha=0.5))},
                             "an ELU with alpha 0.5; this app's ELU has alpha 1"),
        "PReLU slopes of 5 on 10": ({"a.onnx": tiny(_then("PRelu", "s"), extra=[
            _raw("s", (5,), np.ones(5, np.float32).tobytes())])},
            "a slope of shape [5] on a vector of 10 features"),
    }


def _then(op: str, *more: str, **attrs: float) -> list:
    """The tiny network's nodes with ``op`` after its dense layer."""
    return [helper.make_node("Flatten", ["x"], ["f"], axis=1),
            helper.make_node("Gemm", ["f", "w"], ["g"], transB=1),
            helper.make_node(op, ["g", *more], ["y"], **attrs)]


def test_hostile_files_refused_in_one_line(exported) -> None:
    for case, (files, words) in _hostile(exported).items():
        with pytest.raises(CardError) as info:
            read_onnx(files, "a.onnx")
        message = str(info.value)
        assert words in message, (case, message)
        assert "\n" not in message and message.startswith("a.onnx: "), (case, message)


def test_a_valid_tiny_network_is_read() -> None:
    """The hostile cases above are the tiny network with one thing changed; unchanged it reads."""
    imp = read_onnx({"a.onnx": tiny()}, "a.onnx")
    assert [r["type"] for r in imp.layers] == ["flatten", "linear"]
    assert imp.tensors[f"{imp.layers[1]['name']}.weight"].shape == (10, 784)
