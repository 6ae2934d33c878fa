"""The model zoo: small CNNs for MNIST, each built from a plain list of layer records.

A layer record is a dict such as ``{"name": "conv1", "type": "conv", "in": 1, "out": 8,
"kernel": 3, "padding": 1}``. The same records are stored in every checkpoint's model card, so a
checkpoint always says exactly which network it holds. Every network is a flat ``nn.Sequential``
whose module names are the record names (``conv1``, ``bn1``, ``relu1``, ``pool``, ``head`` ...):
stable, human names for the layer picker, hooks and the receptive-field table.

Architectures (input 1x28x28, output 10 logits):

- ``seed``: the seed project's five rules, sized for a 2-core CPU.
- ``seed-3x3``: ``seed`` with its 14x14 head replaced by stacked small convs of the same field.
- ``compact``: best accuracy per parameter, under 8k parameters, global-average-pooling head.
- ``fast``: the quickest to train to 99.2% (two conv/pool stages, dense head, 215k parameters).
- ``seed-original``: the original 4,155,626-parameter network (architecture only by default).
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any

import torch
from torch import nn

LayerRecord = dict[str, Any]

INPUT_SHAPE = (1, 28, 28)  # (channels, height, width)
NUM_CLASSES = 10


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


ARCHITECTURES: dict[str, Any] = {
    "seed": seed_layers,
    "seed-3x3": seed_3x3_layers,
    "compact": compact_layers,
    "fast": fast_layers,
    "seed-original": seed_original_layers,
}

DESCRIPTIONS: dict[str, str] = {
    "seed": "The seed project's five design rules, sized for a CPU: pad early, widen gradually, "
            "1x1 cut, max-pool after it, final 14x14 kernel.",
    "seed-3x3": "Like seed, but the 14x14 head is replaced by six 3x3 convs and a 2x2: "
                "the same receptive field with far fewer parameters.",
    "compact": "Most accuracy per parameter: under 8k parameters, global average pooling head.",
    "fast": "Quickest to train: two conv + max-pool stages and a dense head; 99.2% in about "
            "three epochs on a laptop CPU.",
    "seed-original": "The original network, 4.16M parameters: architecture only "
                     "(receptive field, parameters, MACs).",
}


class ZooNet(nn.Sequential):
    """A flat ``nn.Sequential`` built from layer records; maps (N, 1, 28, 28) to (N, 10) logits."""

    def __init__(self, arch: str, layers: list[LayerRecord]):
        super().__init__(OrderedDict((rec["name"], build_layer(rec)) for rec in layers))
        self.arch = arch
        self.layer_config = copy.deepcopy(layers)


def build_layer(rec: LayerRecord) -> nn.Module:
    """One torch module from one layer record."""
    kind = rec.get("type")
    if kind == "conv":
        return nn.Conv2d(rec["in"], rec["out"], rec["kernel"], stride=rec.get("stride", 1),
                         padding=rec.get("padding", 0), dilation=rec.get("dilation", 1),
                         bias=rec.get("bias", True))
    if kind == "bn":
        return nn.BatchNorm2d(rec["channels"])
    if kind == "relu":
        return nn.ReLU()
    if kind == "dropout":
        return nn.Dropout(rec.get("p", 0.0))
    if kind == "maxpool":
        return nn.MaxPool2d(rec["kernel"], stride=rec.get("stride"), padding=rec.get("padding", 0),
                            ceil_mode=rec.get("ceil_mode", False))
    if kind == "avgpool":
        return nn.AvgPool2d(rec["kernel"], stride=rec.get("stride"), padding=rec.get("padding", 0),
                            ceil_mode=rec.get("ceil_mode", False))
    if kind == "gap":
        return nn.AdaptiveAvgPool2d(1)
    if kind == "flatten":
        return nn.Flatten()
    if kind == "linear":
        return nn.Linear(rec["in"], rec["out"], bias=rec.get("bias", True))
    raise ValueError(f"layer {rec.get('name')!r}: unknown layer type {kind!r}")


def build(arch: str) -> ZooNet:
    """A freshly initialised network of a zoo architecture."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    return ZooNet(arch, ARCHITECTURES[arch]())


def build_from_config(arch: str, layers: list[LayerRecord]) -> ZooNet:
    """A network from explicit layer records (e.g. read back from a model card)."""
    try:
        return ZooNet(arch, layers)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"invalid layer config for {arch!r}: {exc}") from exc


def count_params(model: nn.Module) -> int:
    """Trainable parameters (BatchNorm's running statistics are buffers, not parameters)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def layer_shapes(model: nn.Module, input_shape: tuple[int, int, int] = INPUT_SHAPE
                 ) -> list[tuple[str, tuple[int, ...]]]:
    """(name, output shape without batch) for every top-level layer, from a real forward pass."""
    shapes: list[tuple[str, tuple[int, ...]]] = []
    x = torch.zeros(1, *input_shape)
    with torch.no_grad():
        for name, module in model.named_children():
            was_training = module.training
            module.eval()
            x = module(x)
            module.train(was_training)
            shapes.append((name, tuple(x.shape[1:])))
    return shapes


def count_macs(model: nn.Module, input_shape: tuple[int, int, int] = INPUT_SHAPE) -> dict[str, int]:
    """Multiply-accumulates per image for every conv and linear layer (others count 0)."""
    macs: dict[str, int] = {}
    x = torch.zeros(1, *input_shape)
    with torch.no_grad():
        for name, module in model.named_children():
            was_training = module.training
            module.eval()
            y = module(x)
            module.train(was_training)
            if isinstance(module, nn.Conv2d):
                kh, kw = module.kernel_size
                per_out = kh * kw * module.in_channels // module.groups
                macs[name] = per_out * y.numel()
            elif isinstance(module, nn.Linear):
                macs[name] = module.in_features * module.out_features
            else:
                macs[name] = 0
            x = y
    return macs
