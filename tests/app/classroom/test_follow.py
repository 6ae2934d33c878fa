"""Following the teacher under AppTest: the view follows, a student's own digit stays (and the
"Send to the class" row with it), the seat and presenter mode stay in the address bar."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.app.classroom.test_app import open_app, start_class
from tests.app.test_app import ok

pytestmark = pytest.mark.slow  # several app sessions, each runs the network


@pytest.fixture(autouse=True)
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_LENS_RUNS_DIR", str(tmp_path))
    return tmp_path


def params(at: AppTest) -> dict[str, str]:
    return {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}


def teacher_exploring() -> tuple[AppTest, str]:
    """A teacher on the Explore page, sample 5, its view published."""
    teacher, code, _ = start_class()
    teacher.switch_page("ui/pages/explorer.py").run()
    ok(teacher)
    teacher.slider(key="in.sample.any").set_value(5).run()
    ok(teacher)
    return teacher, code


def change(teacher: AppTest, student: AppTest, **keys) -> None:
    """The teacher changes ``keys`` of its session; the student's next poll reruns its app."""
    for k, v in keys.items():
        teacher.session_state[k] = v
    teacher.run()
    ok(teacher)
    student.run()
    ok(student)


def draw_a_one(student: AppTest) -> np.ndarray:
    ink = np.full((240, 240, 4), 255, np.uint8)
    ink[40:200, 100:130, :3] = 0
    student.session_state["in.drawing"] = ink
    student.session_state["in.source"] = "Draw"
    student.session_state["view"] = "Feature maps"
    student.run()
    ok(student)
    return ink


def captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def test_a_followers_drawing_stays_when_the_teacher_changes_the_view() -> None:
    teacher, code = teacher_exploring()
    student = open_app(lens=True, **{"class": code})
    assert student.slider(key="in.sample.any").value == 5  # the teacher's digit, at first
    assert "until you draw or pick your own" in captions(student)
    seat = params(student)["seat"]
    ink = draw_a_one(student)
    assert student.button(key="class.send")  # the send row, while following
    change(teacher, student, view="Receptive field")
    # The view followed; the drawing, the Draw source and the send row stayed.
    assert student.session_state["view"] == "Receptive field"
    assert student.session_state["in.source"] == "Draw"
    assert np.array_equal(student.session_state["in.drawing"], ink)
    assert not student.button(key="class.send").disabled
    assert "the digit on your screen is yours" in captions(student)
    got = params(student)
    assert got["view"] == "field" and got["class"] == code and got["seat"] == seat
    assert "sample" not in got and "input" not in got  # a drawing has no link
    # The teacher picks another digit and a layer: the layer follows, the digit stays.
    change(teacher, student, **{"in.sample.any": 9, "layer.name": "conv2"})
    assert student.session_state["layer.name"] == "conv2"
    assert student.session_state["in.source"] == "Draw"
    assert np.array_equal(student.session_state["in.drawing"], ink)
    assert params(student)["seat"] == seat
    # Asked for, the teacher's digit replaces it, and follows the teacher again.
    student.button(key="class.take").click().run()
    ok(student)
    student.run()
    assert student.session_state["in.source"] == "Samples"
    assert student.slider(key="in.sample.any").value == 9
    change(teacher, student, **{"in.sample.any": 12})
    assert student.slider(key="in.sample.any").value == 12


def test_a_digit_picked_by_a_follower_stays_and_exploring_keeps_the_send_row() -> None:
    teacher, code = teacher_exploring()
    student = open_app(**{"class": code})
    assert student.slider(key="in.sample.any").value == 5
    assert "Digit from: Draw" in captions(student)  # how to send one, before any drawing
    student.slider(key="in.sample.any").set_value(40).run()
    ok(student)
    change(teacher, student, view="Saliency")
    assert student.session_state["view"] == "Saliency"
    assert student.slider(key="in.sample.any").value == 40
    assert params(student)["sample"] == "40"
    # Exploring on its own, a student with a drawing still has the send row.
    student.button(key="class.away").click().run()
    ok(student)
    draw_a_one(student)
    assert student.button(key="class.send") and not student.button(key="class.send").disabled


def test_a_new_class_in_presenter_mode_stays_in_it() -> None:
    teacher = open_app(**{"class": "new", "present": "1"})
    assert teacher.session_state["present.on"] is True
    assert params(teacher).get("present") == "1"
    assert any("stMainMenu" in m.value for m in teacher.markdown)  # presenter mode's CSS
    assert any("class-code" in m.value and "cl-present" in m.value for m in teacher.markdown)
    teacher.toggle(key="present.on").set_value(False).run()
    ok(teacher)
    assert "present" not in params(teacher)


def test_following_the_teacher_to_the_tour_and_back_keeps_the_teachers_digit() -> None:
    teacher, code = teacher_exploring()
    student = open_app(**{"class": code})
    change(teacher, student, **{"in.sample.any": 61})
    teacher.switch_page("ui/pages/tour.py").run()
    student.run()  # switches page
    student.run()
    assert student.slider(key="in.sample.any").value == 61  # the tour explains the same digit
    teacher.switch_page("ui/pages/explorer.py").run()
    student.run()
    student.run()
    got = params(student)
    assert got["sample"] == "61" and got["class"] == code and "seat" in got
