"""A short real training run on tiny data, reproducibility, stopping, and the CLIs."""

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from model.architectures import ARCHITECTURES
from model.data import MNIST
from model.files.checkpoint import load_checkpoint, shipped_checkpoints
from model.train import TrainConfig, augment, model_card, one_cycle, train

SHIPPED = [a.name for a in ARCHITECTURES.values() if a.ships]

ROOT = Path(__file__).resolve().parents[2]


def tiny_data(n: int = 600) -> MNIST:
    """Separable fake digits: class c is a bright bar at row 2 + 2c (learnable in a few steps)."""
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % 10
    images = torch.randint(0, 40, (n, 28, 28), generator=g, dtype=torch.uint8)
    for i, c in enumerate(labels.tolist()):
        images[i, 2 + 2 * c: 4 + 2 * c, 4:24] = 255
    return MNIST(images, labels, images[:100].clone(), labels[:100].clone(), Path("."), {})


def small_cfg(**kw) -> TrainConfig:
    base = dict(arch="compact", epochs=5, val_size=100, batch_size=50, max_lr=0.1, rotate_deg=0, shift_px=0)
    base.update(kw)
    return TrainConfig(**base)


def test_training_learns_and_is_reproducible():
    data = tiny_data()
    a = train(small_cfg(), data, progress=False)
    b = train(small_cfg(), data, progress=False)
    assert len(a.history) == 5
    assert a.history[-1].loss < a.history[0].loss
    assert a.history[-1].val_accuracy > 0.9  # chance is 0.1
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(va, vb), k
    assert not a.model.training


def test_max_steps_and_callback_stop():
    data = tiny_data()
    r = train(small_cfg(max_steps=4), data, progress=False)
    assert r.steps == 4
    events = []

    def stop_after_two(event):
        events.append(event["kind"])
        return event.get("step", 0) < 2

    r = train(small_cfg(), data, callback=stop_after_two, progress=False)
    assert r.stopped and r.steps == 2 and events.count("epoch") == 1


def test_model_card_fields():
    data = tiny_data()
    cfg = small_cfg(max_steps=3)
    card = model_card(cfg, train(cfg, data, progress=False), data)
    for key in ("params", "macs", "val_accuracy", "test_accuracy", "epochs", "seed",
                "train_seconds", "torch_version", "data_md5", "recipe"):
        assert key in card
    assert card["recipe"]["arch"] == "compact" and card["test_n"] == 100


def test_augment_identity_and_range():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, 1, 28, 28)
    assert torch.equal(augment(x, 0, 0, g), x)
    y = augment(x, 7, 2, g)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    assert not torch.equal(y, x)


def test_one_cycle_shape():
    assert one_cycle(0, 100) == pytest.approx(0.04)
    assert one_cycle(25, 100) == pytest.approx(1.0)
    assert one_cycle(100, 100) == pytest.approx(1e-4)
    factors = [one_cycle(s, 100) for s in range(101)]
    assert factors.index(max(factors)) == 25
    assert all(0 < one_cycle(s, t) <= 1 for t in (1, 2, 3) for s in range(t + 1))


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown architecture"):
        train(small_cfg(arch="nope"), tiny_data())
    with pytest.raises(ValueError, match="at least 1"):
        train(small_cfg(epochs=0), tiny_data())


def test_train_cli_without_data_says_what_to_do(tmp_path):
    r = subprocess.run([sys.executable, "-m", "model.train", "--data-dir", str(tmp_path),
                        "--no-download"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2
    assert "missing" in r.stderr and "MNIST_DIR" in r.stderr and "Traceback" not in r.stderr


def test_evaluate_cli_bad_checkpoint(tmp_path):
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(pickle.dumps(list(range(1000))))
    r = subprocess.run([sys.executable, "-m", "model.evaluate", str(bad)], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 2 and "pickle" in r.stderr and "Traceback" not in r.stderr


def test_shipped_checkpoints_load():
    found = shipped_checkpoints()
    for name in SHIPPED:
        assert name in found, f"checkpoints/{name}.safetensors is missing"
        model, card = load_checkpoint(found[name])
        assert card["arch"] == name and card["epochs"] >= 1
        assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


@pytest.mark.mnist
@pytest.mark.slow
# seed-original's 10,000 digits take about 5 minutes of one core: its card is reproduced from
# its shipped predictions and a slice re-run (tests/model/test_seed_original.py)
@pytest.mark.parametrize("name", [n for n in SHIPPED if n != "seed-original"])
def test_shipped_accuracy_is_reproduced(mnist_dir, name):
    """The 10,000 test digits through the checkpoint here, by the evaluate command's function
    (in this process: the command's start and imports are paid once, by the next test)."""
    from model.evaluate import evaluate

    out = evaluate(str(shipped_checkpoints()[name]), str(mnist_dir), download=False)
    assert out["n"] == 10000 and out["arch"] == name
    assert out["test_accuracy"] == out["card_test_accuracy"]


@pytest.mark.mnist
def test_evaluate_cli_prints_the_test_accuracy_beside_the_card(mnist_dir, capsys):
    """The command's arguments and its JSON line (``python -m model.evaluate`` itself is run by
    test_evaluate_cli_bad_checkpoint)."""
    from model.evaluate import main

    path = shipped_checkpoints()["mlp"]  # the quickest to evaluate; the function runs them all
    assert main([str(path), "--data-dir", str(mnist_dir), "--no-download"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 10000 and out["arch"] == "mlp" and out["checkpoint"] == str(path)
    assert out["test_accuracy"] == out["card_test_accuracy"] == out["correct"] / 10000


def test_lab_table_trains_and_round_trips(tmp_path):
    """The architecture lab's 'Train this': arch "lab" with the table's layer records."""
    import numpy as np

    from model.files.checkpoint import save_checkpoint
    from viz.network import npforward
    from viz.teaching.lab import analyse, rows_to_layers

    layers = rows_to_layers([
        {"type": "conv", "kernel": 3, "padding": 1, "dilation": 2, "channels": 4},
        {"type": "bn"}, {"type": "relu"},
        {"type": "avgpool", "kernel": 2},
        {"type": "conv", "kernel": 3, "stride": 2, "channels": 6},
        {"type": "relu"}, {"type": "gap"}, {"type": "flatten"},
        {"type": "linear", "channels": 10},
    ])
    data = tiny_data()
    cfg = small_cfg(arch="lab", layers=layers, max_steps=3)
    result = train(cfg, data, progress=False)
    assert result.steps == 3 and result.model.arch == "lab"
    card = model_card(cfg, result, data)
    assert card["params"] == analyse(layers).params and card["macs"] == analyse(layers).macs
    path = save_checkpoint(result.model, card, tmp_path / "lab.safetensors")
    model, loaded = load_checkpoint(path)
    assert loaded["arch"] == "lab" and model.layer_config == layers
    net = npforward.load(path)
    image = np.zeros((28, 28), np.uint8)
    with torch.no_grad():
        want = model(torch.zeros(1, 1, 28, 28).sub(0.1307).div(0.3081))[0].numpy()
    got = next(reversed(npforward.forward(net, image).values()))
    assert np.allclose(got, want, atol=1e-4)


def test_train_help_shows_defaults_and_seed_is_the_default():
    r = subprocess.run([sys.executable, "-m", "model.train", "--help"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    text = " ".join(r.stdout.split())
    assert r.returncode == 0
    assert "the zoo network to train (default: seed)" in text
    assert "(default: 15)" in text and "(default: 128)" in text and "(default: None)" not in text
    assert TrainConfig().arch == "seed"


def test_a_gap_ended_lab_table_trains_evaluates_and_predicts():
    from model.train import accuracy, predict
    from viz.teaching.lab import rows_to_layers

    layers = rows_to_layers([{"type": "conv", "kernel": 3, "padding": 1, "channels": 8},
                             {"type": "relu"}, {"type": "maxpool", "kernel": 2},
                             {"type": "conv", "kernel": 3, "channels": 10}, {"type": "gap"}])
    data = tiny_data()
    cfg = small_cfg(arch="lab", layers=layers, epochs=2)
    result = train(cfg, data, progress=False)
    assert len(result.history) == 2 and result.history[-1].loss < result.history[0].loss
    card = model_card(cfg, result, data)
    assert 0 <= card["test_accuracy"] <= 1 and card["test_n"] == 100 and not card["stopped"]
    pred = predict(result.model, data.test_images[:7])
    assert pred.shape == (7,) and pred.dtype == torch.long
    assert accuracy(result.model, data.test_images, data.test_labels)[1] == card["test_correct"]


def test_stop_is_honoured_between_evaluation_batches():
    from model.train import Stopped, predict

    data = tiny_data()
    model = train(small_cfg(max_steps=1), data, progress=False).model
    asked = []

    def stop_after_two() -> bool:
        asked.append(1)
        return len(asked) > 2

    with pytest.raises(Stopped):
        predict(model, data.test_images, batch_size=10, stop=stop_after_two)
    assert len(asked) == 3 and not model.training  # two batches, then the stop; mode restored


def test_stop_during_validation_ends_the_run_and_the_card_says_untested():
    data = tiny_data()
    calls = {"n": 0}
    steps_per_epoch = 10  # 500 training images, batch 50

    def stop() -> bool:  # asked after every step, then before each validation batch
        calls["n"] += 1
        return calls["n"] > steps_per_epoch + 1  # stops in the first validation pass

    cfg = small_cfg(epochs=3)
    result = train(cfg, data, progress=False, stop=stop)
    assert result.stopped and result.steps == steps_per_epoch and result.history == []
    card = model_card(cfg, result, data)
    assert card["stopped"] and card["test_accuracy"] is None and card["test_correct"] is None
    assert card["test_n"] == 0 and card["val_accuracy"] is None


def test_a_stop_during_the_test_pass_leaves_the_test_unmeasured():
    data = tiny_data()
    cfg = small_cfg(max_steps=2)
    result = train(cfg, data, progress=False)
    assert not result.stopped
    card = model_card(cfg, result, data, stop=lambda: True)
    assert card["stopped"] and card["test_accuracy"] is None and card["test_n"] == 0
    assert card["val_accuracy"] is not None
