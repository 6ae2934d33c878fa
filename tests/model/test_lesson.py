"""The lesson writer (python -m model.lesson): the folder's files, its size, its copies of the
app's browser code and colours, and its refusals (an unknown network; an --out that is a file or
a folder of someone's files, left untouched); written whole or not at all."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from model import lesson
from model.lesson import LessonError, folder_bytes, is_lesson, page, write_lesson
from model.lesson import __main__ as cli
from viz.pictures import style

DECLARED = re.compile(r"^(?:const|let|var|function|class)\s+([A-Za-z_$][\w$]*)", re.MULTILINE)
MB = 1_000_000


@pytest.fixture(scope="module")
def seed_lesson(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lesson") / "seed-lesson"
    return write_lesson(["seed"], out, trust_digits=3)


@pytest.mark.slow
def test_the_folder_has_the_page_its_scripts_and_data(seed_lesson: Path) -> None:
    html = (seed_lesson / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r'<script src="([^"]+)"></script>', html)
    assert scripts[:3] == ["data/samples.js", "data/net1.js", "data/lesson.js"]
    for rel in [*scripts, "lesson.css", "lesson.json"]:
        assert (seed_lesson / rel).is_file(), rel
    for name in ("maps", "field", "saliency", "compare", "atlas", "confusion", "trust"):
        assert f'data-testid="view-{name}"' in html
    assert 'data-testid="lens"' in html  # the lens's own markup, read from its file
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html)  # nothing from outside
    assert is_lesson(seed_lesson)
    assert json.loads((seed_lesson / "lesson.json").read_text())["networks"] == ["seed"]
    assert not list(seed_lesson.parent.glob(".*.part"))  # the temp folder was renamed


@pytest.mark.slow
def test_seed_lesson_is_within_5_mb(seed_lesson: Path) -> None:
    size = folder_bytes(seed_lesson)
    assert 0.5 * MB < size <= 5 * MB
    weights = (seed_lesson / "data" / "net1.js").stat().st_size
    assert weights < 3 * MB


@pytest.mark.slow
def test_scripts_are_the_apps_files_and_declare_each_name_once(seed_lesson: Path) -> None:
    from ui import components
    assert components.SHARED_JS["lens"] == page.SHARED_MODULES  # as the app's lens loads them
    for m in page.SHARED_MODULES:
        assert (seed_lesson / "js" / f"{m}.js").read_text() == (page.SHARED / f"{m}.js").read_text()
    lens = (seed_lesson / "js" / "lens.js").read_text()
    assert lens == (page.LENS / "lens.js").read_text().replace(page.LENS_EXPORT,
                                                                  "function mountLens(component)")
    assert not re.search(r"^\s*(?:export|import)\b", lens, re.MULTILINE)  # a classic script
    engine = (seed_lesson / "js" / "engine-source.js").read_text()
    text = json.loads(engine.split("const LESSON_ENGINE_SOURCE = ", 1)[1].rstrip().rstrip(";"))
    assert text == components.worker_source()  # the app's attribution worker, as text
    html = (seed_lesson / "index.html").read_text()
    names = []
    for rel in re.findall(r'<script src="(js/[^"]+)"></script>', html):
        names += DECLARED.findall((seed_lesson / rel).read_text())
    twice = sorted({n for n in names if names.count(n) > 1})
    assert not twice, f"declared by two of the lesson's scripts: {twice}"


@pytest.mark.slow
def test_colours_come_from_the_style_module(seed_lesson: Path) -> None:
    css = (seed_lesson / "lesson.css").read_text()
    assert "var(--cnn-" not in css
    assert style.BLUE in css and style.ORANGE in css
    js = (seed_lesson / "js" / "style.js").read_text()
    colours = json.loads(js.split("const LESSON_STYLE = ", 1)[1].rstrip().rstrip(";"))
    assert colours["categorical"] == list(style.CATEGORICAL)
    assert colours["blue"] == style.BLUE


@pytest.mark.slow
def test_a_lesson_is_replaced_whole(seed_lesson: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    out.mkdir()  # an empty folder is fine
    write_lesson(["seed"], out, trust_digits=2)
    (out / "stale.txt").write_text("from the old lesson")
    write_lesson(["seed"], out, trust_digits=2)  # a lesson may be replaced
    assert not (out / "stale.txt").exists()
    assert is_lesson(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again"]  # no temp or old folder left


def test_an_unknown_network_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(LessonError, match=r"unknown network 'no-such-net'.*seed"):
        write_lesson(["no-such-net"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "notes.safetensors"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(LessonError, match="notes.safetensors"):
        write_lesson([str(junk)], tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.safetensors"]


@pytest.mark.slow
def test_a_network_too_big_for_a_browser_is_refused_before_any_table(tmp_path: Path) -> None:
    with pytest.raises(LessonError, match="seed-original cannot run in a lesson: .*too big"):
        write_lesson(["seed", "seed-original"], tmp_path / "out")
    assert not list(tmp_path.iterdir())


def test_a_folder_of_someones_files_is_refused_and_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "notes"
    out.mkdir()
    (out / "plan.txt").write_text("my lesson plan")
    with pytest.raises(LessonError, match="not a lesson; it is left as it is"):
        write_lesson(["seed"], out)
    assert [p.name for p in out.iterdir()] == ["plan.txt"]
    assert (out / "plan.txt").read_text() == "my lesson plan"
    (tmp_path / "file").write_text("x")
    with pytest.raises(LessonError, match="not a folder"):
        write_lesson(["seed"], tmp_path / "file")
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / lesson.MARKER).write_text('{"kind": "something else"}')
    with pytest.raises(LessonError, match="not a lesson"):
        write_lesson(["seed"], fake)


def test_the_command_says_what_was_wrong(tmp_path: Path, capsys) -> None:
    assert cli.main(["no-such-net", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown network 'no-such-net'") and "Traceback" not in err
    assert cli.main(["seed", "--out", str(tmp_path / "o"), "--trust-digits", "0"]) == 2
    assert "--trust-digits 0" in capsys.readouterr().err
    assert cli.main(["seed"] * 9 + ["--out", str(tmp_path / "o")]) == 2
    assert "at most 8" in capsys.readouterr().err
