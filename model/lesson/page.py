"""The lesson page's files: its scripts and styles copied from the app's browser code, its
colours from ``viz.pictures.style``, and the data scripts (a network's lens payload, its tables,
the sample digits) that assign globals, since ``fetch()`` of a local file fails from file://.

Nothing here is duplicated browser code: the shared modules of ``ui/components/js`` (the
forward pass, the attribution engine, the drawing pad ...), the lens component and the lesson's
own page (``ui/lesson``) are read from their files.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from viz.browser.lens import ATTRIBUTE_JS
from viz.pictures import style

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "ui" / "components" / "js"  # the app's shared browser modules
LENS = ROOT / "ui" / "components" / "lens"  # the feature-map lens component
PAGE = ROOT / "ui" / "lesson"  # the lesson's page, styles and view scripts
# Load order: the shared modules the lens loads in the app (ui.components.SHARED_JS["lens"]; a
# test checks they are the same), then the lens, then the lesson's own scripts.
SHARED_MODULES = ("constants", "canvas", "timing", "keys", "mount", "decode", "forward",
                  "backward", "attribute", "preprocess", "pad")
LESSON_MODULES = ("lesson", "views", "tables")
LENS_EXPORT = "export default function (component)"


def lens_script() -> str:
    """The lens component's script as a classic script (file:// refuses ES modules): its one
    ``export default`` becomes a plain function, ``mountLens``."""
    text = (LENS / "lens.js").read_text(encoding="utf-8")
    if text.count(LENS_EXPORT) != 1:
        raise RuntimeError("lens.js no longer ends with one 'export default function "
                           "(component)': update model.lesson.page.lens_script")
    return text.replace(LENS_EXPORT, "function mountLens(component)")


def style_script() -> str:
    """The app's colours for the lesson's canvases, written from ``viz.pictures.style``."""
    colours = {"blue": style.BLUE, "orange": style.ORANGE, "darkOrange": style.DARK_ORANGE,
               "paleBlue": style.PALE_BLUE, "grey": style.GREY, "gridGrey": style.GRID_GREY,
               "panel": style.PANEL, "text": style.TEXT, "caption": style.CAPTION,
               "categorical": list(style.CATEGORICAL)}
    return ("// The app's colours (written from viz/pictures/style.py when the lesson was made).\n"
            f"const LESSON_STYLE = {json.dumps(colours)};\n")


def engine_script() -> str:
    """The sources of attribute.js's Web Worker (the modules ``ATTRIBUTE_JS`` lists, joined) as
    a string constant: a worker cannot load a file from file://, so the page makes it from
    this text (``attributionWorker(LESSON_ENGINE_SOURCE)``)."""
    text = "\n".join((SHARED / f"{m}.js").read_text(encoding="utf-8") for m in ATTRIBUTE_JS)
    return ("// The attribution worker's source: ui/components/js's modules ATTRIBUTE_JS lists.\n"
            f"const LESSON_ENGINE_SOURCE = {json.dumps(text)};\n")


def scripts() -> dict[str, str]:
    """``js/NAME.js`` -> text, in load order."""
    out = {f"js/{m}.js": (SHARED / f"{m}.js").read_text(encoding="utf-8") for m in SHARED_MODULES}
    out["js/style.js"] = style_script()
    out["js/engine-source.js"] = engine_script()
    out["js/lens.js"] = lens_script()
    for m in LESSON_MODULES:
        out[f"js/lesson-{m}.js"] = (PAGE / f"{m}.js").read_text(encoding="utf-8")
    return out


def stylesheet() -> str:
    """The lens's stylesheet and the lesson's, colours filled in from ``viz.pictures.style``."""
    return "\n".join(style.css((p).read_text(encoding="utf-8"))
                     for p in (LENS / "lens.css", PAGE / "lesson.css"))


def data_script(name: str, value: Any) -> str:
    """A script that sets ``window.LESSON_DATA[name]`` (one JSON value)."""
    return ("window.LESSON_DATA = window.LESSON_DATA || {};\n"
            f"window.LESSON_DATA[{json.dumps(name)}] = {json.dumps(value, separators=(',', ':'))};\n")


def samples_value(images: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """The sample digits as base64 of N x 784 bytes, and their labels."""
    return {"n": int(len(images)), "labels": [int(v) for v in labels],
            "b64": base64.b64encode(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
            .decode("ascii")}


def index_html(title: str, script_names: list[str]) -> str:
    """The page: the lesson's template with the lens's markup and every script in order."""
    template = (PAGE / "lesson.html").read_text(encoding="utf-8")
    lens = (LENS / "lens.html").read_text(encoding="utf-8")
    tags = "\n".join(f'<script src="{html.escape(n)}"></script>' for n in script_names)
    for key, value in (("{{TITLE}}", html.escape(title)), ("{{LENS}}", lens),
                       ("{{SCRIPTS}}", tags)):
        if key not in template:
            raise RuntimeError(f"ui/lesson/lesson.html has no {key}")
        template = template.replace(key, value)
    return template
