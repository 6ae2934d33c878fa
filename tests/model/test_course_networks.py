"""The course networks (LeNet-5, the Keras and PyTorch examples, the MLP): their published forms,
counted on real torch modules, and their shipped checkpoints."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from model.architectures import ARCHITECTURES, MLP_HIDDEN
from model.store import CHECKPOINT_DIR
from model.zoo import build
from tests.torch_oracle import count_macs, count_params, layer_shapes
from viz.network.layers import total_macs, total_params

# name -> (parameters, MACs per image), the published forms counted by hand:
# keras-convnet: 32*9+32 + 64*32*9+64 + 1600*10+10; MACs 26*26*32*9 + 11*11*64*288 + 16000.
# pytorch-example: 320 + 18,496 + 9216*128+128 + 1290; MACs 26*26*288 + 24*24*64*288 + 9216*128
#   + 1280. lenet5: 156 + 2,416 + 48,120 + 10,164 + 850; MACs 28*28*6*25 + 10*10*16*150 + 48,000
#   + 10,080 + 840.
COURSE = {
    "keras-convnet": (34_826, 2_440_960),
    "pytorch-example": (1_199_882, 11_992_448),
    "mlp": (784 * MLP_HIDDEN + MLP_HIDDEN + MLP_HIDDEN * 10 + 10, 784 * MLP_HIDDEN + MLP_HIDDEN * 10),
    "lenet5": (61_706, 416_520),
}
PRESENT = [n for n in COURSE if n in ARCHITECTURES]


def test_every_course_network_is_registered() -> None:
    assert set(PRESENT) >= {"keras-convnet", "pytorch-example", "mlp"}


@pytest.mark.parametrize("name", PRESENT)
def test_parameters_and_macs_are_the_published_ones(name: str) -> None:
    params, macs = COURSE[name]
    model = build(name)
    assert count_params(model) == params
    assert sum(count_macs(model).values()) == macs
    layers = ARCHITECTURES[name].layers()
    assert total_params(layers) == params and total_macs(layers) == macs


def test_keras_convnet_shapes() -> None:
    shapes = dict(layer_shapes(build("keras-convnet")))
    assert shapes["pool1"] == (32, 13, 13) and shapes["conv2"] == (64, 11, 11)
    assert shapes["pool2"] == (64, 5, 5) and shapes["flatten"] == (1600,)
    assert build("keras-convnet").drop.p == 0.5


def test_pytorch_example_shapes_and_dropouts() -> None:
    model = build("pytorch-example")
    shapes = dict(layer_shapes(model))
    assert shapes["conv2"] == (64, 24, 24) and shapes["flatten"] == (9216,)
    assert (model.drop1.p, model.drop2.p) == (0.25, 0.5)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d", "Dropout", "Flatten",
                     "Linear", "ReLU", "Dropout", "Linear"]


def test_mlp_is_dense_only() -> None:
    kinds = [type(m).__name__ for m in build("mlp")]
    assert kinds == ["Flatten", "Linear", "ReLU", "Linear"]


@pytest.mark.skipif("lenet5" not in ARCHITECTURES, reason="lenet5 needs the tanh layer type")
def test_lenet5_is_the_modern_form() -> None:
    model = build("lenet5")
    shapes = dict(layer_shapes(model))
    assert shapes["conv1"] == (6, 28, 28) and shapes["pool1"] == (6, 14, 14)
    assert shapes["conv2"] == (16, 10, 10) and shapes["pool2"] == (16, 5, 5)
    assert [m.out_features for m in model if isinstance(m, nn.Linear)] == [120, 84, 10]
    assert sum(isinstance(m, nn.Tanh) for m in model) == 4
    assert sum(isinstance(m, nn.AvgPool2d) for m in model) == 2


# the usual test accuracy of each course network (final epoch, 10k test digits)
TARGETS = {"lenet5": 0.989, "keras-convnet": 0.990, "pytorch-example": 0.990, "mlp": 0.978,
           "resnet-mini": 0.993}


@pytest.mark.parametrize("name", [n for n in TARGETS
                                  if n in ARCHITECTURES and ARCHITECTURES[n].ships])
def test_shipped_card_matches_its_record(name: str) -> None:
    """The shipped checkpoint was trained by the record's recipe, for the record's layers, and
    reaches the target accuracy (final epoch, 10k test digits); it stays small enough for git."""
    path = CHECKPOINT_DIR / f"{name}.safetensors"
    card = json.loads(path.with_suffix(".json").read_text())
    layers = ARCHITECTURES[name].layers()
    assert card["layers"] == layers
    recipe = ARCHITECTURES[name].recipe
    assert {k: card["recipe"][k] for k in recipe} == {
        k: list(v) if isinstance(v, tuple) else v for k, v in recipe.items()}
    assert card["test_accuracy"] >= TARGETS[name] and card["test_n"] == 10_000
    assert card["epochs"] == recipe["epochs"] and not card["stopped"]
    assert card["params"] == total_params(layers)
    assert path.stat().st_size < 5_000_000


def test_a_course_network_runs_in_eval_mode_deterministically() -> None:
    model = build("keras-convnet").eval()
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))  # dropout is off in eval mode
