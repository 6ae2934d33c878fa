"""Every page and view at a phone's, a half-width laptop's, a laptop's and a projector's width,
in Chromium: no sideways page scroll, no clipped or cut text, no word broken letter by letter,
tables whole or scrolling inside themselves, controls whole, and no serious or critical
accessibility violation found by axe-core (vendored in tests/vendor/axe-core, for the tests
only). Presenter mode: large text everywhere, and each view's picture starts in the first screen.

The pages come in groups (one test each, that start at an address), on the test process's
shared server and browser; each page is opened once and resized through the widths, every check
run on that load. A group's two walks (the widths, presenter mode) run side by side on two pages,
each waiting for its own page to be still while the other goes on. ``SCREENS_DIR=folder`` also saves a screenshot of each page at each width there.
``python -m tests.app.browser.test_screens_browser`` prints the counts per page and width.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import pytest

from bench.server import browser, server
from tests.app.browser.chromium import new_page, shared_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
CHECKS = (Path(__file__).parent / "screens.js").read_text()
WIDTHS = (390, 800, 1400, 1920)
# axe-core's rules read the markup, which the width changes little: it runs at the narrowest and
# the widest (the layout checks run at every width)
AXE_WIDTHS = (390, 1920)
HEIGHT = 900
INPUT = "model=seed&input=sample:3"
# Each view (its name in links, its title) and tour step, in the order of their selectors
VIEWS = {"maps": "Feature maps", "field": "Receptive field", "saliency": "Saliency",
         "compare": "All methods", "atlas": "Atlas", "confusion": "Confusion"}
STEPS = ("convolution", "filters", "epochs", "1x1", "3x3", "feature-maps", "activation",
         "receptive-field", "rules")  # the tour's order (ui/tour/page.py imports them so)
# (name, path and query, how to get there from the page before: None = open the address) of
# every page and view. The views and steps after the first of their group are clicked (no new
# session); Trust measures the seven methods on the small "fast" network (seconds, where seed
# takes minutes).
FIRSTS = ("maps", "compare", "convolution", "3x3")  # each starts a group, by address
PAGES = ([(f"explore-{v}", f"?{INPUT}&view={v}", None if v in FIRSTS else
           f".st-key-view >> text='{title}'") for v, title in VIEWS.items()]
         + [("explore-trust", "?model=fast&input=sample:3&view=trust", None)]
         + [(f"tour-{s}", f"tour?{INPUT}&concept={s}", None if s in FIRSTS else
             ".st-key-tour-next button") for s in STEPS]
         + [("lab", f"lab?{INPUT}", None), ("train", f"train?{INPUT}", None)])
# The pages in groups that each start at an address: the tests of each group can run in parallel
# workers (each with its process's server and browser), and no one group takes most of the time
GROUPS = {"explore-1": [p for p in PAGES if p[0] in ("explore-maps", "explore-field",
                                                     "explore-saliency")],
          "explore-2": [p for p in PAGES if p[0] in ("explore-compare", "explore-atlas",
                                                     "explore-confusion", "explore-trust")],
          "tour-1": [p for p in PAGES if p[0].startswith("tour-")][:4],
          "tour-2": [p for p in PAGES if p[0].startswith("tour-")][4:],
          "lab-train": [p for p in PAGES if p[0] in ("lab", "train")]}
assert sum(map(len, GROUPS.values())) == len(PAGES) and all(g[0][2] is None for g in GROUPS.values())
# The picture of each view, which presenter mode shows in the first screen
PICTURES = {"maps": "[data-testid=lens] canvas", "field": "[data-testid=unit-field] canvas",
            "saliency": "[data-testid=saliency-map] canvas",
            "compare": "[data-testid=saliency-map] canvas",
            "atlas": "[class*=st-key-atlas-row] .main-svg", "confusion": ".st-key-cm-matrix .main-svg",
            "trust": "[data-testid=stDataFrame]"}  # the view's numbers; its curves follow
PRESENT_SIZES = ((1920, 1080), (1280, 720), (1400, 900))
# Busy signs; a stale element (data-stale: drawn by the run before, faded while a run is on)
# too, so that no check reads a faded page.
BUSY = ("[data-testid=stStatusWidget], [data-testid=stSpinner], [data-testid=stProgress], "
        "[data-testid=stSkeleton], [data-stale=true]")
AXE_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations'],
                                     rules: {region: {enabled: false}}});
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')
                  + ' :: ' + (n.failureSummary || '').split('\\n').slice(1, 2).join(''))}));
}"""


# Watches the page: the time of its last change (any element, attribute or text added, removed
# or changed), so that "still" means nothing changed for a while, not a count that stayed. A
# component that computes in the browser (the All methods grid, the live maps) says
# "updating ..." inside its shadow root, which the observer does not see: the page itself looks
# every 100 ms whether anything is busy (that, or a busy sign), and the quiet counts from when it
# is done
WATCH = """(busy) => {
  const w = window.screensWatch || (window.screensWatch = {});
  if (!w.observer) {
    w.busy = () => document.querySelector(busy) !== null || [...document.querySelectorAll('*')]
      .some((e) => e.shadowRoot && e.shadowRoot.textContent.includes('updating ...'));
    w.observer = new MutationObserver(() => { w.last = performance.now(); });
    w.observer.observe(document.body, {subtree: true, childList: true, attributes: true,
                                       characterData: true});
    setInterval(() => { if (w.busy()) w.last = performance.now(); }, 100);
  }
  w.last = performance.now();
}"""
STILL = """(ms) => { const w = window.screensWatch;
  if (w.busy()) { w.last = performance.now(); return false; }
  return performance.now() - w.last >= ms; }"""
QUIET_MS = 1000  # how long nothing may change before the page counts as still
POLL_S = 0.1  # how often the walks look whether their pages are still


def settle(page, timeout: float = 180.0):
    """Steps (a generator: each ``yield`` is one look that found the page not still yet) until
    the app has run, nothing computes in the background and the page is still: no busy sign and
    no change to the page for ``QUIET_MS`` (counted from now at the least)."""
    page.evaluate(WATCH, BUSY)
    deadline = time.monotonic() + timeout
    while not page.evaluate(STILL, QUIET_MS):
        if time.monotonic() > deadline:
            raise TimeoutError("the page kept computing")
        yield


def open_app(page, url: str, path: str, click: str | None = None):
    """Steps: open ``path``, or go there by clicking ``click`` on the page that is open."""
    if click:
        page.locator(click).first.click()
        time.sleep(0.3)
        yield from settle(page)
        return
    page.goto(f"{url}/{path}")
    shown = page.locator("[data-testid=stMainBlockContainer] [data-testid=stElementContainer] "
                         ">> visible=true").first
    deadline = time.monotonic() + 120
    while not shown.is_visible():
        if time.monotonic() > deadline:
            raise TimeoutError("the app showed nothing in 120 s")
        yield
    yield from settle(page)


def sidebar(page, open_: bool) -> None:
    """Open or close the sidebar (it exists on every page, once the app's run has drawn it: a
    page whose main area shows first has none for a moment, open or closed)."""
    state = ("(document.querySelector('[data-testid=stSidebar]')"
             "?.getAttribute('data-collapsed') ?? null)")
    page.wait_for_function(f"() => {state} !== null", timeout=60_000)
    if (page.evaluate(f"() => {state}") == "false") == open_:
        return
    button = ("[data-testid=stExpandSidebarButton]" if open_
              else "[data-testid=stSidebarCollapseButton] button")
    page.locator(button).first.click(force=True)
    page.wait_for_function("(o) => document.querySelector('[data-testid=stSidebar]')"
                           "?.getAttribute('data-collapsed') === String(!o)", arg=open_,
                           timeout=10_000)
    time.sleep(0.4)


def resize(page, width: int, height: int):
    """Steps: give the window this size and wait until the page is still (plotly and the
    components follow the window's size). A window already this size changes nothing: the page
    was still when it was opened, so it is not watched again."""
    if page.viewport_size == {"width": width, "height": height}:
        return
    page.set_viewport_size({"width": width, "height": height})
    yield from settle(page)


def together(*walks) -> None:
    """Run the walks' steps side by side (each on a page of its own): while one page computes
    or is watched, the others go on."""
    going = list(walks)
    try:
        while going:
            for steps in list(going):
                try:
                    next(steps)
                except StopIteration:
                    going.remove(steps)
            if going:
                time.sleep(POLL_S)
    finally:
        for steps in going:
            steps.close()


def axe(page) -> list[dict]:
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(AXE_RUN)


def shoot(page, name: str) -> None:
    """A screenshot of the whole page (the main area scrolls, so the window is made tall)."""
    folder = os.environ.get("SCREENS_DIR")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    tall = page.evaluate("() => Math.max(...[...document.querySelectorAll("
                         "'[data-testid=stMain], [data-testid=stSidebar][data-collapsed=false] "
                         "[data-testid=stSidebarContent]')].map((e) => e.scrollHeight))")
    if tall > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": min(int(tall) + 20, 6000)})
        time.sleep(0.6)
    page.screenshot(path=str(Path(folder) / f"{name}.png"))
    page.set_viewport_size(size)


def walk_steps(app: tuple[str, object], pages, found: dict, opened: set | None = None):
    """Steps that fill ``found`` with {(page, width): {"layout": [problems], "axe":
    [violations]}} over ``pages`` and every width; each page's name goes into ``opened`` once
    it has opened (or failed to), and None when the walk ends."""
    opened = set() if opened is None else opened
    try:
        yield from _walk_steps(app, pages, found, opened)
    finally:
        opened.add(None)


def _walk_steps(app: tuple[str, object], pages, found: dict, opened: set):
    url, page = app
    for name, path, click in pages:
        page.set_viewport_size({"width": WIDTHS[-1], "height": HEIGHT})
        try:
            yield from open_app(page, url, path, click)
        except Exception as exc:  # noqa: BLE001 - say which page failed, then the others
            found[(name, 0)] = {"layout": [f"did not open: {exc}".splitlines()[0]], "axe": []}
            shoot(page, f"{name}-failed")
            continue
        finally:
            opened.add(name)
        for width in sorted(WIDTHS, reverse=True):
            yield from resize(page, width, HEIGHT)
            sidebar(page, width > 400)  # a phone opens the page, its sidebar closed
            found[(name, width)] = {"layout": page.evaluate(CHECKS, {}),
                                    "axe": axe(page) if width in AXE_WIDTHS else []}
            shoot(page, f"{name}-{width}")


def presenting_steps(app: tuple[str, object], pages, found: dict, after: set | None = None):
    """Steps that fill ``found`` with {(page, size): [problems]} over ``pages`` in presenter
    mode: small text, a view's picture below the first screen. With ``after`` (the ``opened`` of
    a walk of the same pages on the same server), each page opens once the walk has opened it,
    so that it finds the page's computations done."""
    url, page = app
    for name, path, click in pages:
        while after is not None and name not in after and None not in after:
            yield
        view = name.removeprefix("explore-")
        sizes = PRESENT_SIZES if view in PICTURES else PRESENT_SIZES[:2]
        page.set_viewport_size({"width": sizes[0][0], "height": sizes[0][1]})
        try:
            yield from open_app(page, url, path + "&present=1", click)
        except Exception as exc:  # noqa: BLE001 - say which page failed, then the others
            found[(name, "all")] = [f"did not open: {exc}".splitlines()[0]]
            continue
        for width, height in sizes:
            yield from resize(page, width, height)
            problems = page.evaluate(CHECKS, {"minFont": 18, "minChartFont": 16})
            if view in PICTURES:
                try:
                    box = page.locator(f"{PICTURES[view]} >> visible=true").first.bounding_box(
                        timeout=10_000)
                except Exception:  # noqa: BLE001 - not there at all: reported below
                    box = None
                top = None if box is None else box["y"]
                if top is None or top > height - 100:  # 100 px of it in the first screen
                    problems.append(f"picture below the first screen: {PICTURES[view]} at "
                                    f"{top} px of {height}")
            found[(name, f"{width}x{height}")] = problems
            if (width, height) != (1400, 900):
                shoot(page, f"present-{name}-{width}x{height}")


def walk(app: tuple[str, object], pages=PAGES) -> dict[tuple[str, int], dict]:
    """{(page, width): {"layout": [problems], "axe": [violations]}} over ``pages`` and every
    width."""
    found: dict = {}
    together(walk_steps(app, pages, found))
    return found


def walk_presenting(app: tuple[str, object], pages=PAGES) -> dict[tuple[str, str], list[str]]:
    """{(page, size): [problems]} over ``pages`` in presenter mode: small text, a view's picture
    below the first screen."""
    found: dict = {}
    together(presenting_steps(app, pages, found))
    return found


@pytest.fixture(scope="module")
def walked():
    """The group's walks, both at once on two pages of the process's shared server and browser
    (each waits on its own page while the other goes on; presenter mode opens each page once the
    walk has computed it), made for the first of its two tests:
    {group: ({(page, width): found}, {(page, size): problems})}."""
    done: dict[str, tuple[dict, dict]] = {}
    with new_page(WIDTHS[-1], HEIGHT) as page, new_page(*PRESENT_SIZES[0]) as presenting:
        url = shared_server().rstrip("/")

        def of(group: str) -> tuple[dict, dict]:
            if group not in done:
                found: dict = {}
                present: dict = {}
                opened: set = set()
                together(walk_steps((url, page), GROUPS[group], found, opened),
                         presenting_steps((url, presenting), GROUPS[group], present, opened))
                done[group] = (found, present)
            return done[group]

        yield of


def _report(found: dict, key: str | None) -> str:
    lines = []
    for (name, width), got in found.items():
        items = got if key is None else got[key]
        for item in items:
            if isinstance(item, dict):
                lines.append(f"{name} @ {width}: axe {item['id']} ({item['impact']}) on "
                             f"{len(item['nodes'])}: {item['nodes'][:3]}")
            else:
                lines.append(f"{name} @ {width}: {item}")
    return "\n".join(lines)


# Both tests of a group in one worker: its pages' computations (cached by the server of the
# worker's process) run once, and its two walks run side by side
GROUP_PARAMS = [pytest.param(g, id=g, marks=pytest.mark.xdist_group(f"screens-{g}")) for g in GROUPS]


@pytest.mark.parametrize("group", GROUP_PARAMS)
def test_every_page_at_every_width(walked, group: str) -> None:
    found = walked(group)[0]
    layout = _report(found, "layout")
    violations = _report(found, "axe")
    assert not layout and not violations, f"{layout}\n{violations}"


@pytest.mark.parametrize("group", GROUP_PARAMS)
def test_presenter_mode_is_large_and_shows_the_pictures_first(walked, group: str) -> None:
    found = walked(group)[1]
    problems = _report(found, None)
    assert not problems, problems


def main() -> None:
    """Print the counts per page and width (layout problems; serious or critical axe nodes by
    rule) and write them as JSON to the file named by ``$SCREENS_JSON`` when set."""
    started = time.monotonic()
    with server() as url, browser(WIDTHS[-1], HEIGHT) as page:
        found = walk((url.rstrip("/"), page))
        presenting = walk_presenting((url.rstrip("/"), page))
    rules: Counter = Counter()
    print(f"{'page':24} {'width':>5} {'layout':>6} {'axe nodes':>9}  rules")
    for (name, width), got in found.items():
        by_rule = {v["id"]: len(v["nodes"]) for v in got["axe"]}
        rules.update(by_rule)
        print(f"{name:24} {width:>5} {len(got['layout']):>6} {sum(by_rule.values()):>9}  {by_rule}")
    print("serious or critical axe nodes by rule:", dict(rules))
    print("presenter mode problems:", {f"{k[0]} @ {k[1]}": len(v) for k, v in presenting.items()})
    if os.environ.get("SCREENS_JSON"):
        Path(os.environ["SCREENS_JSON"]).write_text(json.dumps(
            {"pages": {f"{k[0]}@{k[1]}": v for k, v in found.items()},
             "present": {f"{k[0]}@{k[1]}": v for k, v in presenting.items()}}, indent=1))
    print(f"{time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
