"""Sentences that state a finding about the current network or digit, made from its numbers.

A sentence the app shows about what a network or a method does here is computed from the numbers
measured here; what is not measured is said as a general rule, hedged (``GENERAL_RULE``), never as
a fact about this network.

The randomization check (Adebayo et al. 2018): a method's map on the trained network is compared
with its map on a copy whose weights were re-drawn at random, by the Spearman rank correlation of
their absolute values. Below :data:`PASS_BELOW` the map changed with the model (it passes); at or
above it, the map still looks like the trained one (it fails: it shows the input more than what
the network learned). ``model.trust.verdict`` uses the same bar.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

PASS_BELOW = 0.5  # the randomization check: Spearman of |map| (trained vs random) below this

GENERAL_RULE = ("In Adebayo et al.'s tests some methods, Guided Backprop among them, barely "
                "changed when the weights were randomized, so such a map can explain the input "
                "rather than the model; which methods do so depends on the network and the "
                "digit, and only the numbers say it for this one.")


def _checked(values: Mapping[str, float], what: str) -> dict[str, float]:
    out = {}
    for name, v in values.items():
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            raise ValueError(f"{what}: the Spearman correlation of {name!r} must be a finite "
                             f"number, got {v!r}; leave out a method that was not measured")
        out[str(name)] = float(v)
    return out


def _names(pairs: list[tuple[str, float]]) -> str:
    names = [n for n, _ in pairs]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _values(pairs: list[tuple[str, float]]) -> str:
    return ", ".join(f"{round(v, 2) + 0.0:.2f}" for _, v in pairs)  # never "-0.00"


def randomization_split(spearman: Mapping[str, float], bar: float = PASS_BELOW
                        ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """(passing, failing) methods, each ``[(name, spearman)]``: passing from the lowest
    correlation up, failing from the highest down."""
    values = _checked(spearman, "randomization check")
    passing = sorted(((n, v) for n, v in values.items() if v < bar), key=lambda p: p[1])
    failing = sorted(((n, v) for n, v in values.items() if v >= bar), key=lambda p: -p[1])
    return passing, failing


def randomization_finding(spearman: Mapping[str, float], scope: str,
                          bar: float = PASS_BELOW) -> str:
    """One or two sentences on which methods pass the randomization check in ``scope`` (e.g.
    "On this digit", "Over the first 100 test digits"), from their Spearman correlations."""
    if not spearman:
        return f"{scope}, no method was measured."
    passing, failing = randomization_split(spearman, bar)
    parts = []
    if passing:
        verb = "changes" if len(passing) == 1 else "change"
        parts.append(f"{scope}, {_names(passing)} {verb} when the weights are randomized "
                     f"(Spearman {_values(passing)}, below {bar}): "
                     f"{'its map depends' if len(passing) == 1 else 'their maps depend'} on "
                     f"what the network learned.")
    if failing:
        verb = "stays" if len(failing) == 1 else "stay"
        lead = f"{scope}, " if not passing else ""
        parts.append(f"{lead}{_names(failing)} {verb} correlated with the trained "
                     f"{'map' if len(failing) == 1 else 'maps'} (Spearman {_values(failing)}, "
                     f"{bar} or more): {'it' if len(failing) == 1 else 'they'} may explain the "
                     f"input more than the model.")
    if not failing:
        parts.append("None fails the check.")
    elif not passing:
        parts.append("None passes the check.")
    return " ".join(parts)


def sanity_text(digit: Mapping[str, float], network: Mapping[str, float] | None = None,
                network_scope: str = "", bar: float = PASS_BELOW, digit_scope: str = "",
                differs: str = "") -> str:
    """The All methods view's sanity-check text: the finding on the digit shown (from the maps
    on the page), then the network's over the Trust view's digits when they were measured
    (``network``, ``network_scope`` e.g. "the first 100 test digits"), else how to get them and
    the general rule, hedged. ``digit_scope``: the page's settings (" (Occlusion: 11x11
    window ...)"); ``differs``: a sentence on how they differ from the network's, shown with it."""
    text = randomization_finding(digit, f"On this digit{digit_scope}", bar)
    if network:
        text += (" " + randomization_finding(network, f"Over {network_scope or 'many digits'}",
                                             bar)
                 + " One digit can differ from the average." + (f" {differs}" if differs else ""))
    else:
        text += (" The Trust view measures the same check over many digits (in the background)"
                 "; once it has, its numbers for this network appear here. " + GENERAL_RULE)
    return text
