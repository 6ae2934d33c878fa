"""Sentences about a network or a digit follow its numbers (viz/teaching/findings.py)."""

from __future__ import annotations

import pytest

from viz.teaching import findings

SEED = {"Saliency": 0.12, "Grad-CAM": 0.31, "Guided Backprop": 0.39, "Occlusion": 0.77}
OTHER = {"Saliency": 0.05, "Grad-CAM": 0.66, "Guided Backprop": 0.91, "Occlusion": 0.20}


def test_the_sentence_follows_the_numbers() -> None:
    seed = findings.randomization_finding(SEED, "Over the first 100 test digits")
    assert seed == (
        "Over the first 100 test digits, Saliency, Grad-CAM and Guided Backprop change when "
        "the weights are randomized (Spearman 0.12, 0.31, 0.39, below 0.5): their maps depend "
        "on what the network learned. Occlusion stays correlated with the trained map "
        "(Spearman 0.77, 0.5 or more): it may explain the input more than the model.")
    other = findings.randomization_finding(OTHER, "On this digit")
    assert other == (
        "On this digit, Saliency and Occlusion change when the weights are randomized "
        "(Spearman 0.05, 0.20, below 0.5): their maps depend on what the network learned. "
        "Guided Backprop and Grad-CAM stay correlated with the trained maps (Spearman 0.91, "
        "0.66, 0.5 or more): they may explain the input more than the model.")


def test_all_pass_all_fail_and_the_bar() -> None:
    assert findings.randomization_finding({"Saliency": 0.1}, "Here").endswith(
        "None fails the check.")
    text = findings.randomization_finding({"Occlusion": 0.5, "Saliency": 0.49999}, "Here")
    assert "Saliency changes" in text and "Occlusion stays" in text  # 0.5 itself fails
    only_fail = findings.randomization_finding({"Guided Backprop": 0.8}, "Here")
    assert only_fail.startswith("Here, Guided Backprop stays")
    assert only_fail.endswith("None passes the check.")
    assert findings.randomization_finding({}, "Here") == "Here, no method was measured."


def test_sanity_text_with_and_without_the_network_numbers() -> None:
    with_net = findings.sanity_text(OTHER, SEED, "the first 100 test digits")
    assert with_net.startswith("On this digit, Saliency and Occlusion change")
    assert "Over the first 100 test digits, Saliency, Grad-CAM and Guided Backprop change" in \
        with_net
    assert findings.GENERAL_RULE not in with_net  # measured: no general rule needed
    without = findings.sanity_text(OTHER)
    assert without.endswith(findings.GENERAL_RULE)
    assert "Trust view measures the same check" in without
    assert "Over" not in without


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "0.3", None, True])
def test_values_that_are_not_numbers_are_refused(bad) -> None:
    with pytest.raises(ValueError, match="Occlusion"):
        findings.randomization_finding({"Occlusion": bad}, "Here")
