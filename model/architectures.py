"""The architectures: every network the app knows, one record each, in one registry.

Torch-free, so the sidebar, links and the lab read it before torch is imported; ``model/zoo.py``
builds the torch modules from the same layer records. Adding a network is one :func:`register`
call here (plus its test): every picker and table reads :data:`ARCHITECTURES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from viz.network.layers import NUM_CLASSES, LayerRecord


@dataclass(frozen=True)
class Architecture:
    """One network of the zoo."""

    name: str
    layers: Callable[[], list[LayerRecord]]  # a fresh list of layer records on every call
    description: str
    recipe: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields of its checkpoint
    ships: bool = False  # a trained checkpoints/NAME.safetensors comes with the app
    trainable: bool = True  # offered on the Train page
    offer_untrained: bool = False  # offered with random weights when no trained one is at hand


ARCHITECTURES: dict[str, Architecture] = {}


def register(arch: Architecture) -> Architecture:
    """Add an architecture to the registry (its name must be new)."""
    if arch.name in ARCHITECTURES:
        raise ValueError(f"an architecture named {arch.name!r} is already registered")
    ARCHITECTURES[arch.name] = arch
    return arch


def get(name: str) -> Architecture:
    """The architecture called ``name`` (``ValueError`` naming the choices when unknown)."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose one of "
                         f"{', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]


def descriptions() -> dict[str, str]:
    return {a.name: a.description for a in ARCHITECTURES.values()}


def _block(
    i: int | str, cin: int, cout: int, kernel: int = 3, padding: int = 1, bn: bool = True,
    dropout: float = 0.0,
) -> list[LayerRecord]:
    """conv -> [bn] -> relu -> [dropout], named conv{i}, bn{i}, relu{i}, drop{i}."""
    layers: list[LayerRecord] = [
        {"name": f"conv{i}", "type": "conv", "in": cin, "out": cout, "kernel": kernel,
         "stride": 1, "padding": padding, "bias": not bn},
    ]
    if bn:
        layers.append({"name": f"bn{i}", "type": "bn", "channels": cout})
    layers.append({"name": f"relu{i}", "type": "relu"})
    if dropout > 0:
        layers.append({"name": f"drop{i}", "type": "dropout", "p": dropout})
    return layers


def _seed_body(dropout: float) -> list[LayerRecord]:
    """Rules 1-4 of the seed: pad early, widen gradually, 1x1 cut, then max-pool."""
    layers: list[LayerRecord] = []
    # Rules 1 and 2: five same-padded 3x3 convs at 28x28, channels rising gradually.
    widths = [1, 8, 10, 12, 14, 16]
    for i in range(5):
        layers += _block(i + 1, widths[i], widths[i + 1], dropout=dropout)  # 28x28
    # Rule 3: after five layers a 1x1 conv cuts the channels (16 -> 8).
    layers += _block(6, 16, 8, kernel=1, padding=0, dropout=0.0)  # 28x28
    # Rule 4: max-pool right after the 1x1, far from both input and output.
    layers.append({"name": "pool", "type": "maxpool", "kernel": 2, "stride": 2})  # 14x14
    widths = [8, 12, 14, 16, 16]
    for i in range(4):
        layers += _block(i + 7, widths[i], widths[i + 1], dropout=dropout)  # 14x14
    return layers


def seed_layers() -> list[LayerRecord]:
    """The seed's five rules; rule 5: a final 14x14 kernel turns 16x14x14 into the 10 logits."""
    return _seed_body(dropout=0.05) + [
        {"name": "head", "type": "conv", "in": 16, "out": NUM_CLASSES, "kernel": 14,
         "stride": 1, "padding": 0, "bias": True},  # 10x1x1
        {"name": "flatten", "type": "flatten"},  # 10
    ]


def seed_3x3_layers() -> list[LayerRecord]:
    """``seed`` with the 14x14 head replaced by small valid convs reaching the same field.

    A 14x14 kernel adds 13 feature-map pixels to the field. Each valid 3x3 adds 2 and shrinks the
    map by 2: six of them take 14x14 to 2x2 (+12), and a final 2x2 kernel adds the last 1, ending
    at 1x1 with exactly the receptive field of ``seed`` (14 is even, so 3x3s alone cannot land on
    1x1).
    """
    layers = _seed_body(dropout=0.05)
    widths = [16, 16, 16, 16, 16, 16, 16]
    for i in range(6):
        layers += _block(f"{11 + i}", widths[i], widths[i + 1], padding=0)  # 12, 10, 8, 6, 4, 2
    layers += [
        {"name": "head", "type": "conv", "in": 16, "out": NUM_CLASSES, "kernel": 2,
         "stride": 1, "padding": 0, "bias": True},  # 10x1x1
        {"name": "flatten", "type": "flatten"},
    ]
    return layers


def compact_layers() -> list[LayerRecord]:
    """Best accuracy per parameter (< 8k): valid 3x3 convs, 1x1 + pool transition, GAP head."""
    d = 0.03
    layers: list[LayerRecord] = []
    layers += _block(1, 1, 8, padding=0, dropout=d)  # 26x26
    layers += _block(2, 8, 12, padding=0, dropout=d)  # 24x24
    layers += _block(3, 12, 14, padding=0, dropout=d)  # 22x22
    layers += _block(4, 14, 8, kernel=1, padding=0)  # 22x22, 1x1 cut
    layers.append({"name": "pool", "type": "maxpool", "kernel": 2, "stride": 2})  # 11x11
    layers += _block(5, 8, 12, padding=0, dropout=d)  # 9x9
    layers += _block(6, 12, 14, padding=0, dropout=d)  # 7x7
    layers += _block(7, 14, 18, padding=0)  # 5x5
    layers += [
        {"name": "gap", "type": "gap"},  # 18x1x1
        {"name": "head", "type": "conv", "in": 18, "out": NUM_CLASSES, "kernel": 1,
         "stride": 1, "padding": 0, "bias": True},  # 10x1x1
        {"name": "flatten", "type": "flatten"},
    ]
    return layers


def fast_layers() -> list[LayerRecord]:
    """Quickest to train to 99.2%: two conv + pool stages and a dense head (215k parameters)."""
    return [
        {"name": "conv1", "type": "conv", "in": 1, "out": 24, "kernel": 5, "stride": 1,
         "padding": 0, "bias": True},  # 24x24x24
        {"name": "relu1", "type": "relu"},
        {"name": "pool1", "type": "maxpool", "kernel": 2, "stride": 2},  # 24x12x12
        {"name": "conv2", "type": "conv", "in": 24, "out": 32, "kernel": 3, "stride": 1,
         "padding": 0, "bias": True},  # 32x10x10
        {"name": "relu2", "type": "relu"},
        {"name": "pool2", "type": "maxpool", "kernel": 2, "stride": 2},  # 32x5x5
        {"name": "flatten", "type": "flatten"},  # 800
        {"name": "fc", "type": "linear", "in": 800, "out": 256},
        {"name": "relu3", "type": "relu"},
        {"name": "head", "type": "linear", "in": 256, "out": NUM_CLASSES},  # 10
    ]


def seed_original_layers() -> list[LayerRecord]:
    """The original Keras network: stride-1 convs + ReLU, no BatchNorm, 4,155,626 parameters."""
    layers: list[LayerRecord] = []
    widths = [1, 32, 64, 128, 256, 512]
    for i in range(5):
        layers += _block(i + 1, widths[i], widths[i + 1], bn=False)  # 28x28
    layers += _block(6, 512, 32, kernel=1, padding=0, bn=False)  # 28x28
    layers.append({"name": "pool", "type": "maxpool", "kernel": 2, "stride": 2})  # 14x14
    widths = [32, 64, 128, 256, 512]
    for i in range(4):
        layers += _block(i + 7, widths[i], widths[i + 1], bn=False)  # 14x14
    layers += [
        {"name": "head", "type": "conv", "in": 512, "out": NUM_CLASSES, "kernel": 14,
         "stride": 1, "padding": 0, "bias": True},  # 10x1x1 (Keras applies softmax after)
        {"name": "flatten", "type": "flatten"},
    ]
    return layers


_SGD = {"optimizer": "sgd", "max_lr": 0.1, "weight_decay": 1e-4, "batch_size": 128,
        "rotate_deg": 7.0, "shift_px": 2.0, "seed": 0}

register(Architecture(
    "seed", seed_layers,
    "Built by the five design rules of the Concepts tour (pad early, widen gradually, a 1x1 "
    "cut, max-pool after it, a final 14x14 kernel), sized for a CPU.",
    recipe={**_SGD, "epochs": 15}, ships=True, offer_untrained=True))
register(Architecture(
    "seed-3x3", seed_3x3_layers,
    "Like seed, but the 14x14 head is replaced by six 3x3 convs and a 2x2: "
    "the same receptive field with far fewer parameters.",
    recipe={**_SGD, "epochs": 15}, ships=True, offer_untrained=True))
register(Architecture(
    "compact", compact_layers,
    "Most accuracy per parameter: under 8k parameters, global average pooling head.",
    recipe={**_SGD, "epochs": 20}, ships=True, offer_untrained=True))
register(Architecture(
    "fast", fast_layers,
    "Quickest to train: two conv + max-pool stages and a dense head; 99.2% in about "
    "three epochs on a laptop CPU.",
    recipe={"epochs": 3, "batch_size": 256, "optimizer": "adam", "max_lr": 0.01,
            "betas": (0.7, 0.9), "weight_decay": 0.0, "rotate_deg": 0.0, "shift_px": 0.0,
            "seed": 0},
    ships=True))
register(Architecture(
    "seed-original", seed_original_layers,
    "The original network, 4.16M parameters and 1.55 GMAC per digit, no BatchNorm: trained on "
    "a GPU (about 18 hours on a 2-core CPU), too big to train or run live in the browser here.",
    recipe={"epochs": 8, "batch_size": 128, "optimizer": "adam", "max_lr": 0.001,
            "weight_decay": 0.0, "rotate_deg": 7.0, "shift_px": 2.0, "seed": 0,
            "device": "cuda"},
    ships=True, trainable=False))

# The course networks: each in its published form (parameter counts asserted in
# tests/model/test_course_networks.py).


def keras_convnet_layers() -> list[LayerRecord]:
    """The Keras "Simple MNIST convnet" example: 34,826 parameters."""
    return [
        {"name": "conv1", "type": "conv", "in": 1, "out": 32, "kernel": 3, "stride": 1,
         "padding": 0, "bias": True},  # 32x26x26
        {"name": "relu1", "type": "relu"},
        {"name": "pool1", "type": "maxpool", "kernel": 2, "stride": 2},  # 32x13x13
        {"name": "conv2", "type": "conv", "in": 32, "out": 64, "kernel": 3, "stride": 1,
         "padding": 0, "bias": True},  # 64x11x11
        {"name": "relu2", "type": "relu"},
        {"name": "pool2", "type": "maxpool", "kernel": 2, "stride": 2},  # 64x5x5 (floor)
        {"name": "flatten", "type": "flatten"},  # 1600
        {"name": "drop", "type": "dropout", "p": 0.5},
        {"name": "head", "type": "linear", "in": 1600, "out": NUM_CLASSES},
    ]


def pytorch_example_layers() -> list[LayerRecord]:
    """The PyTorch examples ``mnist/main.py`` network: 1,199,882 parameters."""
    return [
        {"name": "conv1", "type": "conv", "in": 1, "out": 32, "kernel": 3, "stride": 1,
         "padding": 0, "bias": True},  # 32x26x26
        {"name": "relu1", "type": "relu"},
        {"name": "conv2", "type": "conv", "in": 32, "out": 64, "kernel": 3, "stride": 1,
         "padding": 0, "bias": True},  # 64x24x24
        {"name": "relu2", "type": "relu"},
        {"name": "pool", "type": "maxpool", "kernel": 2, "stride": 2},  # 64x12x12
        {"name": "drop1", "type": "dropout", "p": 0.25},
        {"name": "flatten", "type": "flatten"},  # 9216
        {"name": "fc1", "type": "linear", "in": 9216, "out": 128},
        {"name": "relu3", "type": "relu"},
        {"name": "drop2", "type": "dropout", "p": 0.5},
        {"name": "head", "type": "linear", "in": 128, "out": NUM_CLASSES},
    ]


MLP_HIDDEN = 256  # the perceptron's hidden units


def mlp_layers() -> list[LayerRecord]:
    """A two-layer perceptron on the 784 pixels: every hidden unit sees the whole image."""
    return [
        {"name": "flatten", "type": "flatten"},  # 784
        {"name": "fc1", "type": "linear", "in": 784, "out": MLP_HIDDEN},
        {"name": "relu1", "type": "relu"},
        {"name": "head", "type": "linear", "in": MLP_HIDDEN, "out": NUM_CLASSES},
    ]


def lenet5_layers() -> list[LayerRecord]:
    """LeNet-5 in its modern form: tanh, 2x2 average pooling, 61,706 parameters."""
    return [
        {"name": "conv1", "type": "conv", "in": 1, "out": 6, "kernel": 5, "stride": 1,
         "padding": 2, "bias": True},  # 6x28x28
        {"name": "tanh1", "type": "tanh"},
        {"name": "pool1", "type": "avgpool", "kernel": 2, "stride": 2},  # 6x14x14
        {"name": "conv2", "type": "conv", "in": 6, "out": 16, "kernel": 5, "stride": 1,
         "padding": 0, "bias": True},  # 16x10x10
        {"name": "tanh2", "type": "tanh"},
        {"name": "pool2", "type": "avgpool", "kernel": 2, "stride": 2},  # 16x5x5
        {"name": "flatten", "type": "flatten"},  # 400
        {"name": "fc1", "type": "linear", "in": 400, "out": 120},
        {"name": "tanh3", "type": "tanh"},
        {"name": "fc2", "type": "linear", "in": 120, "out": 84},
        {"name": "tanh4", "type": "tanh"},
        {"name": "head", "type": "linear", "in": 84, "out": NUM_CLASSES},
    ]


_ADAM = {"optimizer": "adam", "weight_decay": 0.0, "betas": (0.9, 0.999), "batch_size": 128,
         "rotate_deg": 0.0, "shift_px": 0.0, "seed": 0}

register(Architecture(
    "keras-convnet", keras_convnet_layers,
    "The Keras \"Simple MNIST convnet\": two 3x3 conv + max-pool stages, dropout, one dense "
    "layer (34,826 parameters).",
    recipe={**_ADAM, "epochs": 6, "max_lr": 0.005}, ships=True))
register(Architecture(
    "pytorch-example", pytorch_example_layers,
    "The PyTorch examples MNIST network: two 3x3 convs, max-pool, dropout, dense 128 "
    "(1,199,882 parameters).",
    recipe={**_ADAM, "epochs": 4, "max_lr": 0.002}, ships=True))
register(Architecture(
    "mlp", mlp_layers,
    f"A two-layer perceptron, no convolution: 784 pixels -> {MLP_HIDDEN} ReLU units -> 10; "
    "every hidden unit sees the whole image.",
    recipe={**_ADAM, "epochs": 10, "max_lr": 0.002}, ships=True))
register(Architecture(
    "lenet5", lenet5_layers,
    "LeNet-5 in its modern form: 6 and 16 filters of 5x5 with tanh and 2x2 average pooling, "
    "then dense 120-84-10 (61,706 parameters).",
    recipe={**_ADAM, "epochs": 8, "max_lr": 0.003}, ships=True))

def _residual(i: int, cin: int, cout: int, stride: int, source: str) -> list[LayerRecord]:
    """A residual block reading ``source``: conv-bn-relu-conv-bn, plus the shortcut (the block's
    input, or a strided 1x1 conv + bn when the shape changes), added, then relu."""
    p = f"res{i}_"
    layers: list[LayerRecord] = [
        {"name": f"{p}conv1", "type": "conv", "in": cin, "out": cout, "kernel": 3,
         "stride": stride, "padding": 1, "bias": False, "inputs": [source]},
        {"name": f"{p}bn1", "type": "bn", "channels": cout},
        {"name": f"{p}relu1", "type": "relu"},
        {"name": f"{p}conv2", "type": "conv", "in": cout, "out": cout, "kernel": 3,
         "stride": 1, "padding": 1, "bias": False},
        {"name": f"{p}bn2", "type": "bn", "channels": cout},
    ]
    shortcut = source
    if stride != 1 or cin != cout:
        layers += [
            {"name": f"{p}proj", "type": "conv", "in": cin, "out": cout, "kernel": 1,
             "stride": stride, "padding": 0, "bias": False, "inputs": [source]},
            {"name": f"{p}projbn", "type": "bn", "channels": cout},
        ]
        shortcut = f"{p}projbn"
    layers += [
        {"name": f"{p}add", "type": "add", "inputs": [f"{p}bn2", shortcut]},
        {"name": f"{p}relu2", "type": "relu"},
    ]
    return layers


def resnet_mini_layers() -> list[LayerRecord]:
    """A small residual network: a 3x3 stem, three residual blocks (16 channels at 28x28; 32 at
    14x14 through a strided 1x1 projection shortcut; 32 at 14x14), global average pooling and
    a 10-way linear head."""
    layers: list[LayerRecord] = [
        {"name": "conv1", "type": "conv", "in": 1, "out": 16, "kernel": 3, "stride": 1,
         "padding": 1, "bias": False},  # 16x28x28
        {"name": "bn1", "type": "bn", "channels": 16},
        {"name": "relu1", "type": "relu"},
    ]
    layers += _residual(1, 16, 16, 1, "relu1")  # 16x28x28, identity shortcut
    layers += _residual(2, 16, 32, 2, "res1_relu2")  # 32x14x14, projection shortcut
    layers += _residual(3, 32, 32, 1, "res2_relu2")  # 32x14x14, identity shortcut
    layers += [
        {"name": "gap", "type": "gap"},  # 32x1x1
        {"name": "flatten", "type": "flatten"},  # 32
        {"name": "head", "type": "linear", "in": 32, "out": NUM_CLASSES},
    ]
    return layers


register(Architecture(
    "resnet-mini", resnet_mini_layers,
    "A small residual network: a stem, three residual blocks (one with a strided 1x1 "
    "projection shortcut), global average pooling; each add's field is the largest of its "
    "branches.",
    recipe={**_SGD, "epochs": 10}, ships=True))

DEFAULT = "seed"  # the network the app opens with
TRAIN_DEFAULT = "compact"  # what the Train page and ``python -m model.train`` start from
COMPARE = ("seed", "seed-3x3", "seed-original")  # the lab's first comparison
