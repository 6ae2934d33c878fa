"""ONNX files written by TensorFlow (Keras 3's ``model.export(format="onnx")``, tf2onnx from a
SavedModel, tf2onnx from tf_keras with and without its graph optimizers), trained on MNIST and
committed with the script that made them (tests/fixtures/tensorflow/make_onnx.py): each
imports, and the checkpoint it converts to gives onnxruntime's probabilities and Keras's own, in
numpy and in torch; a reshape that moves an axis longer than 1 is still refused; a bias added
on an NHWC map folds into the conv before it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")
from onnx import TensorProto, helper  # noqa: E402

from model import importer  # noqa: E402
from model.files.checkpoint import read_network, torch_model  # noqa: E402
from model.files.imported import to_checkpoint  # noqa: E402
from model.files.onnx_import import read_onnx  # noqa: E402
from model.store import load_samples  # noqa: E402
from viz.inputs.preprocess import MEAN, STD  # noqa: E402
from viz.network import npforward  # noqa: E402
from viz.network.card import CardError  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tensorflow"
WAYS = ("keras-export", "tf2onnx", "tf-keras", "tf-keras-raw")
SAMPLES = 16  # the digits the script saved Keras's probabilities of
# what a student wrote, as this app's layer types (tf2onnx folds a BatchNormalization into the
# convolution before it when that convolution has no bias; tf_keras's graph folds both, and
# with tf2onnx's optimizers off neither)
KINDS = {
    "convnet": ["conv", "relu", "maxpool", "conv", "relu", "maxpool", "flatten", "linear"],
    "bn-gap": ["conv", "relu", "maxpool", "conv", "bn", "relu", "maxpool", "conv", "relu",
               "gap", "flatten", "linear"],
}
FOLDED = {"bn-gap.tf-keras": [k for k in KINDS["bn-gap"] if k != "bn"],
          "bn-gap.tf-keras-raw": ["conv", "bn", *KINDS["bn-gap"][1:]]}
LAYOUT = {"convnet": "NHWC", "bn-gap": "NHW"}
CASES = [(net, way) for net in KINDS for way in WAYS]
DIFFS: dict[str, float] = {}


def _path(net: str, way: str) -> Path:
    return FIXTURES / f"{net}.{way}.onnx"


def _ort_probs(path: Path, pixels: np.ndarray) -> np.ndarray:
    """onnxruntime's output on uint8 digits scaled to [0, 1], in the file's input shape."""
    sess = ort.InferenceSession(str(path))
    inp = sess.get_inputs()[0]
    x = (pixels.astype(np.float32) / np.float32(255.0)).reshape(len(pixels), *inp.shape[1:])
    return sess.run(None, {inp.name: x})[0].astype(np.float64)


@pytest.mark.slow
@pytest.mark.parametrize(("net", "way"), CASES)
def test_tensorflow_onnx_equals_onnxruntime(net: str, way: str) -> None:
    path = _path(net, way)
    images, labels = load_samples()
    pixels = images[:SAMPLES]
    imp = read_onnx({path.name: path.read_bytes()}, path.name)
    assert imp.inside is None and imp.layout == LAYOUT[net]
    assert [r["type"] for r in imp.layers] == _kinds(net, way)
    conv = to_checkpoint(imp, "unit", (images, labels))  # trained on x/255
    assert conv.card["input_layout"] == LAYOUT[net] and conv.card["input_scale"] == "unit"
    assert conv.scale_accuracy["unit"] >= 0.85  # trained: the comparison below can fail
    netw = read_network(conv.data)
    last = netw.layers[-1]["name"]
    ours = np.stack([npforward.softmax(npforward.forward(netw, im)[last]) for im in pixels])
    ref = _ort_probs(path, pixels)
    keras_probs = np.load(FIXTURES / f"{net}.probs.npy")
    assert np.abs(ref - keras_probs).max() < 1e-4  # the file is the network Keras trained
    diff = float(np.abs(ours - ref).max())
    DIFFS[f"{net}.{way}"] = diff
    assert diff < 1e-4
    model = torch_model(netw)  # the torch paths: MNIST-normalised digits in, the card's scaling
    with torch.no_grad():
        x = (torch.from_numpy(pixels).float()[:, None] / 255.0 - MEAN) / STD
        got = torch.softmax(model(x), 1)
    assert np.abs(got.numpy() - ref).max() < 1e-4


def test_report_table() -> None:
    """Prints the largest probability difference of each file (after the test above)."""
    for name, diff in sorted(DIFFS.items()):
        print(f"{name:24s} {diff:.2e}")
    assert all(d < 1e-4 for d in DIFFS.values())


def _kinds(net: str, way: str) -> list[str]:
    return FOLDED.get(f"{net}.{way}", KINDS[net])


@pytest.mark.slow
@pytest.mark.parametrize(("net", "way"), CASES)
def test_importer_command_reads_tensorflow_onnx(net: str, way: str, tmp_path, capsys) -> None:
    out = tmp_path / "net.safetensors"
    assert importer.main([str(_path(net, way)), "--out", str(out)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "onnx" and out.exists()
    assert [la["type"] for la in doc["layers"]] == _kinds(net, way)
    if net == "convnet":
        assert doc["layers"][0]["output_shape"] == [16, 26, 26]
        assert doc["params"] == 16 * 9 + 16 + 32 * 16 * 9 + 32 + 800 * 10 + 10
    else:
        assert doc["layers"][0]["output_shape"] == [32, 28, 28]  # padding="same"
        assert doc["layers"][-3]["type"] == "gap" and doc["layers"][-3]["global"] is True


# ---------------------------------------------------------------------------------------------
# Reshapes of a map: a change of layout only where the axes moved are of length 1
# ---------------------------------------------------------------------------------------------

def _conv_then_reshape(target: list[int], channels: int = 4) -> bytes:
    """[N, 28, 28, 1] in, a reshape to [-1, 1, 28, 28] (a layout change), a 3x3 Conv, then a
    reshape of its [N, C, 26, 26] map to ``target``, a flatten and a dense layer."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((channels, 1, 3, 3)).astype(np.float32)
    fc = rng.standard_normal((10, channels * 26 * 26)).astype(np.float32)
    inits = [onnx.numpy_helper.from_array(w, "w"), onnx.numpy_helper.from_array(fc, "fc"),
             onnx.numpy_helper.from_array(np.array([-1, 1, 28, 28], np.int64), "nchw"),
             onnx.numpy_helper.from_array(np.array(target, np.int64), "target")]
    nodes = [helper.make_node("Reshape", ["x", "nchw"], ["a"], name="to_nchw"),
             helper.make_node("Conv", ["a", "w"], ["c"], kernel_shape=[3, 3]),
             helper.make_node("Reshape", ["c", "target"], ["r"], name="moved"),
             helper.make_node("Flatten", ["r"], ["f"]),
             helper.make_node("Gemm", ["f", "fc"], ["y"], transB=1)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 28, 28, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]
                             ).SerializeToString()


def test_reshape_moving_a_longer_axis_refused() -> None:
    with pytest.raises(CardError) as info:
        read_onnx({"a.onnx": _conv_then_reshape([-1, 26, 26, 4])}, "a.onnx")
    message = str(info.value)
    assert message.startswith("a.onnx: node 'moved' (Reshape): a reshape of a Nx4x26x26 map "
                              "to [-1, 26, 26, 4], which moves an axis longer than 1")
    assert "transpose it instead" in message and "\n" not in message


def test_reshape_of_length_one_axes_is_a_layout_change() -> None:
    """The same graph reshaping a one-channel map to NHWC: the flatten then reads (H, W, C),
    the same order as (C, H, W), and the records are the network onnxruntime runs."""
    data = _conv_then_reshape([-1, 26, 26, 1], channels=1)
    imp = read_onnx({"a.onnx": data}, "a.onnx")
    assert imp.layout == "NHWC"
    assert [r["type"] for r in imp.layers] == ["conv", "flatten", "linear"]
    images, labels = load_samples()
    conv = to_checkpoint(imp, "unit", (images, labels))
    netw = read_network(conv.data)
    sess = ort.InferenceSession(data)
    x = images[:4].astype(np.float32)[..., None] / np.float32(255.0)
    ref = sess.run(None, {"x": x})[0]
    ours = np.stack([npforward.forward(netw, im)[netw.layers[-1]["name"]] for im in images[:4]])
    assert np.abs(ours - ref).max() < 1e-3 * max(1.0, float(np.abs(ref).max()))


def test_bias_add_in_nhwc_folds_into_a_conv_that_has_a_bias() -> None:
    """NHWC in, a Transpose pair around a Conv with a bias, then a BiasAdd-style Add of [C]
    on the NHWC map, a Flatten of the NHWC map, MatMul + Add and a Softmax: one conv (both
    biases summed), the dense weights' rows permuted to the (C, H, W) order."""
    rng = np.random.default_rng(1)
    arr = onnx.numpy_helper.from_array
    inits = [arr(rng.normal(0, 0.5, (3, 1, 5, 5)).astype(np.float32), "w"),
             arr(rng.normal(0, 0.5, 3).astype(np.float32), "b"),
             arr(rng.normal(0, 0.5, 3).astype(np.float32), "bias_add"),
             arr(rng.normal(0, 0.05, (3 * 12 * 12, 10)).astype(np.float32), "fc"),
             arr(rng.normal(0, 0.5, 10).astype(np.float32), "fc_b")]
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["t", "w", "b"], ["c"], strides=[2, 2]),
             helper.make_node("Transpose", ["c"], ["u"], perm=[0, 2, 3, 1]),
             helper.make_node("Add", ["u", "bias_add"], ["a"]),
             helper.make_node("Relu", ["a"], ["r"]),
             helper.make_node("Flatten", ["r"], ["f"]),
             helper.make_node("MatMul", ["f", "fc"], ["m"]),
             helper.make_node("Add", ["m", "fc_b"], ["z"]),
             helper.make_node("Softmax", ["z"], ["s"], axis=-1),
             helper.make_node("Identity", ["s"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 28, 28, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], inits)
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]
                             ).SerializeToString()
    imp = read_onnx({"a.onnx": data}, "a.onnx")
    assert [r["type"] for r in imp.layers] == ["conv", "relu", "flatten", "linear"]
    conv = imp.layers[0]
    assert conv["bias"] is True
    np.testing.assert_allclose(imp.tensors[f"{conv['name']}.bias"],
                               onnx.numpy_helper.to_array(inits[1])
                               + onnx.numpy_helper.to_array(inits[2]), rtol=1e-6)
    images, labels = load_samples()
    netw = read_network(to_checkpoint(imp, "unit", (images, labels)).data)
    x = images[:8].astype(np.float32)[..., None] / np.float32(255.0)
    ref = ort.InferenceSession(data).run(None, {"x": x})[0]
    assert np.abs(ref - 0.1).max() > 0.05  # far from uniform: the comparison can fail
    ours = np.stack([npforward.softmax(npforward.forward(netw, im)[netw.layers[-1]["name"]])
                     for im in images[:8]])
    assert np.abs(ours - ref).max() < 1e-4
