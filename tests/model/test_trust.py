"""Deletion, insertion and the randomization check, on cases whose answer is known."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from model import trust
from model.data import MEAN, STD

SET = np.zeros((28, 28), bool)
SET[10:17, 10:17] = True  # 49 pixels: the only ones the model reads


class SumOfSet(nn.Module):
    """Class 0's score = how many pixels of SET are fully inked (in pixel units, 0..49)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pixels = x * STD + MEAN  # back to 0..1
        s = (pixels[:, 0] * torch.from_numpy(SET)).flatten(1).sum(1)
        return torch.stack([s] + [torch.zeros_like(s)] * 9, dim=1)


def _raw_score(model):
    return lambda x, t: model(x)[torch.arange(len(x)), t]


def _digit() -> np.ndarray:
    img = np.zeros((28, 28), np.uint8)
    img[SET] = 255
    img[2:5, 20:26] = 255  # ink the model ignores
    return img


def test_perfect_attribution_gives_the_known_deletion_and_insertion_areas() -> None:
    model, img = SumOfSet(), _digit()
    perfect = SET.astype(np.float32) + 0.0
    # 16 steps of 49 pixels: the first step removes exactly the set
    deletion, insertion = trust.curves(_raw_score(model), img[None], perfect[None],
                                       np.array([0]), steps=16)
    assert deletion[0].round(3).tolist() == [49.0] + [0.0] * 16
    assert insertion[0].round(3).tolist() == [0.0] + [49.0] * 16
    assert trust.auc(deletion)[0] == pytest.approx(49 * 0.5 / 16)  # 1.53125
    assert trust.auc(insertion)[0] == pytest.approx(49 * (1 - 0.5 / 16))


def test_the_worst_attribution_is_the_mirror_image() -> None:
    model, img = SumOfSet(), _digit()
    worst = -SET.astype(np.float32)  # the set comes last
    deletion, insertion = trust.curves(_raw_score(model), img[None], worst[None],
                                       np.array([0]), steps=16)
    assert trust.auc(deletion)[0] == pytest.approx(49 * (1 - 0.5 / 16))
    assert trust.auc(insertion)[0] == pytest.approx(49 * 0.5 / 16)


def test_a_random_order_lies_between() -> None:
    model, img = SumOfSet(), _digit()
    noise = np.random.default_rng(0).random((1, 28, 28))
    deletion, _ = trust.curves(_raw_score(model), img[None], noise, np.array([0]), steps=16)
    assert 49 * 0.5 / 16 < trust.auc(deletion)[0] < 49 * (1 - 0.5 / 16)
    # removing a random half of the pixels removes about half of the set
    assert 15 < deletion[0][8] < 34


def test_spearman_on_known_rankings() -> None:
    a = np.arange(784, dtype=float).reshape(1, 28, 28)
    assert trust.spearman(a, a)[0] == pytest.approx(1.0)
    assert trust.spearman(a, -a)[0] == pytest.approx(-1.0)
    assert trust.spearman(a, 3 * a + 7)[0] == pytest.approx(1.0)  # ranks only
    assert trust.spearman(np.array([1.0, 2, 3]), np.array([1.0, 3, 2])) == pytest.approx(0.5)
    # ties share their average rank: [1, 1, 2] has ranks [0.5, 0.5, 2]
    assert trust.spearman(np.array([1.0, 1, 2]), np.array([0.0, 1, 2])) == pytest.approx(
        np.sqrt(3) / 2)
    assert trust.spearman(np.zeros((1, 5)), np.arange(5.0)[None])[0] == 0.0  # no ranking


def test_verdict_names_the_best_passing_and_the_worst_failing_method() -> None:
    z = np.zeros(11)
    rows = [trust.MethodTrust("saliency", 0.3, 0.8, 0.1, z, z),
            trust.MethodTrust("ig", 0.1, 0.95, 0.2, z, z),
            trust.MethodTrust("guided", 0.05, 0.99, 0.9, z, z)]
    sentence = trust.verdict(rows)
    assert sentence.startswith("Trust Integrated Gradients most")
    assert "0.95" in sentence and "0.10" in sentence
    assert "and, of the 2 methods that pass, it orders pixels best" in sentence
    assert "it it" not in sentence
    assert "1 of 3 fail the check (Guided Backprop)" in sentence and "0.90" in sentence


def _shipped(name: str):
    from model.files.checkpoint import load_checkpoint
    return load_checkpoint(f"checkpoints/{name}.safetensors")[0]


@pytest.mark.slow
def test_trust_table_on_shipped_samples_has_every_method_in_range() -> None:
    from model.data import load_samples
    images, _ = load_samples()
    rows = trust.trust_table(_shipped("compact"), images[::20])
    assert [r.method for r in rows] == ["saliency", "ig", "smoothgrad", "guided", "deeplift",
                                        "occlusion", "gradcam"]
    for r in rows:
        assert 0 <= r.deletion_auc <= 1 and 0 <= r.insertion_auc <= 1
        assert -1 <= r.randomization_spearman <= 1
        assert r.deletion_curve.shape == (trust.STEPS + 1,)
    by = {r.method: r for r in rows}
    # Integrated Gradients beats a random pixel order on both curves
    rand_del, rand_ins = trust.random_order_aucs(_shipped("compact"), images[::20])
    assert by["ig"].deletion_auc < rand_del and by["ig"].insertion_auc > rand_ins


@pytest.mark.slow
def test_cli_prints_exactly_the_named_fields(capsys, monkeypatch) -> None:
    monkeypatch.setenv("MNIST_DIR", "/nonexistent")  # the shipped samples
    assert trust.main(["checkpoints/fast.safetensors", "--n", "5"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["method"] for r in records] == list(trust.METHODS)
    assert all(set(r) == {"method", "deletion_auc", "insertion_auc", "randomization_spearman"}
               for r in records)


def _fast():
    from model.files.checkpoint import load_checkpoint
    return load_checkpoint("checkpoints/fast.safetensors")[0]


def test_curves_scored_in_small_batches_are_the_one_batch_curves() -> None:
    from model.data import load_samples
    model, images = _fast(), load_samples()[0][:5]
    maps = np.random.default_rng(0).random(images.shape)
    targets = trust.predicted(model, images)
    whole = trust.curves(trust.probability(model), images, maps, targets)
    calls: list[int] = []
    score = trust.probability(model)
    cut = trust.curves(lambda x, t: (calls.append(len(x)), score(x, t))[1], images, maps,
                       targets, batch=7)
    assert max(calls) == 7 and len(calls) == -(-5 * 2 * (trust.STEPS + 1) // 7)
    for a, b in zip(whole, cut, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="batch must be"):
        trust.curves(score, images, maps, targets, batch=0)


def test_trust_table_within_a_small_budget_is_the_one_batch_table() -> None:
    from model.data import load_samples
    from model.insight.activations import randomized_copy
    model, images = _fast(), load_samples()[0][:4]
    methods = ("ig", "occlusion", "smoothgrad", "deeplift")
    whole = trust.trust_table(model, images, methods, batch_bytes=10 ** 12)
    cut = trust.trust_table(model, images, methods, batch_bytes=1_000_000)  # 3-4 digits a pass
    assert np.array_equal(trust.predicted(model, images, 1), trust.predicted(model, images))
    for a, b in zip(whole, cut, strict=True):
        assert a.method == b.method
        assert b.deletion_auc == pytest.approx(a.deletion_auc, rel=1e-5)
        assert b.insertion_auc == pytest.approx(a.insertion_auc, rel=1e-5)
        np.testing.assert_allclose(b.deletion_curve, a.deletion_curve, rtol=1e-5, atol=1e-7)
        # rank correlation: batches round differently (1e-6), which breaks or makes ties
        # between the random network's tiny values; the maps themselves agree (below)
        assert b.randomization_spearman == pytest.approx(a.randomization_spearman, abs=0.02)
    targets, layer = trust.predicted(model, images), trust.gradcam_layer(model)
    for net in (model, randomized_copy(model)):
        for method in methods:
            one = trust._maps(method, net, images, targets, layer, 10 ** 12)
            many = trust._maps(method, net, images, targets, layer, 1_000_000)
            np.testing.assert_allclose(many, one, rtol=1e-5, atol=1e-5 * np.abs(one).max())
