"""The HDF5 reader: tutorial CNNs trained on MNIST and saved with ``model.save("x.h5")`` by
TensorFlow's Keras 3 and by Keras 2 (tf_keras) (tests/fixtures/tensorflow/make_h5.py, committed
with Keras's own predict probabilities on the sample digits) give those probabilities through
this project's checkpoint, in the numpy forward pass and in torch; weights-only files and
hostile files get a one-line message."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from model.files import h5_import
from model.files.imported import to_checkpoint
from model.store import load_samples
from viz.network.card import CardError

torch = pytest.importorskip("torch")

from model.files.checkpoint import read_network, torch_model  # noqa: E402
from viz.inputs.preprocess import MEAN, STD  # noqa: E402
from viz.network import npforward  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tensorflow"
FRAMEWORKS = ("keras3", "tf_keras")
NETWORKS = ("tutorial_cnn", "batchnorm", "classic")
CASES = [f"{fw}_{net}" for fw in FRAMEWORKS for net in NETWORKS]
TOLERANCE = 1e-4
# the layer table a student sees: (name, type) of each record, Keras's names
TABLES = {
    "tutorial_cnn": [("conv2d", "conv"), ("conv2d_relu", "relu"), ("max_pooling2d", "maxpool"),
                     ("conv2d_1", "conv"), ("conv2d_1_relu", "relu"),
                     ("max_pooling2d_1", "maxpool"), ("flatten", "flatten"),
                     ("dropout", "dropout"), ("dense", "linear")],
    "batchnorm": [("conv2d", "conv"), ("batch_normalization", "bn"), ("activation", "relu"),
                  ("max_pooling2d", "maxpool"), ("conv2d_1", "conv"),
                  ("batch_normalization_1", "bn"), ("activation_1", "relu"),
                  ("max_pooling2d_1", "maxpool"), ("flatten", "flatten"), ("dense", "linear"),
                  ("activation_2", "relu"), ("dropout", "dropout"), ("dense_1", "linear")],
    "classic": [("conv2d", "conv"), ("conv2d_relu", "relu"), ("max_pooling2d", "maxpool"),
                ("flatten", "flatten"), ("dense", "linear"), ("dense_relu", "relu"),
                ("dense_1", "linear")],
}
DIFFS: dict[str, float] = {}


def _data(case: str) -> bytes:
    return (FIXTURES / f"{case}.h5").read_bytes()


def _numpy_probs(net, count: int) -> np.ndarray:
    """The numpy forward's class probabilities of the first ``count`` shipped samples."""
    images, _ = load_samples()
    last = net.layers[-1]["name"]
    return np.stack([npforward.softmax(npforward.forward(net, im)[last])
                     for im in images[:count]])


@pytest.mark.parametrize("case", CASES)
def test_probabilities_equal_keras(case: str) -> None:
    keras_probs = np.load(FIXTURES / f"{case}.npy")
    images, labels = load_samples()
    pixels = images[: len(keras_probs)]
    imp = h5_import.read(_data(case), f"{case}.h5")
    assert imp.format == "h5" and imp.layout == "NHWC"
    assert imp.producer.startswith("Keras 3." if case.startswith("keras3") else "Keras 2.")
    conv = to_checkpoint(imp, "unit", (images, labels))  # trained on x/255, as the tutorials
    assert conv.card["input_scale"] == "unit" and conv.scale_accuracy["unit"] >= 0.95
    net = read_network(conv.data)
    ours = _numpy_probs(net, len(pixels))
    assert (keras_probs.argmax(1) == labels[: len(pixels)]).mean() >= 0.9  # a trained network
    diff = float(np.abs(ours - keras_probs).max())
    DIFFS[case] = diff
    assert diff <= TOLERANCE
    model = torch_model(net)  # the torch paths: MNIST-normalised digits in, the card's scaling
    with torch.no_grad():
        x = (torch.from_numpy(pixels).float()[:, None] / 255.0 - MEAN) / STD
        got = torch.softmax(model(x), 1).numpy()
    assert np.abs(got - keras_probs).max() <= TOLERANCE


@pytest.mark.parametrize("case", CASES)
def test_layer_table(case: str) -> None:
    imp = h5_import.read(_data(case), f"{case}.h5")
    net = case.split("_", 1)[1] if case.startswith("keras3") else case[len("tf_keras_"):]
    assert [(r["name"], r["type"]) for r in imp.layers] == TABLES[net]
    recs = {r["name"]: r for r in imp.layers}
    assert (recs["conv2d"]["in"], recs["conv2d"]["kernel"], recs["conv2d"]["padding"]) == (1, 3,
        1 if net == "batchnorm" else 0)
    assert all("inputs" not in r for r in imp.layers)  # a chain, as the student built it
    if net == "batchnorm":
        assert recs["conv2d"]["bias"] is False and recs["batch_normalization"]["channels"] == 8
    assert any("softmax" in note for note in imp.notes)


def test_importer_command_on_an_h5_file(tmp_path: Path, capsys) -> None:
    from model import importer

    assert importer.reader_for("NET.H5") is importer.reader_for("net.hdf5") is not None
    src = tmp_path / "tf_keras_tutorial_cnn.h5"
    src.write_bytes(_data("tf_keras_tutorial_cnn"))
    assert importer.main([str(src), "--input-scale", "unit"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "h5" and doc["input_scale"] == "unit"
    assert (tmp_path / "tf_keras_tutorial_cnn.safetensors").is_file()
    layers = {la["name"]: la for la in doc["layers"]}
    assert layers["conv2d"]["rf"] == [3, 3] and layers["conv2d"]["output_shape"] == [16, 26, 26]
    assert layers["max_pooling2d_1"]["rf"] == [10, 10] and layers["max_pooling2d_1"]["stride"] \
        == [4, 4]
    assert doc["layers"][-1]["output_shape"] == [10] and doc["layers"][-1]["global"] is True


@pytest.mark.parametrize("name", ["keras3_weights.weights.h5", "tf_keras_weights.h5"])
def test_weights_only_is_refused_saying_how_to_save(name: str) -> None:
    with pytest.raises(CardError) as info:
        h5_import.read((FIXTURES / name).read_bytes(), name)
    message = str(info.value)
    assert "holds no model_config (weights only: model.save_weights)" in message
    assert 'save the whole model with model.save("net.keras")' in message
    assert "\n" not in message


# ---------------------------------------------------------------------------------------------
# Hostile files: each made from a fixture with h5py, refused with a one-line message
# ---------------------------------------------------------------------------------------------

OK = "tf_keras_tutorial_cnn"


def edited(edit: Callable, case: str = OK) -> bytes:  # type: ignore[type-arg]
    """The fixture ``case`` after ``edit(h5py.File)`` on a copy in memory."""
    import h5py

    buf = io.BytesIO(_data(case))
    with h5py.File(buf, "r+") as f:
        edit(f)
    return buf.getvalue()


def _config(edit: Callable) -> Callable:  # type: ignore[type-arg]
    """An edit of the model config's layers (JSON) ``edit(layers)``."""
    def apply(f) -> None:  # type: ignore[no-untyped-def]
        config = json.loads(f.attrs["model_config"])
        edit(config["config"]["layers"])
        f.attrs["model_config"] = json.dumps(config)
    return apply


def _layer(layers: list, cls: str) -> dict:
    return next(la for la in layers if la["class_name"] == cls)


def _deep_names(depth: int) -> Callable:  # type: ignore[type-arg]
    """Groups nested ``depth`` deep, and the dense kernel's name leading into them."""
    def apply(f) -> None:  # type: ignore[no-untyped-def]
        deep = "/".join(["g"] * depth)
        group = f["model_weights/dense"]
        group.create_group(deep)
        group.attrs["weight_names"] = np.array([f"{deep}/kernel:0".encode(), b"dense/bias:0"])
    return apply


def _deep_aside(f) -> None:  # type: ignore[no-untyped-def]
    """Groups nested 600 deep (twice) where no weight's name leads (read: never walked)."""
    f.create_group("/".join(["g"] * 600))
    f["model_weights/dense"].create_group("/".join(["h"] * 600))


def _rewrite(path: str, **create) -> Callable:  # type: ignore[no-untyped-def,type-arg]
    """Write the dataset ``path`` again with h5py's create_dataset options ``create``."""
    def apply(f) -> None:  # type: ignore[no-untyped-def]
        value = f[path][()]
        del f[path]
        f.create_dataset(path, data=value, **create)
    return apply


def _external(tmp: Path) -> Callable:  # type: ignore[type-arg]
    def apply(f) -> None:  # type: ignore[no-untyped-def]
        path = "model_weights/dense/dense/bias:0"
        del f[path]
        f.create_dataset(path, shape=(10,), dtype="f4", external=[(str(tmp / "x.bin"), 0, 40)])
    return apply


def _heap_of(size: int) -> bytes:
    """The fixture with its first global heap (the strings: model_config, names) declaring
    ``size`` bytes, which HDF5 would allocate and fill past the file's end."""
    data = bytearray(_data(OK))
    at = data.find(b"GCOL\x01\x00\x00\x00")
    assert at >= 0
    data[at + 8: at + 16] = size.to_bytes(8, "little")
    return bytes(data)


BIAS = "model_weights/dense/dense/bias:0"
HOSTILE: dict[str, tuple[Callable, str]] = {  # type: ignore[type-arg]
    "groups nested 10,000 deep": (lambda tmp: edited(_deep_names(10_000)),
                                  "holds over 2,000 local heaps (one per group"),
    "a weight's name of 200 groups": (lambda tmp: edited(_deep_names(200)),
                                        "layer 'dense': a weight's name is over 256 characters"),
    "groups nested 20 deep": (lambda tmp: edited(_deep_names(20)),
                              "is 21 groups deep; Keras's are at most 8"),
    "model_config of 3 MB": (lambda tmp: edited(lambda f: f.attrs.__setitem__(
        "model_config", " " * 3_000_000)), "its model_config is over 2,000,000 bytes"),
    "model_config of 30 MB": (lambda tmp: edited(lambda f: f.attrs.__setitem__(
        "model_config", " " * 30_000_000)), "holds a global heap of 30,000,032 bytes"),
    "a heap declaring 1 TB": (lambda tmp: _heap_of(1 << 40),
                              "holds a global heap of 1,099,511,627,776 bytes"),
    "model_config nested 100,000 deep": (lambda tmp: edited(lambda f: f.attrs.__setitem__(
        "model_config", "[" * 100_000)), "model_config nests more than 64 levels deep"),
    "model_config of 1,000 strings": (lambda tmp: edited(lambda f: f.attrs.__setitem__(
        "model_config", np.array([b"x"] * 1_000))), "its model_config is (1000,) of"),
    "shape disagrees": (lambda tmp: edited(_config(lambda ls: _layer(ls, "Conv2D")["config"]
                                                   .__setitem__("filters", 5))),
                        "layer 'conv2d': weight 0 is 3x3x1x16 in the HDF5 file, its config "
                        "needs 3x3x1x5"),
    "filter outside the list": (lambda tmp: edited(_rewrite(BIAS, chunks=(10,), scaleoffset=4)),
                                "HDF5 filter 6; this server reads gzip, shuffle"),
    "external storage": (lambda tmp: edited(_external(tmp)), "points to data outside"),
    "bias resizable, one 1M chunk": (lambda tmp: edited(_rewrite(
        BIAS, chunks=(1 << 20,), maxshape=(None,), compression="gzip")), "resizable"),
    "Lambda layer": (lambda tmp: edited(_config(lambda ls: ls.insert(2, {
        "class_name": "Lambda", "config": {"name": "double", "function": [
            "4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMIAAAAfABkARQAUwApAk7pAgAAAKkAKQHaAXhyAgAAAHIC",
            None, None], "function_type": "lambda"}}))), "layer 'double' is a Lambda layer"),
    "custom layer class": (lambda tmp: edited(_config(lambda ls: _layer(ls, "Dropout")
                                                      .__setitem__("class_name", "MyDropout"))),
                           "layer 'dropout' is 'keras.layers'.'MyDropout', which this app does"),
    "custom initializer": (lambda tmp: edited(_config(lambda ls: _layer(ls, "Conv2D")["config"]
                                                      .__setitem__("kernel_initializer", {
                                                          "class_name": "MyInit",
                                                          "config": {}}))),
                           "holds a custom object None.'MyInit'"),
    "weight names of a thousand": (lambda tmp: edited(lambda f: f["model_weights/dense"].attrs
                                                      .__setitem__("weight_names",
                                                                   np.array([b"a"] * 1000))),
                                   "not a list of up to 8 names"),
    "a weight's soft link": (lambda tmp: edited(lambda f: (
        f["model_weights/dense/dense"].__delitem__("bias:0"),
        f["model_weights/dense/dense"].__setitem__("bias:0", __import__("h5py").SoftLink(
            "/optimizer_weights/Adam/m/dense/bias:0")))), "'bias:0' is missing or a link"),
    "not HDF5": (lambda tmp: b"PK\x03\x04" + b"\0" * 100, "not an HDF5 file"),
    "no model_config": (lambda tmp: edited(lambda f: f.attrs.__delitem__("model_config")),
                        "holds no model_config (not a whole Keras model)"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_files_one_line(case: str, tmp_path: Path) -> None:
    make, words = HOSTILE[case]
    with pytest.raises(CardError) as info:
        h5_import.read(make(tmp_path), "student.h5")
    message = str(info.value)
    assert words in message, message
    assert "\n" not in message and message.startswith("student.h5: ")
    if "HDF5 filter" in words or "resizable" in words:  # says what to do
        assert 'model.save("name.keras")' in message


def test_groups_nested_where_no_name_leads_are_never_walked() -> None:
    keras_probs = np.load(FIXTURES / f"{OK}.npy")
    imp = h5_import.read(edited(_deep_aside), "deep.h5")
    ours = _numpy_probs(read_network(to_checkpoint(imp, "unit").data), len(keras_probs))
    assert np.abs(ours - keras_probs).max() <= TOLERANCE


def _no_input_layer(f) -> None:  # type: ignore[no-untyped-def]
    """Older tf.keras: a Sequential built from ``input_shape=`` on its first layer, listing no
    InputLayer; the first layer carries ``batch_input_shape``."""
    config = json.loads(f.attrs["model_config"])
    layers = config["config"]["layers"]
    first = layers.pop(0)
    assert first["class_name"] == "InputLayer"
    layers[0]["config"]["batch_input_shape"] = first["config"]["batch_input_shape"]
    f.attrs["model_config"] = json.dumps(config)


def test_keras2_sequential_without_an_input_layer() -> None:
    keras_probs = np.load(FIXTURES / "tf_keras_classic.npy")
    imp = h5_import.read(edited(_no_input_layer, "tf_keras_classic"), "old.h5")
    assert [r["name"] for r in imp.layers] == [name for name, _ in TABLES["classic"]]
    ours = _numpy_probs(read_network(to_checkpoint(imp, "unit").data), len(keras_probs))
    assert np.abs(ours - keras_probs).max() <= TOLERANCE


def test_never_imports_keras_or_tensorflow() -> None:
    import ast

    from model.files.keras_reader import h5 as h5_layout

    for module in (h5_import, h5_layout):
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                 for a in n.names}
        names |= {n.module.split(".")[0] for n in ast.walk(tree)
                  if isinstance(n, ast.ImportFrom) and n.module}
        assert not names & {"keras", "tensorflow", "tf_keras"}, module.__name__


def test_predict_command_on_an_h5_file(tmp_path: Path, capsys) -> None:
    from model import predict

    case = "keras3_tutorial_cnn"
    keras_probs = np.load(FIXTURES / f"{case}.npy")[:8]
    images, _ = load_samples()
    npy = tmp_path / "digits.npy"
    np.save(npy, images[:8])
    assert predict.main([str(FIXTURES / f"{case}.h5"), "--images", str(npy),
                         "--input-scale", "unit"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["index"] for d in lines] == list(range(8))
    assert "architecture" not in lines[0]  # the file holds its network
    got = np.array([d["probs"] for d in lines])
    assert np.abs(got - keras_probs).max() <= TOLERANCE
    assert predict.main([str(FIXTURES / f"{case}.h5"), "--images", str(npy),
                         "--input-scale", "kelvin"]) == 2
    assert "--input-scale 'kelvin'" in capsys.readouterr().err
