"""URL state: round trip, and every kind of bad parameter dropped with a reason."""

import pytest

from viz.urlstate import ViewState, encode, parse

ARGS = dict(models=["seed", "compact"], layers=["conv1", "relu1"], methods=["saliency"],
            views=["explore", "lab"], n_samples=200, n_test=10000)


def test_round_trip():
    state = ViewState(model="seed", layer="relu1", unit=(2, 14, 3), method="saliency",
                      input=("test", 9999), view="lab")
    back = parse(encode(state), **ARGS)
    assert back == state and back.problems == []


def test_lists_take_the_last_value():
    assert parse({"model": ["compact", "seed"]}, **ARGS).model == "seed"


@pytest.mark.parametrize("params,message", [
    ({"model": "vgg"}, "model 'vgg' is not available"),
    ({"layer": "conv9"}, "layer 'conv9' is not in this model"),
    ({"unit": "1,2"}, "channel,row,column"),
    ({"unit": "a,b,c"}, "channel,row,column"),
    ({"unit": "-1,2,3"}, "channel,row,column"),
    ({"method": "magic"}, "method 'magic' is unknown"),
    ({"input": "sample:200"}, "only 200 sample digits"),
    ({"input": "photo:1"}, "sample:N or test:N"),
    ({"input": "test:x"}, "sample:N or test:N"),
    ({"view": "nope"}, "view 'nope' is unknown"),
])
def test_bad_values_are_dropped_with_a_reason(params, message):
    state = parse({**params, "model": params.get("model", "seed")}, **ARGS)
    assert len(state.problems) == 1 and message in state.problems[0]
    assert encode(state).keys() <= {"model"}


def test_empty_and_unknown_keys_are_ignored():
    assert parse({"model": "", "colour": "red"}, **ARGS) == ViewState()
