"""The browser's attribution maps (ui/components/js/attribute.js) against the server's, on every
shipped network the lens runs live (within viz.limits' LENS_WEIGHT_CHARS and LENS_MACS_PER_STROKE).

For each such checkpoint, every method of ``model.saliency.METHODS`` runs in Chromium
(``attributeNet(net, method, pixels, {})``: the predicted digit, the explorer's first layer,
seed 0) and on the server's path (``model.attribute.maps``, what ``python -m model.attribute``
prints); the maps must agree within 1e-4 of the server map's largest |value| (Grad-CAM on a layer
without feature maps must be refused by both). Two digits each; Integrated Gradients,
SmoothGrad and Occlusion (many passes) on one.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOL = 1e-4
MANY_PASSES = ("ig", "smoothgrad", "occlusion")


def _live_networks() -> dict[str, object]:
    from model.store import shipped_checkpoints
    from viz.browser import lens
    from viz.network import npforward
    live = {}
    for name, path in shipped_checkpoints().items():
        net = npforward.load(path)
        if lens.payload(net)["supported"]:
            live[name] = net
    return live


LIVE = _live_networks()


def test_the_live_networks_are_the_shipped_ones_but_seed_original() -> None:
    from model.store import shipped_checkpoints
    assert "seed" in LIVE and "seed-original" not in LIVE
    assert set(shipped_checkpoints()) - set(LIVE) == {"seed-original"}


@pytest.mark.parametrize("name", sorted(LIVE))
def test_every_method_matches_the_server(attribute_page, name: str) -> None:
    from model import saliency
    from model.attribute import maps
    from model.store import load_samples
    from viz.browser import lens
    net = LIVE[name]
    images, labels = load_samples()
    picks = [int(np.flatnonzero(labels == d)[0]) for d in (3, 7)]
    payload = lens.payload(net)
    attribute_page.evaluate("(p) => { window.testNet = decodeNet(p); }", payload)
    for method in saliency.METHODS:
        digits = picks[:1] if method in MANY_PASSES else picks
        for i in digits:
            pixels = images[i].reshape(-1).tolist()
            js = attribute_page.evaluate("""([m, px]) => {
                try { return Array.from(attributeNet(window.testNet, m, px, {})); }
                catch (e) { return String(e.message); } }""", [method, pixels])
            try:
                ((_, want),) = list(maps(net, images[i:i + 1], method))
            except ValueError as exc:  # Grad-CAM on a vector: refused by both
                assert isinstance(js, str) and "feature maps" in js and "feature maps" in str(exc)
                continue
            assert not isinstance(js, str), f"{name} {method}: the browser refused: {js}"
            scale = float(np.abs(want).max())
            err = float(np.abs(np.asarray(js).reshape(28, 28) - want).max()) / max(scale, 1e-12)
            assert err <= TOL, f"{name} {method} (sample {i}): off the server's by {err:.2e}"
