"""How a network wants its pixels: the input-scaling conventions, and a card's.

A network sees ``(pixel / 255 - mean) / std``; the conventions (``mnist``, ``unit``,
``symmetric``, ``raw``, ``inside``) are named here once, and :func:`scale_of` reads a card's, so
every normaliser of the app agrees. Standard library and numpy only.
"""

from __future__ import annotations

import math
from typing import Any

from viz.inputs.preprocess import MEAN, STD

DEFAULT_SCALE = "mnist"
INSIDE = "inside"
# name -> (mean, std) in units of pixel / 255
SCALES: dict[str, tuple[float, float]] = {
    "unit": (0.0, 1.0),
    "mnist": (MEAN, STD),
    "symmetric": (0.5, 0.5),
    "raw": (0.0, 1.0 / 255.0),
}
NAMES = (*SCALES, INSIDE)
WORDS = {
    "unit": "x/255 (0 to 1)",
    "mnist": f"(x/255 - {MEAN})/{STD} (MNIST's mean and std)",
    "symmetric": "x/127.5 - 1 (-1 to 1)",
    "raw": "x (0 to 255, unscaled)",
    INSIDE: "inside the network (it scales 0-255 pixels itself)",
}


def compose(outer: tuple[float, float], inner: tuple[float, float] | None
            ) -> tuple[float, float]:
    """(mean, std) of applying ``outer`` to the pixels and then the network's own affine step
    ``inner`` (given as the (mean, std) it would be on raw pixels: ``x -> (x/255 - m)/s`` read
    as ``x -> x * a + b`` with ``a = 1/(255 s)``, ``b = -m/s``), or ``outer`` when there is
    none."""
    if inner is None:
        return outer
    m_o, s_o = outer
    a = 1.0 / (255.0 * inner[1])
    b = -inner[0] / inner[1]
    # x_net = a * (u - m_o)/s_o + b = (u - m')/s' with s' = s_o / a, m' = m_o - b s_o / a
    return (m_o - b * s_o / a, s_o / a)


def scale_of(card: dict[str, Any] | None) -> tuple[float, float]:
    """(mean, std) a checkpoint's network expects (``mnist`` when its card says nothing).

    Raises ``ValueError`` for a card whose scaling is not one of :data:`NAMES` or whose numbers
    are not finite (std not zero)."""
    card = card or {}
    name = card.get("input_scale", DEFAULT_SCALE)
    if name not in NAMES:
        raise ValueError(f"input_scale must be one of {', '.join(NAMES)}, not {str(name)[:40]!r}.")
    mean, std = card.get("input_mean"), card.get("input_std")
    if mean is None and std is None:
        if name == INSIDE:
            raise ValueError("input_scale 'inside' needs input_mean and input_std.")
        return SCALES[name]
    ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
             for v in (mean, std))
    if not ok or std == 0 or abs(std) < 1e-12 or abs(std) > 1e12 or abs(mean) > 1e12:
        raise ValueError("input_mean and input_std must be finite numbers (std not 0).")
    return (float(mean), float(std))


def card_fields(name: str, mean: float, std: float) -> dict[str, Any]:
    """The card's keys for a scaling (the numbers only when they differ from the name's)."""
    if name in SCALES and (mean, std) == SCALES[name]:
        return {"input_scale": name}
    return {"input_scale": name, "input_mean": float(mean), "input_std": float(std)}


def from_mnist(card: dict[str, Any] | None) -> tuple[float, float] | None:
    """``(a, b)`` turning an MNIST-normalised input into the card's (``x * a + b``), or None
    when the card's scaling is MNIST's: what the torch network applies first, so that every
    torch path can keep feeding MNIST-normalised digits."""
    mean, std = scale_of(card)
    if (mean, std) == (MEAN, STD):
        return None
    # u = x * STD + MEAN; x' = (u - mean)/std
    return (STD / std, (MEAN - mean) / std)
