"""The Keras 3 reader: networks saved by Keras itself give the class probabilities Keras's own
predict gives, through this project's checkpoint and numpy forward pass; hostile files get a
one-line message. The saved files are committed (tests/fixtures/keras/make_keras.py, Keras with
the torch backend, wrote them); one network is saved here live, in a subprocess, so Keras's
current output is read too."""

from __future__ import annotations

import ast
import importlib.util
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from model.files import keras_import
from model.files.imported import to_checkpoint
from viz.network import card as card_reader
from viz.network.card import CardError
from viz.network.npforward import NumpyNet, forward

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "keras" / "make_keras.py"
# case -> (input scaling Keras was fed, the layout the reader finds)
CASES = {"sequential_cnn": ("unit", "NHWC"), "batchnorm": ("unit", "NHWC"),
         "rescaling": ("raw", "NHW"), "residual": ("unit", "NHWC"), "concat": ("unit", "NHWC"),
         "depthwise": ("unit", "NHWC"), "mlp_flat": ("unit", "flat"),
         "mlp_flatten": ("unit", "NHW"), "gap_head": ("unit", "NHWC"),
         "prelu_elu": ("unit", "NHWC")}
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def saved() -> Path:
    """The folder of Keras-saved networks, their Keras probabilities and the images (the
    committed files)."""
    return FIXTURES.parent


def _probs(data: bytes, images: np.ndarray) -> tuple[np.ndarray, dict]:
    card, tensors, _ = card_reader.read(data, "converted")
    net = NumpyNet(card["arch"], card["layers"], tensors, card)
    out = []
    for image in images:
        z = list(forward(net, image).values())[-1].astype(np.float64)
        e = np.exp(z - z.max())
        out.append(e / e.sum())
    return np.array(out), card


@pytest.mark.parametrize("case", list(CASES))
def test_probabilities_equal_keras(saved: Path, case: str) -> None:
    _equals_keras(saved, case)


def _equals_keras(saved: Path, case: str) -> None:
    """Checks ``saved/<case>.keras`` reads with its layout and, converted, gives the
    probabilities Keras gave (``saved/<case>.npy``) on ``saved/images.npy``."""
    feed, layout = CASES[case]
    imp = keras_import.read((saved / f"{case}.keras").read_bytes(), f"{case}.keras")
    assert imp.layout == layout and imp.format == "keras" and imp.producer.startswith("Keras 3")
    converted = to_checkpoint(imp, feed)
    ours, card = _probs(converted.data, np.load(saved / "images.npy"))
    keras_probs = np.load(saved / f"{case}.npy")
    assert np.abs(keras_probs - 0.1).max() > 0.05  # far from uniform: the comparison can fail
    assert np.abs(ours - keras_probs).max() <= TOLERANCE
    assert card["input_scale"] == ("inside" if case == "rescaling" else "unit")


def _layers(saved: Path, case: str) -> dict[str, dict]:
    imp = keras_import.read((saved / f"{case}.keras").read_bytes(), case)
    return {rec["name"]: rec for rec in imp.layers}


def _residual_records(saved: Path) -> None:
    res = _layers(saved, "residual")
    assert res["join"]["inputs"] == ["stem_relu", "bn"] and res["bn"]["channels"] == 6
    assert res["pool"] == {"name": "pool", "type": "maxpool", "kernel": 3, "stride": 2,
                           "padding": 0, "ceil_mode": True}  # Keras pads 0 before, 1 after


def test_records(saved: Path) -> None:
    def layers(case: str) -> dict[str, dict]:
        return _layers(saved, case)

    _residual_records(saved)
    cat = layers("concat")
    assert cat["cat"]["inputs"] == ["a", "b_sigmoid"] and "inputs" not in cat["a"]
    assert cat["b"]["inputs"] == ["input"]
    assert (cat["grouped"]["groups"], cat["grouped"]["in"]) == (2, 8)
    dw = layers("depthwise")["dw"]
    assert (dw["groups"], dw["in"], dw["out"], dw["padding"]) == (4, 4, 8, 1)
    bn = layers("batchnorm")
    assert [r["type"] for r in bn.values()][-3:] == ["linear", "tanh", "linear"]  # BN folded
    assert (bn["avg"]["padding"], bn["avg"]["count_include_pad"]) == (1, False)
    imp = keras_import.read((saved / "rescaling.keras").read_bytes(), "r")
    assert imp.inside == pytest.approx((0.5, 0.5))  # x/127.5 - 1 is (x/255 - 0.5)/0.5
    assert [r["type"] for r in layers("mlp_flat").values()][:2] == ["flatten", "linear"]
    pe = layers("prelu_elu")
    assert [r["type"] for r in pe.values()] == ["conv", "prelu", "conv", "elu", "elu", "prelu",
                                                "flatten", "linear", "prelu", "linear"]
    assert (pe["per_channel"]["num_parameters"], pe["shared"]["num_parameters"],
            pe["per_feature"]["num_parameters"]) == (4, 1, 16)


def test_never_imports_keras() -> None:
    tree = ast.parse(Path(keras_import.__file__).read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom) and n.module}
    assert "keras" not in imported and "h5py" in imported


# ---------------------------------------------------------------------------------------------
# Hostile files
# ---------------------------------------------------------------------------------------------

def _entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {name: z.read(name) for name in z.namelist()}


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, raw in entries.items():
            z.writestr(name, raw)
    return buf.getvalue()


def _edited(data: bytes, edit) -> bytes:  # type: ignore[no-untyped-def]
    entries = _entries(data)
    config = json.loads(entries["config.json"])
    edit(config["config"]["layers"])
    entries["config.json"] = json.dumps(config).encode()
    return _zip(entries)


def _restored(ok: bytes, **create) -> bytes:  # type: ignore[no-untyped-def]
    """The file ``ok`` with its last Dense layer's bias (10 numbers) written again with h5py's
    ``create_dataset`` options ``create`` (chunks, maxshape, a filter); the rest copied."""
    import h5py

    entries = _entries(ok)
    src = h5py.File(io.BytesIO(entries["model.weights.h5"]), "r")
    biases = []
    src.visititems(lambda n, o: biases.append(n) if isinstance(o, h5py.Dataset)
                   and o.shape == (10,) else None)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as dst:
        for key in src:
            src.copy(src[key], dst, name=key)
        for k, v in src.attrs.items():
            dst.attrs[k] = v
        path = biases[-1]
        value = src[path][()]
        del dst[path]
        dst.create_dataset(path, data=value, **create)
    src.close()
    entries["model.weights.h5"] = buf.getvalue()
    return _zip(entries)


def _bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", b"{}")
        with z.open("model.weights.h5", "w", force_zip64=True) as f:
            chunk = b"\0" * 2**20
            for _ in range(keras_import.MAX_SIZES["model.weights.h5"] // 2**20 + 8):
                f.write(chunk)
    return buf.getvalue()


def _unwritten(saved: Path) -> bytes:
    """mlp_flat with 20,000 hidden units: 15.7 M numbers declared by an HDF5 dataset that was
    never written (a small file whose reads would fill 63 MB)."""
    import h5py

    entries = _entries((saved / "mlp_flat.keras").read_bytes())
    config = json.loads(entries["config.json"])
    dense = [la for la in config["config"]["layers"] if la["class_name"] == "Dense"]
    dense[0]["config"]["units"] = 20_000
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for group, shapes in (("dense", [(784, 20_000), (20_000,)]),
                              ("dense_1", [(20_000, 10), (10,)])):
            for i, shape in enumerate(shapes):
                f.create_dataset(f"layers/{group}/vars/{i}", shape=shape, dtype="f4")
    entries["config.json"] = json.dumps(config).encode()
    entries["model.weights.h5"] = buf.getvalue()
    return _zip(entries)


def _set(layers: list, cls: str, key: str, value) -> None:  # type: ignore[no-untyped-def]
    """Set ``key`` of the config of the first layer of class ``cls``."""
    next(layer for layer in layers if layer["class_name"] == cls)["config"][key] = value


def _set_field(layers: list, cls: str, key: str, value) -> None:  # type: ignore[no-untyped-def]
    """Set ``key`` of the first layer of class ``cls`` itself."""
    next(layer for layer in layers if layer["class_name"] == cls)[key] = value


HOSTILE = {
    "lambda": (lambda ok, saved: (saved / "lambda.keras").read_bytes(),
               "layer 'double' is a Lambda layer"),
    "custom module": (lambda ok, saved: (saved / "custom.keras").read_bytes(),
                      "layer 'scale' is a custom class 'Custom>Scale'"),
    "unknown class": (lambda ok, saved: _edited(ok, lambda ls: _set_field(
        ls, "Dropout", "class_name", "GaussianNoise")), "'keras.layers'.'GaussianNoise'"),
    "custom initializer": (lambda ok, saved: _edited(ok, lambda ls: _set(
        ls, "Conv2D", "kernel_initializer", {"module": "evil", "class_name": "Init",
                                             "config": {}})), "custom object 'evil'.'Init'"),
    "zip bomb": (lambda ok, saved: _bomb(), "model.weights.h5 declares"),
    "dot-dot entry": (lambda ok, saved: _zip({**_entries(ok), "../evil.txt": b"x"}),
                      "'../evil.txt' points outside"),
    "absolute entry": (lambda ok, saved: _zip({**_entries(ok), "/etc/x": b"x"}),
                       "'/etc/x' points outside"),
    "truncated": (lambda ok, saved: ok[: len(ok) // 2], "not a Keras 3 file"),
    "shape disagrees": (lambda ok, saved: _edited(ok, lambda ls: _set(ls, "Conv2D", "filters", 5)),
                        "weight 0 is 3x3x1x4 in model.weights.h5, its config needs 3x3x1x5"),
    "three channels": (lambda ok, saved: _edited(ok, lambda ls: _set(
        ls, "InputLayer", "batch_shape", [None, 32, 32, 3])), "one 28x28 grayscale image"),
    "unwritten dataset": (lambda ok, saved: _unwritten(saved),
                          "the weights up to it hold over 10,000,000 numbers"),
    "bias in one chunk of 1M numbers": (
        lambda ok, saved: _restored(ok, chunks=(1 << 20,), maxshape=(None,), compression="gzip"),
        "resizable"),
    "bias in a chunk larger than it": (
        lambda ok, saved: _restored(ok, chunks=(1 << 20,), maxshape=(1 << 20,)),
        "resizable"),
    "filter outside the list": (
        lambda ok, saved: _restored(ok, chunks=(10,), scaleoffset=4),
        "HDF5 filter 6; this server reads gzip, shuffle, fletcher32, lzf"),
    "asymmetric same": (lambda ok, saved: (saved / "asymmetric.keras").read_bytes(),
                        "layer 'down': padding='same' here pads 0 before and 1 after"),
    "PReLU of a slope per pixel": (
        lambda ok, saved: _edited((saved / "prelu_elu.keras").read_bytes(), lambda ls: _set(
            ls, "PReLU", "shared_axes", None)),
        "layer 'per_channel': a PReLU with shared_axes None has 676 slopes of shape 13x13x4"),
    "ELU of alpha 0.5": (
        lambda ok, saved: _edited((saved / "prelu_elu.keras").read_bytes(), lambda ls: _set(
            ls, "ELU", "alpha", 0.5)),
        "layer 'elu_layer': an ELU with alpha 0.5; this app's ELU has alpha 1.0"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_files_one_line(saved: Path, case: str) -> None:
    make, words = HOSTILE[case]
    data = make((saved / "sequential_cnn.keras").read_bytes(), saved)
    with pytest.raises(CardError) as info:
        keras_import.read(data, "student.keras")
    message = str(info.value)
    assert words in message and "\n" not in message and message.startswith("student.keras: ")
    if "HDF5" in words or "resizable" in words:  # says what to do
        assert 'model.save("name.keras")' in message


def test_importer_command_on_a_keras_file(saved: Path, tmp_path: Path, capsys) -> None:
    from model import importer

    src = tmp_path / "residual.keras"
    src.write_bytes((saved / "residual.keras").read_bytes())
    assert importer.main([str(src), "--input-scale", "unit"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "keras" and doc["input_scale"] == "unit"
    assert doc["out"] == str(tmp_path / "residual.safetensors")
    assert (tmp_path / "residual.safetensors").is_file()
    layers = {la["name"]: la for la in doc["layers"]}
    assert layers["stem"]["rf"] == [3, 3] and layers["stem"]["stride"] == [1, 1]
    assert layers["stem"]["inputs"] == ["input"] and layers["stem"]["global"] is False
    assert layers["join"]["type"] == "add" and layers["join"]["inputs"] == ["stem_relu", "bn"]
    assert layers["join"]["rf"] == [5, 5] and layers["pool"]["stride"] == [2, 2]
    last = doc["layers"][-1]
    assert last["type"] == "linear" and last["global"] is True and last["rf"] is None
    assert last["output_shape"] == [10]
    bad = tmp_path / "lambda.keras"
    bad.write_bytes((saved / "lambda.keras").read_bytes())
    assert importer.main([str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: lambda.keras: ") and "double" in err
    assert err.count("\n") == 1 and not (tmp_path / "lambda.safetensors").exists()


# ---------------------------------------------------------------------------------------------
# Keras's current output
# ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_keras_saves_and_exports_live(saved: Path, tmp_path: Path) -> None:
    """The residual network saved by the installed Keras here, in a subprocess (its import
    takes seconds), and exported by its ONNX exporter: read and compared as the committed
    files are (they are an earlier Keras's output)."""
    if importlib.util.find_spec("keras") is None:  # not imported here: its backend is torch
        pytest.skip("keras is not installed")
    (tmp_path / "images.npy").write_bytes((saved / "images.npy").read_bytes())
    run = subprocess.run([sys.executable, str(FIXTURES), str(tmp_path), "--cases", "residual"],
                         env={**os.environ, "KERAS_BACKEND": "torch"}, timeout=600,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    _equals_keras(tmp_path, "residual")
    _residual_records(tmp_path)
    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec(
            "onnx") is None:
        return
    from tests.model.files.test_onnx_import import keras_onnx_equals_onnxruntime
    keras_onnx_equals_onnxruntime(tmp_path / "residual.onnx", "residual")
