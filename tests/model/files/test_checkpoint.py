"""Checkpoint round trip and every kind of bad checkpoint."""

import io
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from model.files.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_checkpoint_bytes,
    save_checkpoint,
)
from model.zoo import build, build_from_config

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = build("compact").eval()
    path = save_checkpoint(model, {"test_accuracy": 0.5}, tmp_path / "c.safetensors")
    return model, path


def test_round_trip_identical_logits(saved):
    model, path = saved
    loaded, card = load_checkpoint(path)
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert card["arch"] == "compact" and card["test_accuracy"] == 0.5
    assert not loaded.training
    assert json.loads(path.with_suffix(".json").read_text()) == card


def test_round_trip_keeps_batchnorm_statistics(tmp_path):
    model = build("seed")
    model.bn1.running_mean.fill_(0.25)
    loaded, _ = load_checkpoint(save_checkpoint(model, {}, tmp_path / "s"))
    assert torch.all(loaded.bn1.running_mean == 0.25)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "nope.safetensors")


def test_pickle_renamed(tmp_path):
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(CheckpointError, match="Python pickle.*never unpickles"):
        load_checkpoint(path)


def test_torch_save_renamed(tmp_path):
    buf = io.BytesIO()
    torch.save(build("compact").state_dict(), buf)
    with pytest.raises(CheckpointError, match="zip archive.*torch.save"):
        load_checkpoint_bytes(buf.getvalue(), "x.safetensors")


@pytest.mark.parametrize("keep", [0, 5, 40, 0.5, 0.99])
def test_truncated(saved, keep):
    _, path = saved
    data = path.read_bytes()
    cut = data[: int(len(data) * keep) if isinstance(keep, float) else keep]
    with pytest.raises(CheckpointError, match="truncated|only .* bytes"):
        load_checkpoint_bytes(cut, "cut")


def test_random_bytes():
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_checkpoint_bytes(b"this is a text file, not weights\n" * 10, "notes.txt")


def test_safetensors_without_card():
    from safetensors.torch import save

    data = save({"w": torch.zeros(2)})
    with pytest.raises(CheckpointError, match="without a model card"):
        load_checkpoint_bytes(data, "bare")


def test_weights_of_another_architecture(saved, tmp_path):
    from safetensors.torch import save

    _, path = saved
    card = json.loads(path.with_suffix(".json").read_text())
    seed_weights = {k: v.contiguous() for k, v in build("seed").state_dict().items()}
    data = save(seed_weights, metadata={"model_card": json.dumps(card)})
    with pytest.raises(CheckpointError, match="do not fit architecture 'compact'"):
        load_checkpoint_bytes(data, "mixed")


def test_shape_mismatch_is_named(tmp_path):
    from safetensors.torch import save

    model = build("compact")
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    state["conv1.weight"] = torch.zeros(8, 1, 5, 5)
    card = {"arch": "compact", "layers": model.layer_config}
    data = save(state, metadata={"model_card": json.dumps(card)})
    with pytest.raises(CheckpointError, match=r"conv1.weight is \(8, 1, 5, 5\)"):
        load_checkpoint_bytes(data, "bad")


def test_card_layers_disagree_with_zoo(tmp_path):
    from safetensors.torch import save

    model = build_from_config("compact", [{"name": "c", "type": "conv", "in": 1, "out": 10,
                                           "kernel": 28}, {"name": "f", "type": "flatten"}])
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    card = {"arch": "compact", "layers": model.layer_config}
    data = save(state, metadata={"model_card": json.dumps(card)})
    with pytest.raises(CheckpointError, match="layers differ from the zoo's 'compact'"):
        load_checkpoint_bytes(data, "odd")


def test_custom_architecture_round_trip(tmp_path):
    layers = [{"name": "c", "type": "conv", "in": 1, "out": 10, "kernel": 28},
              {"name": "f", "type": "flatten"}]
    model = build_from_config("custom", layers)
    loaded, card = load_checkpoint(save_checkpoint(model, {}, tmp_path / "custom"))
    assert card["layers"] == layers and loaded(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


def _with_card(model, card: dict) -> bytes:
    from safetensors.torch import save

    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    return save(state, metadata={"model_card": json.dumps(card)})


def test_nan_weights_are_refused_by_name():
    model = build("compact")
    with torch.no_grad():
        model.conv1.weight[0, 0, 0, 0] = float("nan")
        model.head.bias[1] = float("inf")
    data = _with_card(model, {"arch": "compact", "layers": model.layer_config})
    with pytest.raises(CheckpointError, match=r"NaN or infinite weights in conv1.weight "
                                              r"\(1 of 72\), head.bias \(1 of 10\)"):
        load_checkpoint_bytes(data, "nan")


def test_a_lying_architecture_name_is_refused_before_the_weights_are_read(monkeypatch):
    import model.files.checkpoint as ck

    model = build("fast")
    data = _with_card(model, {"arch": "seed", "layers": model.layer_config})
    monkeypatch.setattr(ck.card_reader, "arrays", lambda *a: pytest.fail("tensors were read"))
    with pytest.raises(CheckpointError, match="says architecture 'seed', but its layers differ"):
        load_checkpoint_bytes(data, "liar")


def huge_card_file() -> bytes:
    """A few hundred bytes whose card describes 60,000-channel convs (no tensors at all)."""
    layers = [{"name": "conv1", "type": "conv", "in": 1, "out": 60000, "kernel": 3},
              {"name": "conv2", "type": "conv", "in": 60000, "out": 60000, "kernel": 3},
              {"name": "head", "type": "conv", "in": 60000, "out": 10, "kernel": 24},
              {"name": "flatten", "type": "flatten"}]
    text = json.dumps({"__metadata__": {"model_card": json.dumps(
        {"arch": "x", "layers": layers})}}).encode()
    return len(text).to_bytes(8, "little") + text


def test_a_huge_card_is_refused_before_anything_is_built(monkeypatch):
    import model.zoo

    monkeypatch.setattr(model.zoo, "build_from_config",
                        lambda *a: pytest.fail("a model was built"))
    with pytest.raises(CheckpointError, match="too big: 32,746,260,010 parameters.*limits"
                                              "|too big: 32,746,260,010 parameters.*100 layers"):
        load_checkpoint_bytes(huge_card_file(), "huge")


def test_seed_original_fits_the_limits(tmp_path):
    model = build("seed-original")
    loaded, card = load_checkpoint(save_checkpoint(model, {}, tmp_path / "orig"))
    assert card["arch"] == "seed-original"
    assert sum(p.numel() for p in loaded.parameters()) == 4_155_626


# ---------------------------------------------------------------------------------------------
# Numpy first: read_network, and the torch model built from it
# ---------------------------------------------------------------------------------------------

def _close_to(ours: np.ndarray, ref: np.ndarray) -> None:
    """Within 1e-5 of the layer's largest value (at least 1): float32 sums in another order."""
    scale = max(1.0, float(np.abs(ref).max()))
    assert float(np.abs(ours - ref).max()) <= 1e-5 * scale


def test_read_network_is_numpy_views_of_the_bytes_without_torch() -> None:
    """In a fresh interpreter: a checkpoint's bytes read and run in numpy never import torch."""
    code = (
        "import sys, numpy as np\n"
        "from model.files.checkpoint import read_network\n"
        "from viz.network import npforward\n"
        "data = open('checkpoints/seed.safetensors', 'rb').read()\n"
        "net = read_network(data, 'seed.safetensors')\n"
        "w = net.tensors['conv1.weight']\n"
        "assert np.shares_memory(w, np.frombuffer(data, np.uint8)) and not w.flags.writeable\n"
        "acts = npforward.forward(net, np.zeros((28, 28), np.uint8))\n"
        "print(net.arch, len(acts), 'torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["seed", str(len(build("seed").layer_config)), "False"]


@pytest.mark.parametrize("share", [True, False])
def test_torch_model_of_a_numpy_network_computes_the_same(share: bool) -> None:
    from model.files.checkpoint import read_network, torch_model
    from model.insight.activations import activations, as_input
    from model.store import load_samples
    from viz.network import npforward

    data = (ROOT / "checkpoints" / "seed.safetensors").read_bytes()
    net = read_network(data, "seed.safetensors")
    model = torch_model(net, "seed.safetensors", share=share)
    assert not model.training and model.arch == "seed"
    w = model.conv1.weight
    assert np.shares_memory(w.detach().numpy(), net.tensors["conv1.weight"]) is share
    assert w.requires_grad and not w.is_meta and int(model.bn1.num_batches_tracked) > 0
    images, _ = load_samples()
    for image in images[:5]:
        ref = activations(model, as_input(image))
        ours = npforward.forward(net, image)
        assert list(ours) == list(ref)
        for name in ref:
            _close_to(ours[name], ref[name])


def test_load_checkpoint_gives_a_model_that_owns_its_weights(saved) -> None:
    """The tools' models may be changed (trained further): never views of the file's bytes."""
    model, path = saved
    loaded, _ = load_checkpoint(path)
    with torch.no_grad():
        loaded.conv1.weight.add_(1.0)  # a write must not fail nor touch anything shared
    again, _ = load_checkpoint(path)
    assert torch.equal(again.conv1.weight, model.conv1.weight)
    assert torch.equal(loaded.conv1.weight, model.conv1.weight + 1.0)


def test_torch_model_refuses_a_zoo_name_with_other_layers() -> None:
    """The card reader of shipped files (viz.network.npforward.load) does not know the zoo; building
    its torch model does the zoo's check."""
    from model.files.checkpoint import torch_model
    from viz.network.npforward import NumpyNet

    model = build_from_config("c", [{"name": "c", "type": "conv", "in": 1, "out": 10,
                                     "kernel": 28}, {"name": "f", "type": "flatten"}])
    tensors = {k: v.numpy() for k, v in model.state_dict().items()}
    net = NumpyNet("compact", model.layer_config, tensors)
    with pytest.raises(CheckpointError, match="odd: its card says architecture 'compact'"):
        torch_model(net, "odd")
    assert torch_model(NumpyNet("c", model.layer_config, tensors)).c.out_channels == 10
