"""What a view's computation costs, in multiply-adds, and where it may run on a shared server.

One torch thread does about 20-50 GMAC/s of forward and backward passes on the 2-core machine
(less under a class's load; ``bench/seed_original_views.py`` measures each view). Up to
:data:`INLINE_MACS` a view computes while the page waits (about half a second: every zoo
network's maps but seed-original's heavy ones); above it, in the background with progress
(``model.training.background``). Above :data:`BACKGROUND_MACS` (a minute or two of one core) a
view computes less, or asks before it starts. The views (``ui/views/``) and the benchmark read
these numbers from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

INLINE_MACS = 20_000_000_000
BACKGROUND_MACS = 3_000_000_000_000


def map_images(method: str, window: int, stride: int) -> int:
    """Images one map of ``method`` runs through the network for one digit: Occlusion's patch
    positions (and the digit), Integrated Gradients' steps, SmoothGrad's noisy copies, else the
    method's ``images_per_digit``."""
    from model.saliency import METHODS
    from model.saliency.integrated_gradients import STEPS
    from model.saliency.smoothgrad import SAMPLES
    m = METHODS[method]
    if m.uses_window:
        w = min(max(int(window), 1), 28)
        step = min(max(int(stride), 1), w)
        return ((28 - w) // step + 1) ** 2 + 1
    return {"ig": STEPS, "smoothgrad": SAMPLES}.get(method, m.images_per_digit)


def map_macs(method: str, macs: int, window: int, stride: int) -> int:
    """Multiply-adds one map costs: its images (:func:`map_images`) times ``macs`` per image,
    three times over for a method taking gradients (a forward and a twice-as-dear backward)."""
    from model.saliency import METHODS
    return map_images(method, window, stride) * int(macs) * (3 if METHODS[method].backward else 1)


def featvis_macs(channels: int, macs_to_layer: int) -> int:
    """Multiply-adds of synthesizing ``channels`` channels of a layer whose input-to-layer pass
    costs ``macs_to_layer`` per image: every start of every channel, every step a forward and a
    backward pass (three passes' worth)."""
    from model.insight.featvis import Settings
    return int(channels) * Settings.starts * Settings.steps * 3 * int(macs_to_layer)


def macs_to(table: Iterable[Any], layer: str) -> int:
    """Multiply-adds of one image from the input up to and including ``layer`` (``table``: the
    network's ``LayerInfo`` rows, in order)."""
    total = 0
    for info in table:
        total += int(info.macs)
        if info.name == layer:
            return total
    return total


def trust_macs(n: int, macs: int) -> int:
    """Multiply-adds of the trust table over ``n`` digits of a network of ``macs`` per digit:
    per method its map on the network and on the randomized copy and its two curves, then the
    random-order curves and the predictions."""
    from model import trust
    from model.saliency import METHODS
    window, stride = trust.OCCLUSION
    curve = 2 * (trust.STEPS + 1) * int(macs)
    per_digit = sum(2 * map_macs(k, macs, window, stride) + curve for k in METHODS)
    return int(n) * (per_digit + curve + int(macs))
