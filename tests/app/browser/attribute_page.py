"""A blank page holding only the attribution engine (the lens's shared modules that
``attributeNet`` needs, in the lens's order) and hooks for the tests: ``attributeMaps``,
``normalsOf``, ``backwardTypes``. Used by the backward-pass and attribution browser tests through
the ``attribute_page`` fixture (tests/app/browser/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.app.browser.chromium import new_page

ROOT = Path(__file__).resolve().parents[3]

PAGE_JS = """
window.attributeMaps = (payload, images, jobs) => { // jobs: [[method, target or null], ...]
  const net = decodeNet(payload);
  return images.map((pixels) => jobs.map(([m, t]) =>
    Array.from(attributeNet(net, m, pixels, t === null ? {} : { target: t }))));
};
window.normalsOf = (seed, count) => Array.from(normals(seed, count));
window.backwardTypes = Object.keys(BACKWARD_OPS);
Object.assign(window, { attributionPool, attributionWorker, attributeNet, decodeNet }); // a module's names, for evaluate
window.ready = true;
"""


def attribute_script(folder: Path = ROOT / "ui" / "components" / "js") -> str:
    """The shared modules attributeNet needs, then the page's hooks."""
    from viz.browser.lens import ATTRIBUTE_JS
    parts = [(folder / f"{m}.js").read_text(encoding="utf-8") for m in ATTRIBUTE_JS]
    return "\n".join(parts + [PAGE_JS])


@contextmanager
def opened(width: int = 400, height: int = 300) -> Iterator[object]:
    """A page of the shared Chromium with the engine loaded and ready."""
    with new_page(width, height) as page:
        page.set_content(f'<script type="module">{attribute_script()}</script>')
        page.wait_for_function("() => window.ready === true", timeout=30_000)
        yield page
