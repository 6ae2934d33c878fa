"""Make the README's screenshots from the running app, so they can be made again after a change.

Starts ``streamlit run app.py`` on a free port of 127.0.0.1 (a temp runs folder, so the class is
thrown away), opens the key pages in Debian's Chromium through Playwright, crops each to the
part worth showing and writes small palette PNGs beside this file.

    MNIST_DIR=/path/to/mnist .venv/bin/python docs/screenshots/make.py [--only NAME ...]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from bench.server import browser, server  # noqa: E402

INPUT = "model=seed&sample=18"
BUSY = ("[data-testid=stStatusWidget], [data-testid=stSpinner], [data-testid=stProgress], "
        "[data-testid=stSkeleton]")


def settle(page, timeout: float = 180.0) -> None:
    """Wait until the app has run, nothing computes and the page holds still."""
    deadline = time.monotonic() + timeout
    quiet, last = 0, None
    while quiet < 4:
        if time.monotonic() > deadline:
            raise TimeoutError("the page kept computing")
        now = page.evaluate(f"() => [!!document.querySelector({BUSY!r}), "
                            f"document.querySelectorAll('[data-testid=stMain] *').length]")
        quiet = 0 if now[0] or now != last else quiet + 1
        last = now
        time.sleep(0.3)


def open_(page, url: str, path: str, ready: str, width: int, height: int) -> None:
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{url}{path}")
    page.locator(ready).first.wait_for(state="attached", timeout=120_000)
    settle(page)
    time.sleep(0.8)  # plotly and the canvases finish their drawing


def hover(page, canvas: str, frac: tuple[float, float]) -> None:
    """Move the pointer to a fraction (y, x) of a canvas: the unit there shows its field."""
    box = page.locator(canvas).first.bounding_box()
    page.mouse.move(box["x"] + frac[1] * box["width"], box["y"] + frac[0] * box["height"])
    time.sleep(0.5)


def save(page, name: str, clip: dict | None = None, colours: int = 128) -> Path:
    """The window (or ``clip``) as an adaptive-palette PNG, ``colours`` colours."""
    from PIL import Image
    png = page.screenshot(clip=clip) if clip else page.screenshot()
    image = Image.open(io.BytesIO(png)).convert("RGB")
    small = image.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = HERE / f"{name}.png"
    small.save(out, optimize=True)
    print(f"{out.relative_to(ROOT)}: {image.width}x{image.height}, {out.stat().st_size / 1024:.0f} kB")
    return out


def main_clip(page, height: int) -> dict:
    """The main area (right of the sidebar), ``height`` px from the top of the window."""
    box = page.locator("[data-testid=stMain]").bounding_box()
    return {"x": box["x"], "y": 0, "width": box["width"], "height": height}


def explore_lens(page, url: str) -> None:
    open_(page, url, f"?{INPUT}&layer=relu3", "[data-testid=lens] canvas.focus", 1920, 1080)
    hover(page, "[data-testid=lens] canvas.focus", (0.3, 0.55))
    save(page, "explore-lens")


def field(page, url: str) -> None:
    open_(page, url, f"?{INPUT}&layer=conv3&view=field&unit=2,5,7",
          "[data-testid=unit-field] .unit[data-unit='conv3,2,5,7']", 1400, 900)
    settle(page)
    hover(page, "[data-testid=unit-field] canvas", (5.5 / 28, 7.5 / 28))  # the picked unit
    save(page, "receptive-field")


def all_methods(page, url: str) -> None:
    open_(page, url, f"?{INPUT}&view=compare", "[data-testid=saliency-map] canvas", 1920, 1080)
    save(page, "saliency-all-methods")


def tour(page, url: str) -> None:
    open_(page, url, f"tour?{INPUT}&concept=convolution", "[data-testid=stMainBlockContainer] [data-testid=stElementContainer]", 1400, 900)
    save(page, "tour-convolution")


def lab(page, url: str) -> None:
    open_(page, url, f"lab?{INPUT}", "[data-testid=stDataFrame], [data-testid=stDataFrameResizable]",
          1920, 1000)
    save(page, "lab")


def classroom(page, url: str) -> None:
    open_(page, url, "?class=new", "[data-testid=class-code]", 1920, 1080)
    page.get_by_role("link", name="Class").first.click()
    page.locator("[data-testid=class-code]").first.wait_for(timeout=60_000)
    settle(page)
    save(page, "class", clip={"x": 0, "y": 0, "width": 1920, "height": 480})


def presenter(page, url: str) -> None:
    open_(page, url, f"?{INPUT}&layer=conv3&view=field&unit=2,5,7&present=1",
          "[data-testid=unit-field] canvas", 1920, 1080)
    save(page, "presenter")


def phone(page, url: str) -> None:
    open_(page, url, f"?{INPUT}&layer=relu3", "[data-testid=lens] canvas.focus", 390, 844)
    page.locator("[data-testid=lens]").first.scroll_into_view_if_needed()
    time.sleep(0.5)
    hover(page, "[data-testid=lens] canvas.focus", (0.3, 0.55))
    save(page, "phone")


SHOTS = {"explore-lens": explore_lens, "receptive-field": field,
         "saliency-all-methods": all_methods, "tour-convolution": tour, "lab": lab,
         "class": classroom, "presenter": presenter, "phone": phone}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=sorted(SHOTS), help="make only these")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"CNN_LENS_RUNS_DIR": str(Path(tmp) / "runs")}
        with server(env) as url, browser(1920, 1080) as page:
            for name, shot in SHOTS.items():
                if not args.only or name in args.only:
                    shot(page, url)


if __name__ == "__main__":
    main()
