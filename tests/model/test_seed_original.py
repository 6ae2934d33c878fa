"""The shipped seed-original: trained on a GPU, its card is its record's, it loads with the card
reader, and its card's test accuracy is reproduced on this CPU (from the shipped predictions,
and some of the test digits re-run against them)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from model.architectures import ARCHITECTURES
from model.files.checkpoint import load_checkpoint
from model.store import CHECKPOINT_DIR, file_sha256
from viz.network.layers import analyse

CKPT = CHECKPOINT_DIR / "seed-original.safetensors"
FIRST = 40  # the first test digits re-run here, with the 41 it gets wrong (about 3 s on one core)


@pytest.fixture(scope="module")
def card() -> dict:
    if not CKPT.is_file():
        pytest.fail("checkpoints/seed-original.safetensors does not ship")
    return json.loads(CKPT.with_suffix(".json").read_text())


def test_its_card_is_its_records(card: dict) -> None:
    arch = ARCHITECTURES["seed-original"]
    assert arch.ships and not arch.trainable  # trained on a GPU; too big to train here
    assert card["arch"] == "seed-original" and card["layers"] == arch.layers()
    assert {k: card["recipe"][k] for k in arch.recipe} == arch.recipe  # how it was trained
    report = analyse(arch.layers())
    assert card["params"] == report.params == 4_155_626
    assert card["macs"] == report.macs == 1_549_459_968
    assert (card["test_n"], card["epochs"], card["test_correct"]) == (10_000, 8, 9959)
    assert card["test_accuracy"] == card["test_correct"] / card["test_n"]


def test_it_loads_with_the_card_reader_and_runs(card: dict) -> None:
    from viz.network import card as reader
    header, table = reader.read_header_file(CKPT)
    assert header == {k: v for k, v in card.items() if k in header}  # the same card inside
    assert reader.validate_card(header, table, CKPT.name).params == card["params"]
    model, loaded = load_checkpoint(CKPT)
    assert loaded["test_accuracy"] == card["test_accuracy"]
    assert sum(p.numel() for p in model.parameters()) == card["params"]
    with torch.no_grad():
        assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


def test_its_atlas_and_predictions_ship_and_reproduce_the_card(card: dict) -> None:
    from model.atlas import shipped_path, stored_atlas
    from model.files.shipped import load_shipped
    assert shipped_path(CKPT).is_file(), "run python -m model.make_shipped seed-original"
    atlas = stored_atlas(CKPT)
    assert atlas is not None and atlas.sha256 == file_sha256(CKPT)
    assert atlas.layer("relu5").channels == 512 and atlas.layer("head").channels == 10
    labels, preds = load_shipped(CKPT)
    assert int((labels == preds).sum()) == card["test_correct"]


@pytest.mark.slow
@pytest.mark.mnist
def test_this_cpu_gives_the_shipped_predictions(mnist_dir, card: dict) -> None:
    """The first FIRST test digits and every digit the shipped predictions get wrong (where
    the network is least sure: the first to change if this CPU's arithmetic differed) through
    the checkpoint here: the shipped predictions."""
    from model.data import load_mnist
    from model.files.shipped import load_shipped
    from model.insight.predictions import compute
    model, _ = load_checkpoint(CKPT)
    data = load_mnist(str(mnist_dir), download=False)
    labels, shipped = load_shipped(CKPT)
    assert np.array_equal(labels, data.test_labels.numpy())
    wrong = np.flatnonzero(labels != shipped)
    assert len(wrong) == card["test_n"] - card["test_correct"]
    pick = np.union1d(np.arange(FIRST), wrong)
    got = compute(model, data.test_images.numpy()[pick])
    assert np.array_equal(got.astype(np.int64), shipped[pick])
