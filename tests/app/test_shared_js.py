"""The browser code's layout: the shared modules (ui/components/js/) each component loads, one job per file,
and the constants the JavaScript shares with Python (no browser needed).

- every component's script is the shared modules ``ui.components.SHARED_JS`` lists for it, then
  its own file; every shared module is loaded by some component; no top-level name is declared
  twice in one component's script (one module's name would shadow or clash with another's);
- no JavaScript file is longer than 600 lines;
- ``ui/components/js/constants.js`` holds the same numbers as the Python it mirrors (``viz/pictures/style.py``'s
  colours and levels, ``viz.network.layers.INPUT_SHAPE``, ``viz/inputs/preprocess.py``, the
  attribution methods' numbers of ``model.saliency``); the components' CSS
  names ``viz/pictures/style.py``'s colours and gets them filled in; Streamlit's theme colour
  (``.streamlit/config.toml``) is ``viz.pictures.style.BLUE``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ui import components

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 600
DECLARED = re.compile(r"^(?:export\s+)?(?:const|let|var|function|class)\s+([A-Za-z_$][\w$]*)",
                      re.MULTILINE)


def _constants() -> dict[str, object]:
    """The literal values of ui/components/js/constants.js (``const NAME = <JSON> ...;`` lines and the
    STOPS object), by name."""
    text = (components.SHARED / "constants.js").read_text(encoding="utf-8")
    out: dict[str, object] = {}
    for name, value in re.findall(r"^const ([A-Z_]+) = ([^;]+);", text, re.MULTILINE):
        try:
            out[name] = json.loads(value)
        except json.JSONDecodeError:
            continue  # an expression (SIDE * SIDE, ...): not a literal
    block = re.search(r"^const STOPS = \{(.*?)^\};", text, re.MULTILINE | re.DOTALL)
    assert block, "constants.js: no STOPS object"
    body = re.sub(r"//[^\n]*", "", block.group(1))
    out["STOPS"] = {k: json.loads(v) for k, v in re.findall(r"(\w+): (\[[^\]]*\])", body)}
    return out


def _hex(rgb: tuple[int, ...] | list[int]) -> str:
    return "#" + "".join(f"{int(v):02x}" for v in rgb)


@pytest.mark.parametrize("stem", list(components.SHARED_JS))
def test_script_is_shared_modules_then_own_file(stem: str) -> None:
    files = [components.SHARED / f"{m}.js" for m in components.SHARED_JS[stem]]
    own = components.UI / stem / f"{stem}.js"
    script = components.script(stem)
    want = "\n".join(p.read_text(encoding="utf-8") for p in [*files, own])
    if stem in components.WORKERS:  # the attribution worker's source first, as one string
        head = f"const WORKER_SRC = {json.dumps(components.worker_source())};\n"
        assert script.startswith(head)
        script = script[len(head):]
    assert script == want
    assert "export default function" in own.read_text(encoding="utf-8")
    names = DECLARED.findall(script)
    twice = sorted({n for n in names if names.count(n) > 1})
    assert not twice, f"{stem}: declared in more than one of its files: {twice}"


def test_every_shared_module_is_loaded() -> None:
    used = {m for mods in components.SHARED_JS.values() for m in mods}
    present = {p.stem for p in components.SHARED.glob("*.js")}
    assert used == present, f"loaded but missing: {used - present}; unused: {present - used}"
    for stem, mods in components.SHARED_JS.items():
        assert mods[0] == "constants", f"{stem}: constants.js must come first (others use it)"
        assert len(set(mods)) == len(mods), f"{stem} lists a module twice"


def test_no_long_javascript_file() -> None:
    files = sorted((ROOT / "ui").rglob("*.js"))
    assert len(files) >= 10
    long = {str(p.relative_to(ROOT)): n for p in files
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"JavaScript files over {MAX_LINES} lines: {long}"


def test_constants_match_python() -> None:
    import plotly.colors

    from viz.inputs import preprocess
    from viz.network.layers import INPUT_SHAPE
    from viz.pictures import raster, style
    c = _constants()
    assert c["SIDE"] == INPUT_SHAPE[1] == INPUT_SHAPE[2] == preprocess.FRAME == 28
    assert c["BOX"] == preprocess.BOX
    assert c["CENTRE"] == preprocess.CENTRE
    assert c["INK_THRESHOLD"] == preprocess.INK_THRESHOLD
    assert tuple(c["ACCENT_RGB"]) == style.rgb(style.ORANGE) == raster.ORANGE
    assert tuple(c["PAD_GREY_RGB"]) == style.rgb(style.PAD_GREY) == raster.PAD_GREY
    assert tuple(c["YELLOW"]) == style.rgb(style.YELLOW) == raster.YELLOW
    assert c["BORDER_GREY"] == style.BORDER_GREY
    assert c["SENSITIVITY_GAMMA"] == raster.SENSITIVITY_GAMMA
    assert c["SIGNED_GAMMA"] == raster.SIGNED_GAMMA
    assert c["LEVELS"] == style.LEVELS
    assert c["BLUE"] == style.BLUE
    stops = c["STOPS"]
    assert stops["cividis"] == [s.lower() for s in style.CIVIDIS]
    assert stops["rdbu"] == [s.lower() for s in style.RDBU_R]
    assert stops["viridis"] == [s.lower() for s in plotly.colors.sequential.Viridis]
    assert stops["gray"] == ["#000000", "#ffffff"]


def test_attribution_constants_are_the_servers() -> None:
    """attribute.js computes the server's maps with the server's numbers."""
    from model.saliency import integrated_gradients, occlusion, smoothgrad
    from viz.inputs import preprocess
    from viz.limits import OCCLUSION_WINDOW
    from viz.network.layers import DEFAULT_LAYERS
    c = _constants()
    assert c["MNIST_STD"] == preprocess.STD
    assert c["IG_STEPS"] == integrated_gradients.STEPS
    assert c["SMOOTH_SAMPLES"] == smoothgrad.SAMPLES
    assert c["SMOOTH_NOISE"] == smoothgrad.NOISE
    assert c["OCCLUSION_WINDOW"] == OCCLUSION_WINDOW
    assert c["OCCLUSION_SAME"] == occlusion.SAME
    assert tuple(c["DEFAULT_LAYERS"]) == DEFAULT_LAYERS


def test_the_python_stops_are_plotlys_own_scales() -> None:
    """The pictures drawn without plotly (PNG, canvas) use the charts' colours: the stops of the
    scales plotly draws by name."""
    import plotly.colors

    from viz.pictures import style

    def named(scale: str) -> list[tuple[int, int, int]]:
        return [plotly.colors.unlabel_rgb(plotly.colors.convert_colors_to_same_type(c)[0][0])
                for _, c in plotly.colors.get_colorscale(scale)]
    assert [style.rgb(s) for s in style.CIVIDIS] == named(style.SEQUENTIAL)
    assert [style.rgb(s) for s in style.RDBU_R] == named(style.DIVERGING)
    assert len(style.CIVIDIS) == 10 and len(style.RDBU_R) == 11


CSS_FILES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "ui").rglob("*.css"))


def test_every_component_has_a_stylesheet() -> None:  # (ui/lesson's page has one too)
    assert {Path(p).stem for p in CSS_FILES if p.startswith("ui/components/")} == \
        set(components.SHARED_JS)


@pytest.mark.parametrize("path", CSS_FILES)
def test_component_css_takes_its_colours_from_python(path: str) -> None:
    from viz.pictures import style
    stem = Path(path).stem
    text = (ROOT / path).read_text(encoding="utf-8")
    css = style.css(text)
    assert "--cnn-" not in css
    named = set(re.findall(r"var\(--cnn-([a-z-]+)\)", text))
    assert named, f"{stem}.css names none of viz/pictures/style.py's colours"
    for name in named:
        assert style.CSS_COLOURS[name] in css
    literal = {c.lower() for c in re.findall(r"#[0-9a-fA-F]{6}\b", text)}
    shared = {v.lower() for v in style.CSS_COLOURS.values()}
    assert not literal & shared, f"{stem}.css writes {literal & shared} out: name them instead"


def test_streamlit_theme_accent_is_the_python_accent() -> None:
    import tomllib

    from viz.pictures import style
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["theme"]["primaryColor"].lower() == style.BLUE
