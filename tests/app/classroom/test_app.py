"""A class under AppTest: wrong and expired codes, the teacher link, and what a student may send
(bounds checked before anything is stored)."""

from __future__ import annotations

import json
import sqlite3
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from model.classroom import rules
from tests.app.test_app import APP, ok


@pytest.fixture(autouse=True)
def runs(tmp_path, monkeypatch):
    """A runs folder of its own: its classes.sqlite holds this test's classes only."""
    monkeypatch.setenv("CNN_LENS_RUNS_DIR", str(tmp_path))
    return tmp_path


def open_app(lens: bool = False, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["lens.on"] = lens  # the pad (and the send row beside it) is the lens's
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    ok(at)
    return at


def warnings(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning)


def start_class() -> tuple[AppTest, str, str]:
    teacher = open_app(**{"class": "new"})
    code = teacher.session_state["class.code"]
    return teacher, code, teacher.session_state["class.secret"]


def test_wrong_codes_are_named() -> None:
    at = open_app(**{"class": "ZZZ222"})
    assert "There is no class ZZZ222" in warnings(at)
    assert "class.role" not in at.session_state
    at = open_app(**{"class": "<img src=x onerror=alert(1)>"})
    shown = warnings(at)
    assert "is not a class code" in shown and "<img" not in shown.replace("\\<img", "")
    assert "class.role" not in at.session_state


def test_an_expired_class_cannot_be_joined(runs) -> None:
    _, code, _ = start_class()
    with sqlite3.connect(runs / "classes.sqlite") as db:
        db.execute("UPDATE classes SET touched = ? WHERE code = ?",
                   (time.time() - rules.EXPIRY_S - 60, code))
    at = open_app(**{"class": code})
    assert f"There is no class {code}" in warnings(at)
    assert "class.role" not in at.session_state


def test_the_teacher_link_resumes_the_class_and_leaves_the_address_bar() -> None:
    teacher, code, secret = start_class()
    assert teacher.session_state["class.role"] == "teacher"
    assert any("class-code" in m.value and code in m.value for m in teacher.markdown)
    again = open_app(**{"class": code, "teacher": secret})
    assert again.session_state["class.role"] == "teacher"
    assert again.session_state["class.code"] == code
    assert "teacher" not in again.query_params and "class" not in again.query_params
    forged = open_app(**{"class": code, "teacher": "guessed"})
    assert "does not match a running class" in warnings(forged)
    assert "class.secret" not in forged.session_state


def _drawn_student(code: str) -> AppTest:
    """A student in class ``code`` whose input is a drawing (the pad released)."""
    at = open_app(lens=True, **{"class": code})
    assert at.session_state["class.role"] == "student"
    ink = np.full((240, 240, 4), 255, np.uint8)
    ink[40:200, 100:130, :3] = 0  # a 1
    at.session_state["in.drawing"] = ink
    at.session_state["in.source"] = "Draw"
    at.session_state["view"] = "Feature maps"
    at.run()
    ok(at)
    return at


def _send(at: AppTest, meant, nick: str = "") -> str:
    at.session_state["class.meant"] = meant
    at.session_state["class.nick"] = nick
    at.button(key="class.send").click().run()
    out = " ".join(a.value for a in (*at.success, *at.error))
    return out


def test_sending_digits_and_the_bounds(runs) -> None:
    teacher, code, _ = start_class()
    student = _drawn_student(code)
    said = _send(student, 1, "Ada")
    assert "your 1 is in the class gallery" in said
    said = _send(student, 1)  # at once again
    assert "One digit every 2 s" in said
    time.sleep(2.1)
    assert "Say which digit you meant" in _send(student, None)
    with sqlite3.connect(runs / "classes.sqlite") as db:
        rows = db.execute("SELECT label, prediction, nickname, length(pixels) FROM digits "
                          "WHERE code = ?", (code,)).fetchall()
    assert len(rows) == 1
    label, prediction, nick, size = rows[0]
    assert (label, nick, size) == (1, "Ada", 784) and 0 <= prediction <= 9
    # The teacher's page shows it.
    teacher.run()
    assert any("The network read" in m.value and "of 1 correctly" in m.value
               for m in teacher.markdown)


def test_a_student_cannot_publish_or_end_the_class(runs) -> None:
    teacher, code, _ = start_class()
    student = open_app(**{"class": code})
    with sqlite3.connect(runs / "classes.sqlite") as db:
        before = db.execute("SELECT state, version, ended FROM classes WHERE code = ?",
                            (code,)).fetchone()
    # A student session that claims to be the teacher (a forged role, a guessed secret).
    student.session_state["class.role"] = "teacher"
    student.session_state["class.secret"] = "guessed"
    student.session_state["layer.name"] = "conv1"
    student.run()
    student.run()  # the refusal is said at the top of the next run
    assert "could not be updated" in warnings(student)
    assert "class.role" not in student.session_state  # it is out of the class
    with sqlite3.connect(runs / "classes.sqlite") as db:
        after = db.execute("SELECT state, version, ended FROM classes WHERE code = ?",
                           (code,)).fetchone()
    assert after == before
    assert json.loads(after[0])["params"].get("layer") != "conv1"


def test_a_reloading_student_keeps_its_seat_and_counts_once(runs) -> None:
    _, code, _ = start_class()
    student = open_app(**{"class": code})
    seat = student.query_params["seat"]
    seat = seat[0] if isinstance(seat, list) else seat
    assert rules.seat(seat) == seat and student.query_params["class"] in (code, [code])
    # A reload opens the address bar's link in a new session: the same seat, counted once.
    params = {k: v[0] if isinstance(v, list) else v for k, v in student.query_params.items()}
    again = open_app(**params)
    assert again.session_state["class.role"] == "student"
    assert again.session_state["class.student"] == seat
    other = open_app(**{"class": code})  # another student: another seat
    assert other.session_state["class.student"] != seat
    with sqlite3.connect(runs / "classes.sqlite") as db:
        joined = db.execute("SELECT COUNT(*) FROM students WHERE code = ?", (code,)).fetchone()
    assert joined == (2,)
    # A seat that cannot be one is ignored (a fresh seat is drawn), never stored as given.
    odd = open_app(**{"class": code, "seat": "'; DROP TABLE students; --"})
    assert rules.seat(odd.session_state["class.student"]) is not None
    assert rules.seat("ABCDEF0123456789") is None and rules.seat("0" * 17) is None

