"""The unit record: each form a unit arrives in is read back to the same unit, and every form
that is not a unit reads as None."""

from __future__ import annotations

import math

import pytest

from viz.limits import LAYER_NAME_CHARS, UNIT_INDEX
from viz.network.unit import Unit

U = Unit("conv3", 2, 5, 7)


def test_every_form_reads_back_the_same_unit() -> None:
    assert Unit.from_link("conv3", U.link) == U and U.link == "2,5,7"
    assert Unit.from_text(str(U)) == U and str(U) == "conv3,2,5,7"
    assert Unit.from_browser(U.record()) == U
    assert Unit.from_record(U.record()) == U
    assert U.record() == {"layer": "conv3", "c": 2, "y": 5, "x": 7}
    assert Unit.at("conv3", U.cyx) == U and U.cyx == (2, 5, 7)
    assert U.moved(y=0) == Unit("conv3", 2, 0, 7) and U.y == 5  # frozen: a new unit
    assert Unit.from_text("a,b,1,2,3") == Unit("a,b", 1, 2, 3)  # the layer is what is left


@pytest.mark.parametrize("value", [
    None, "conv3", [], {"layer": "conv3"}, {"layer": "", "c": 1, "y": 1, "x": 1},
    {"layer": "x" * (LAYER_NAME_CHARS + 1), "c": 1, "y": 1, "x": 1},
    {"layer": 3, "c": 1, "y": 1, "x": 1}, {"layer": "conv3", "c": "one", "y": 1, "x": 1},
    {"layer": "conv3", "c": True, "y": 1, "x": 1}, {"layer": "conv3", "c": 1.5, "y": 1, "x": 1},
    {"layer": "conv3", "c": math.inf, "y": 1, "x": 1},
    {"layer": "conv3", "c": math.nan, "y": 1, "x": 1},
    {"layer": "conv3", "c": -1, "y": 1, "x": 1},
    {"layer": "conv3", "c": UNIT_INDEX, "y": 1, "x": 1},
])
def test_a_browser_value_that_is_not_a_unit_is_none(value) -> None:
    assert Unit.from_browser(value) is None


def test_a_browser_sends_whole_floats() -> None:
    assert Unit.from_browser({"layer": "conv3", "c": 2.0, "y": 5, "x": 7}) == U


def test_the_session_record_keeps_units_outside_their_layer_for_the_view_to_move() -> None:
    far = {"layer": "relu5", "c": 10 ** 9, "y": -4, "x": 99}
    assert Unit.from_record(far) == Unit("relu5", 10 ** 9, -4, 99)
    assert Unit.from_record({**far, "y": 1.0}) is None  # not ints
    assert Unit.from_record({**far, "x": False}) is None
    assert Unit.from_record({"layer": "relu5", "c": 1, "y": 1}) is None
    assert Unit.from_record("relu5,1,1,1") is None


@pytest.mark.parametrize("text", ["", "1,2", "1,2,3,4", "a,2,3", "-1,2,3", "1,2,3.5", " 1,2,3",
                                  "1,2,1234567", None, 5])
def test_link_text_that_is_not_a_unit_is_none(text) -> None:
    assert Unit.from_link("conv3", text) is None


def test_the_page_hook_needs_a_layer_and_three_numbers() -> None:
    assert Unit.from_text("1,2,3") is None
    assert Unit.from_text(",1,2,3") is None  # no layer name
    assert Unit.from_link("", "1,2,3") is None
