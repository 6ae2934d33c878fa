"""The class gallery on the teacher's screen: every digit sent, grouped by what the network read.

A small browser component (``st.components.v2``, inline below: a grid, no round trip to draw
it): one group per predicted digit, mistakes outlined in orange with the digit meant, nicknames
as text (``textContent``, never HTML). A click on a digit sets the component's trigger ``pick``
(its id); :func:`picked` reads it, checked. Test hooks: the grid is
``data-testid="class-gallery"`` with ``data-count`` = digits received.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import streamlit as st

from model.classroom import rules
from model.classroom.store import Digit
from viz import limits
from viz.inputs import preprocess, urlstate
from viz.pictures import style

HTML = '<div class="cg" data-testid="class-gallery" data-count="0"></div>'
CSS = """
.cg { display: flex; flex-wrap: wrap; gap: 10px; font-family: inherit; }
.cg-group { border: 1px solid var(--cnn-pale-blue); border-radius: 6px; padding: 6px;
            min-width: 90px; background: var(--cnn-panel); }
.cg-head { font-size: 1.05rem; color: var(--cnn-text); margin-bottom: 4px; }
.cg-head b { font-size: 1.6rem; color: var(--cnn-blue); }
.cg-cells { display: flex; flex-wrap: wrap; gap: 4px; max-width: 330px; }
.cg-digit { border: 2px solid transparent; padding: 0; background: transparent; cursor: pointer;
            display: flex; flex-direction: column; align-items: center; width: 60px; }
.cg-digit img { width: 56px; height: 56px; image-rendering: pixelated; display: block; }
.cg-digit.wrong { border-color: var(--cnn-dark-orange); }
.cg-digit:focus-visible, .cg-digit:hover { outline: 3px solid var(--cnn-orange); }
.cg-note { font-size: 0.7rem; color: var(--cnn-caption); max-width: 58px; overflow: hidden;
           white-space: nowrap; text-overflow: ellipsis; }
.cg-digit.wrong .cg-meant { color: var(--cnn-dark-orange); font-weight: 600; }
.cg-empty { color: var(--cnn-caption); }
"""
JS = """
export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const root = parentElement.querySelector('.cg');
  if (!root || !data || root.dataset.sig === data.sig) return;
  root.dataset.sig = data.sig;
  root.setAttribute('data-count', String(data.count));
  root.replaceChildren();
  if (!data.groups.length) {
    const p = document.createElement('div');
    p.className = 'cg-empty';
    p.textContent = 'Students draw a digit, say which it is, and press "Send to the class": it appears here.';
    root.append(p);
  }
  for (const g of data.groups) {
    const box = document.createElement('div');
    box.className = 'cg-group';
    const head = document.createElement('div');
    head.className = 'cg-head';
    const b = document.createElement('b');
    b.textContent = String(g.prediction);
    head.append('read as ', b, ` (${g.digits.length})`);
    const cells = document.createElement('div');
    cells.className = 'cg-cells';
    for (const d of g.digits) {
      const btn = document.createElement('button');
      btn.className = 'cg-digit' + (d.wrong ? ' wrong' : '');
      btn.dataset.id = String(d.id);
      btn.title = d.wrong ? `meant ${d.label}, read as ${g.prediction}` : `read as ${g.prediction}`;
      btn.setAttribute('aria-label', `digit ${d.id}: ` + btn.title + ' (show it on every screen)');
      const img = document.createElement('img');
      img.src = 'data:image/png;base64,' + d.png;
      img.alt = '';
      btn.append(img);
      if (d.wrong) {
        const m = document.createElement('span');
        m.className = 'cg-note cg-meant';
        m.textContent = `meant ${d.label}`;
        btn.append(m);
      }
      if (d.nickname) {
        const n = document.createElement('span');
        n.className = 'cg-note';
        n.textContent = d.nickname;
        btn.append(n);
      }
      btn.addEventListener('click', () => setTriggerValue('pick', d.id));
      cells.append(btn);
    }
    box.append(head, cells);
    root.append(box);
  }
}
"""


@st.cache_resource(show_spinner=False)
def _component():
    return st.components.v2.component("cnn_class_gallery", html=HTML, css=style.css(CSS), js=JS,
                                      isolate_styles=True)


@st.cache_data(show_spinner=False, max_entries=2000)
def _png(pixels: bytes) -> str:
    return base64.b64encode(preprocess.to_png(rules.digit_array(pixels))).decode("ascii")


def payload(digits: list[Digit]) -> dict[str, Any]:
    """The component's data: groups by prediction (0..9, empty ones left out), oldest first."""
    groups = []
    for p in range(10):
        members = [{"id": d.id, "label": d.label, "wrong": d.label != d.prediction,
                    "nickname": urlstate.cut(d.nickname, limits.NICKNAME_CHARS),
                    "png": _png(d.pixels)} for d in digits if d.prediction == p]
        if members:
            groups.append({"prediction": p, "digits": members})
    sig = hashlib.sha256(repr([(d.id, d.prediction) for d in digits]).encode()).hexdigest()[:16]
    return {"groups": groups, "count": len(digits), "sig": sig}


def summary(digits: list[Digit]) -> str:
    """"The network read 27 of 31 correctly." (or that the gallery is empty)."""
    if not digits:
        return "The gallery is empty."
    right = sum(d.label == d.prediction for d in digits)
    return f"The network read {right} of {len(digits)} correctly."


def render(digits: list[Digit], key: str, on_pick: Callable[[], None]) -> None:
    _component()(key=key, data=payload(digits), on_pick_change=on_pick)


def picked(key: str) -> int | None:
    """The id of the digit last clicked (the browser's to send: checked), or None."""
    try:
        value = st.session_state.get(key)
        raw = value.get("pick") if hasattr(value, "get") else None
    except Exception:  # noqa: BLE001 - a forged state never raises in a callback
        return None
    return urlstate.whole(raw)
