"""How far the browser's attribution maps (attribute.js, in Chromium) are from the server's, per
method and shipped network the lens runs live: the largest |difference| over two digits (a 3 and
a 7 of the shipped samples), as a share of the server map's largest |value|.

    python bench/attribution_agreement.py [--json bench/results/attribution_agreement.json]

The server's maps are ``model.attribute.maps`` (what ``python -m model.attribute`` prints): the
predicted digit, the explorer's first layer, seed 0. "refused": Grad-CAM on a network whose first
layer in the explorer is a vector (both sides refuse it). The test
(tests/app/browser/test_attribute_browser.py) holds every share within 1e-4.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.server import browser  # noqa: E402

PAGE_JS = """
Object.assign(window, { decodeNet, attributeNet });
window.mapOf = (m, px) => { try { return Array.from(attributeNet(window.net, m, px, {})); }
                            catch (e) { return String(e.message); } };
window.ready = true;
"""


def measure() -> dict[str, dict[str, float | None]]:
    import numpy as np

    from model import saliency
    from model.attribute import maps
    from model.store import load_samples, shipped_checkpoints
    from viz.browser import lens
    from viz.network import npforward
    source = "\n".join((ROOT / "ui" / "components" / "js" / f"{m}.js").read_text(encoding="utf-8")
                       for m in lens.ATTRIBUTE_JS)
    images, labels = load_samples()
    picks = [int(np.flatnonzero(labels == d)[0]) for d in (3, 7)]
    out: dict[str, dict[str, float | None]] = {}
    with browser(400, 300) as page:
        page.set_content(f'<script type="module">{source}\n{PAGE_JS}</script>')
        page.wait_for_function("() => window.ready === true", timeout=30_000)
        for name, path in shipped_checkpoints().items():
            net = npforward.load(path)
            payload = lens.payload(net)
            if not payload["supported"]:
                continue
            page.evaluate("(p) => { window.net = decodeNet(p); }", payload)
            for method in saliency.METHODS:
                worst: float | None = 0.0
                for i in picks:
                    js = page.evaluate("([m, px]) => window.mapOf(m, px)",
                                       [method, images[i].reshape(-1).tolist()])
                    try:
                        ((_, want),) = list(maps(net, images[i:i + 1], method))
                    except ValueError:
                        worst = None
                        break
                    diff = np.abs(np.reshape(js, (28, 28)) - want).max() / np.abs(want).max()
                    worst = max(worst or 0.0, float(diff))
                out.setdefault(name, {})[method] = worst
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    result = measure()
    from model import saliency
    methods = list(saliency.METHODS)
    print("network".ljust(16) + "".join(m.rjust(11) for m in methods))
    for name, row in result.items():
        print(name.ljust(16) + "".join(
            ("refused" if row[m] is None else f"{row[m]:.1e}").rjust(11) for m in methods))
    if a.json:
        a.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
