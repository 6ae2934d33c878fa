"""PyTorch state dicts: read as data, matched to the zoo by their tensors' shapes, and their
probabilities equal to the student's own module's (torch, 1e-4).

Fixtures (``tests/fixtures/pytorch/make_fixtures.py``): ``lenet5.pth``, a LeNet-5 with its own
key names trained on 0..1 pixels, and ``whole_model.pt``, ``torch.save(model, path)`` of a
``__main__`` class, are committed; ``mnist_cnn.pt`` (the PyTorch examples' network, 4.8 MB) is
trained briefly into a temporary folder once per session, from a fixed seed (slow, MNIST).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from model import importer, predict
from model.architectures import lenet5_layers
from model.files.imported import CLOSE_NATS, close_to, pick
from model.files.statedict_import import ONNX_LINE, SAVE_LINE, ArchitectureNeeded, read
from model.files.torch_reader.match import read_table, variants
from model.files.torch_reader.statedict import read_state_dict
from model.store import load_samples
from tests.fixtures.pytorch.make_fixtures import MEAN, STD, make_mnist_cnn
from tests.fixtures.pytorch.nets import LeNet5, Net
from viz.network.card import CardError
from viz.network.npforward import forward, softmax

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "pytorch"
LENET = FIXTURES / "lenet5.pth"
WHOLE = FIXTURES / "whole_model.pt"
DIFFS: dict[str, float] = {}  # fixture -> largest probability difference (printed)


def _files(path: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes()}


def _largest_difference(conv, module: nn.Module, mean: float, std: float) -> float:
    """Largest difference between the converted network's probabilities (numpy, the card's
    scaling) and the student's module's (torch) on the shipped samples."""
    from model.files.checkpoint import read_network

    images, _ = load_samples()
    net = read_network(conv.data, "x")
    last = net.layers[-1]["name"]
    ours = np.stack([softmax(forward(net, im)[last]) for im in images])
    x = (torch.from_numpy(images.astype(np.float32) / 255.0)[:, None] - mean) / std
    with torch.no_grad():
        theirs = torch.softmax(module.eval()(x).double(), 1).numpy()
    return float(np.abs(ours - theirs).max())


@pytest.fixture(scope="session")
def mnist_cnn(tmp_path_factory, mnist_dir: Path) -> Path:
    """The PyTorch example's mnist_cnn.pt, trained briefly (fixed seed) into a temporary folder."""
    return make_mnist_cnn(tmp_path_factory.mktemp("pytorch") / "mnist_cnn.pt", data_dir=mnist_dir)


# ---------------------------------------------------------------------------------------------
# The reader against torch.load
# ---------------------------------------------------------------------------------------------

def test_reader_equals_torch_load_for_every_layout() -> None:
    """Transposed and offset views, half and bfloat16 storages, a shared storage, BatchNorm's
    counter and a training checkpoint's nesting read as torch.load reads them."""
    base = torch.randn(6, 5)
    state = {"t": base.t(), "slice": base[2:4, 1:], "half": torch.randn(7).half(),
             "bf16": torch.randn(9).bfloat16()[3:8], "same": base, "n": torch.tensor(3),
             "ints": torch.arange(4)}
    buf = io.BytesIO()
    torch.save({"epoch": 3, "model_state_dict": state}, buf)
    tensors, notes = read_state_dict(buf.getvalue(), "ckpt.pt")
    assert list(tensors) == list(state)
    for key, t in state.items():
        want = t.float().numpy() if t.is_floating_point() else t.numpy()
        assert tensors[key].shape == tuple(t.shape)
        assert np.array_equal(tensors[key], want), key
    assert notes == ["the state dict under 'model_state_dict' of a checkpoint's dict"]


def test_legacy_format_refused_with_the_line_that_saves_it_again() -> None:
    buf = io.BytesIO()
    torch.save(nn.Linear(2, 2).state_dict(), buf, _use_new_zipfile_serialization=False)
    with pytest.raises(CardError, match=r"legacy format.*torch\.save\(model\.state_dict\(\)"):
        read(buf.getvalue(), "old.pt")


def test_whole_pickled_model_refused_with_both_lines() -> None:
    with pytest.raises(CardError) as err:
        read(WHOLE.read_bytes(), "whole_model.pt")
    message = str(err.value)
    assert "whole pickled model (class __main__.Net5)" in message
    assert "never does" in message and SAVE_LINE in message and ONNX_LINE in message


# ---------------------------------------------------------------------------------------------
# Matching the zoo, and the probabilities of the student's own module
# ---------------------------------------------------------------------------------------------

def test_lenet5_state_dict_opens_as_lenet5() -> None:
    conv = importer.convert(_files(LENET), LENET.name)
    card = conv.card
    assert card["architecture"] == "lenet5" and card["source_format"] == "pytorch"
    assert card["architectures_tried"] == [c.name for c in variants("lenet5", lenet5_layers())]
    assert set(card["architectures_tried"]) == {"lenet5", "lenet5 (relu)", "lenet5 (maxpool)",
                                                "lenet5 (relu, maxpool)"}
    assert card["params"] == 61_706
    module = LeNet5()
    module.load_state_dict(torch.load(LENET, weights_only=True))
    DIFFS["lenet5.pth"] = _largest_difference(conv, module, 0.0, 1.0)
    print(f"lenet5.pth: largest probability difference {DIFFS['lenet5.pth']:.2e}")
    assert DIFFS["lenet5.pth"] < 1e-4


def test_network_trained_on_unit_pixels_is_detected_as_unit() -> None:
    """LeNet-5 was trained on 0..1 pixels: the likelihood chooses ``unit``, with each
    convention's accuracy and likelihood beside it."""
    conv = importer.convert(_files(LENET), LENET.name)
    like, acc = conv.scale_likelihood, conv.scale_accuracy
    print("likelihood", like, "accuracy", acc)
    assert conv.card["input_scale"] == "unit" and conv.card["scale_chosen"] == "detected"
    assert like["unit"] == max(like.values()) and like["unit"] > like["raw"] + 0.1
    assert set(acc) == set(like) == {"unit", "mnist", "symmetric", "raw"}
    assert conv.close == close_to(like, "unit")


@pytest.mark.parametrize("arch", ["fast", "keras-convnet"])
def test_shipped_relu_network_moved_to_unit_pixels_is_detected_as_unit(arch: str) -> None:
    """A shipped ReLU network with MNIST's normalisation folded into its first layer computes
    on 0..1 pixels: raw 0..255 pixels still classify most samples (ReLU networks scale), but
    their likelihood is far lower, so ``unit`` is chosen."""
    from model.files.checkpoint import load_checkpoint
    from model.store import CHECKPOINT_DIR

    model, _ = load_checkpoint(CHECKPOINT_DIR / f"{arch}.safetensors")
    first = model.conv1
    assert first.padding == (0, 0)  # an input offset folds exactly into an unpadded conv
    with torch.no_grad():  # (u - MEAN)/STD into the first layer
        w = first.weight.clone()
        first.weight.div_(STD)
        first.bias.sub_(w.sum((1, 2, 3)) * MEAN / STD)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    conv = importer.convert({"unit.pt": buf.getvalue()}, "unit.pt")
    acc, like = conv.scale_accuracy, conv.scale_likelihood
    print(arch, "accuracy", acc, "likelihood", like)
    assert conv.card["architecture"] == arch and conv.card["input_scale"] == "unit"
    assert acc["raw"] >= acc["unit"] - 0.1 and like["raw"] < like["unit"] - 1.0
    DIFFS[f"{arch} on 0..1"] = _largest_difference(conv, model, 0.0, 1.0)
    print(f"{arch} on 0..1: largest probability difference {DIFFS[f'{arch} on 0..1']:.2e}")
    assert DIFFS[f"{arch} on 0..1"] < 1e-4


def test_likelihood_not_accuracy_chooses_and_close_ones_are_named() -> None:
    """The [0,1]-vs-raw case: raw's accuracy is higher, its likelihood far lower."""
    acc = {"unit": 0.975, "raw": 0.985}
    like = {"unit": -0.09, "raw": -2.7}
    assert pick(acc) == "raw" and pick(like) == "unit"
    assert close_to({"unit": -0.10, "mnist": -0.10 - CLOSE_NATS / 2, "raw": -1.0}, "unit") == \
        ["mnist"]


def test_named_variant_and_mismatch_listed() -> None:
    imp = read(LENET.read_bytes(), "lenet5.pth", architecture="lenet5 (relu, maxpool)")
    assert [r["type"] for r in imp.layers][:3] == ["conv", "relu", "maxpool"]
    with pytest.raises(CardError, match=r"do not fit pytorch-example: c1\.weight is \(6, 1, 5, "
                                        r"5\) where conv1\.weight needs \(32, 1, 3, 3\).*more"):
        read(LENET.read_bytes(), "lenet5.pth", architecture="pytorch-example")
    with pytest.raises(CardError, match="no architecture 'vgg'"):
        read(LENET.read_bytes(), "lenet5.pth", architecture="vgg")


class Small(nn.Module):
    """A student's own network, in no zoo."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc = nn.Linear(4 * 13 * 13, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(torch.max_pool2d(torch.relu(self.conv(x)), 2), 1))


TABLE = "name,type,kernel,stride,padding,dilation,channels,groups,inputs\n" \
        ",conv,3,1,0,1,4,,\n,relu,,,,,,,\n,maxpool,2,2,,,,,\n,flatten,,,,,,,\n,linear,,,,,10,,\n"


def test_unmatched_state_dict_asks_for_an_architecture_or_a_table(tmp_path) -> None:
    torch.manual_seed(0)
    module = Small()
    path = tmp_path / "small.pt"
    torch.save(module.state_dict(), path)
    with pytest.raises(ArchitectureNeeded, match=r"fit no network of the zoo.*--architecture.*"
                                                 r"--layers"):
        read(path.read_bytes(), "small.pt")
    with pytest.raises(CardError, match=r"do not fit mlp: conv\.weight is \(4, 1, 3, 3\) where "
                                        r"fc1\.weight needs \(256, 784\)"):
        read(path.read_bytes(), "small.pt", architecture="mlp")
    short = read_table(TABLE.replace(",linear,,,,,10,,\n", ""), "t.csv")
    with pytest.raises(CardError, match=r"do not fit the layer table: extra fc\.weight "
                                        r"\(10, 676\); extra fc\.bias"):
        read(path.read_bytes(), "small.pt", architecture=short)
    conv = importer.convert(_files(path), path.name, "unit",
                            architecture=read_table(TABLE, "t.csv"))
    assert conv.card["architecture"] == "layer table"
    DIFFS["small.pt (layer table)"] = _largest_difference(conv, module, 0.0, 1.0)
    print(f"small.pt: largest probability difference {DIFFS['small.pt (layer table)']:.2e}")
    assert DIFFS["small.pt (layer table)"] < 1e-5


@pytest.mark.slow
def test_pytorch_examples_mnist_cnn_opens_as_pytorch_example(mnist_cnn: Path) -> None:
    conv = importer.convert(_files(mnist_cnn), mnist_cnn.name)
    card = conv.card
    print(card["architectures_tried"], conv.scale_likelihood, conv.scale_accuracy)
    assert card["architecture"] == "pytorch-example" and card["params"] == 1_199_882
    assert card["input_scale"] == "mnist"
    assert "pytorch-example (tanh)" in card["architectures_tried"]
    module = Net()
    module.load_state_dict(torch.load(mnist_cnn, weights_only=True))
    DIFFS["mnist_cnn.pt"] = _largest_difference(conv, module, MEAN, STD)
    print(f"mnist_cnn.pt: largest probability difference {DIFFS['mnist_cnn.pt']:.2e}")
    assert DIFFS["mnist_cnn.pt"] < 1e-4


# ---------------------------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------------------------

def test_readers_take_pt_and_pth() -> None:
    assert importer.reader_for("NET.PTH") is importer.READERS[".pth"]
    assert importer.main_file(["mnist_cnn.pt"]) == "mnist_cnn.pt"


def test_importer_and_predict_commands(tmp_path, capsys) -> None:
    out = tmp_path / "lenet.safetensors"
    assert importer.main([str(LENET), "--out", str(out)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["architecture"] == "lenet5" and doc["format"] == "pytorch"
    assert doc["input_scale"] == "unit" and set(doc["scale_likelihood"]) == set(
        doc["scale_accuracy"])
    assert len(doc["architectures_tried"]) == 4
    like = doc["architecture_likelihood"]
    assert set(like) == set(doc["architectures_tried"]) and max(like, key=like.get) == "lenet5"
    images, _ = load_samples()
    npy = tmp_path / "digits.npy"
    np.save(npy, images[:3])
    assert predict.main([str(LENET), "--images", str(npy), "--architecture", "lenet5"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["architecture"] for x in lines] == ["lenet5"] * 3
    assert predict.main([str(out), "--images", str(npy)]) == 0
    again = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["probs"] for x in again] == [x["probs"] for x in lines]


@pytest.mark.parametrize("args,message", [
    ([str(WHOLE)], "whole pickled model"),
    ([str(LENET), "--architecture", "mlp"], "do not fit mlp"),
    ([str(LENET), "--architecture", "nope"], "no architecture 'nope'"),
])
def test_commands_refuse_with_one_line(args, message, tmp_path, capsys) -> None:
    assert importer.main([*args, "--out", str(tmp_path / "x.safetensors")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "x.safetensors").exists()


def test_table_file_for_the_command(tmp_path, capsys) -> None:
    torch.manual_seed(0)
    path = tmp_path / "small.pt"
    torch.save(Small().state_dict(), path)
    table = tmp_path / "net.csv"
    table.write_text(TABLE)
    assert importer.main([str(path), "--layers", str(table), "--out",
                          str(tmp_path / "s.safetensors")]) == 0
    assert json.loads(capsys.readouterr().out)["architecture"] == "layer table"
    assert importer.main([str(path), "--out", str(tmp_path / "s.safetensors")]) == 2
    assert "fit no network of the zoo" in capsys.readouterr().err
