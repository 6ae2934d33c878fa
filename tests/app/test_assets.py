"""The components' scripts as static files (``ui.components.assets``): written once, atomically and
readable, under names carrying their content's hash; the loader imports that file; the folder is
bounded; and with static serving off (or a folder that cannot be written) the script goes inline.
The browser side (the loader fetching and mounting) runs in every Chromium test of a component.
"""

from __future__ import annotations

import hashlib
import re
import stat
from pathlib import Path

import pytest
import streamlit as st
from streamlit import config

from ui.components import assets


@pytest.fixture
def static(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "static" / assets.SUBFOLDER
    monkeypatch.setattr(assets, "folder", lambda: where)
    monkeypatch.setattr(assets, "_written", {})
    before = st.get_option("server.enableStaticServing")
    config.set_option("server.enableStaticServing", True)
    yield where
    config.set_option("server.enableStaticServing", before)


def test_a_script_is_written_once_by_its_hash_and_readable(static: Path) -> None:
    text = "export default function () {}\n"
    url = assets.script_url("lens", text)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    assert url == f"/app/static/cnnlens/lens-{digest}.js"
    path = static / f"lens-{digest}.js"
    assert path.read_text() == text
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # a proxy serving the folder reads it
    assert [p.name for p in static.iterdir()] == [path.name]  # no temp file left
    path.write_text("changed by hand")
    assert assets.script_url("lens", text) == url  # known to this process: not rewritten
    assert assets.script_url("lens", text + " ") != url  # another content, another name


def test_a_file_of_the_wrong_size_is_written_again(static: Path) -> None:
    text = "export default function () {}\n"
    url = assets.script_url("lens", text)
    path = static / url.rsplit("/", 1)[1]
    path.write_text("truncated")
    assets._written.clear()  # another process (or a restart) finds the file
    assert assets.script_url("lens", text) == url
    assert path.read_text() == text


def test_the_folder_keeps_the_newest_files_within_its_bound(static: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(assets, "STATIC_ASSET_BYTES", 250)
    for k in range(5):
        assert assets.publish(f"f{k}.js", bytes([65 + k]) * 100) is not None
    names = sorted(p.name for p in static.iterdir())
    assert names == ["f3.js", "f4.js"]  # 200 bytes: the oldest went
    assert "f0.js" not in assets._written  # a pruned file is written again when asked for


def test_the_base_url_path_prefixes_the_address(static: Path) -> None:
    config.set_option("server.baseUrlPath", "/class/")
    try:
        assert assets.publish("x.js", b"1") == "/class/app/static/cnnlens/x.js"
    finally:
        config.set_option("server.baseUrlPath", "")


def test_without_static_serving_or_a_writable_folder_the_script_goes_inline(
        static: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config.set_option("server.enableStaticServing", False)
    assert assets.script_url("lens", "x") is None
    config.set_option("server.enableStaticServing", True)
    blocker = static.parent / "file"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("")
    monkeypatch.setattr(assets, "folder", lambda: blocker / "cnnlens")  # under a file: no mkdir
    assert assets.script_url("lens", "x") is None


def test_the_loader_imports_the_file_once_and_mounts_with_it() -> None:
    js = assets.loader("saliency panel", "/app/static/cnnlens/s-0123.js")
    assert re.search(r'const SRC = "/app/static/cnnlens/s-0123.js"', js)
    assert "export default function (component)" in js
    assert "m.default(component)" in js  # the real script mounts the component
    assert "reload the page" in js  # a failed fetch says what to do


def test_every_component_is_registered_with_its_loader(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The registered script is the loader of the full script's file (its text unchanged)."""
    from ui import components
    where = tmp_path / "static" / assets.SUBFOLDER
    monkeypatch.setattr(assets, "folder", lambda: where)
    monkeypatch.setattr(assets, "_written", {})
    before = st.get_option("server.enableStaticServing")
    config.set_option("server.enableStaticServing", True)
    seen: dict[str, str] = {}
    monkeypatch.setattr(st.components.v2, "component",
                        lambda name, html, css, js, isolate_styles: seen.setdefault(name, js))
    try:
        for stem in components.SHARED_JS:
            components.component.clear()
            components.component(stem)
            src = re.search(r'const SRC = "([^"]+)"', seen[f"cnn_{stem}"]).group(1)
            assert (where / src.rsplit("/", 1)[1]).read_text() == components.script(stem)
    finally:
        components.component.clear()
        config.set_option("server.enableStaticServing", before)
