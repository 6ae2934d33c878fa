"""URL state: round trip, and every kind of bad parameter dropped with a reason."""

import pytest

from viz.inputs.urlstate import ViewState, encode, parse

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
    ({"model": "vgg"}, "model `vgg` is not available"),
    ({"layer": "conv9"}, "layer `conv9` is not in this model"),
    ({"unit": "1,2"}, "channel,row,column"),
    ({"unit": "a,b,c"}, "channel,row,column"),
    ({"unit": "-1,2,3"}, "channel,row,column"),
    ({"method": "magic"}, "method `magic` is unknown"),
    ({"input": "sample:200"}, "N a whole number from 0 to 199 (there are 200 sample digits)"),
    ({"input": "test:9999999"}, "from 0 to 9,999 (there are 10,000 test digits)"),
    ({"input": "test:" + "9" * 400}, "from 0 to 9,999 (there are 10,000 test digits)"),
    ({"input": "photo:1"}, "sample:N or test:N"),
    ({"input": "test:x"}, "sample:N or test:N"),
    ({"input": "sample:x"}, "from 0 to 199"),
    ({"view": "nope"}, "view `nope` is unknown"),
])
def test_bad_values_are_dropped_with_a_reason(params, message):
    state = parse({**params, "model": params.get("model", "seed")}, **ARGS)
    assert len(state.problems) == 1 and message in state.problems[0]
    assert encode(state).keys() <= {"model"}


def test_empty_and_unknown_keys_are_ignored():
    assert parse({"model": "", "colour": "red"}, **ARGS) == ViewState()


# ---------------------------------------------------------------------------------------------
# Hostile values: echoed as code, never markdown; numbers read strictly
# ---------------------------------------------------------------------------------------------

HOSTILE = [
    "![x](http://evil.example/p.png)",
    "[Session expired: log in again](http://evil.example/phish)",
    "<img src=x onerror=alert(1)>",
    "`code` then ![x](http://evil.example/p.png)",
    "line one\n\n# heading\n![x](http://evil.example/p.png)",
    "$\\LaTeX$ :red[big] **bold** www.evil.example http://evil.example",
    "\u202egnp.exe",
    "x" * 10_000,
    "",
]


def markdown_outside_code(text: str) -> list[str]:
    """The link, image, HTML or URL markdown left in ``text`` once code spans are taken out."""
    import re
    bare = re.sub(r"`[^`\n]*`", "", text)
    return [m for m in ("](", "![", "<img", "<http", "http://", "https://", "www.", "\n")
            if m in bare]


@pytest.mark.parametrize("value", HOSTILE)
def test_shown_is_one_short_code_span(value):
    from viz.inputs.urlstate import SHOWN, shown
    out = shown(value)
    assert out.startswith("`") and out.endswith("`") and out.count("`") == 2
    assert len(out) <= SHOWN + 2 and "\n" not in out and "\u202e" not in out
    assert markdown_outside_code(out) == []
    if len(value) > SHOWN:
        assert out.endswith("…`")


def unescaped(text: str, chars: str = "[]!<>`$*_\\") -> list[str]:
    """The markdown characters of ``text`` not escaped by a backslash."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\":
            i += 2  # an escape and the character it escapes
            continue
        if text[i] in chars:
            out.append(text[i])
        i += 1
    return out


@pytest.mark.parametrize("value", HOSTILE)
def test_plain_escapes_every_link_and_image(value):
    from viz.inputs.urlstate import plain
    out = plain(value[:200])
    assert unescaped(out) == []
    for bad in ("http://", "www.", "\n"):
        assert bad not in out
    import re  # the escapes only: unescaped, the text reads as it was sent (on one line)
    assert re.sub(r"\\(.)", r"\1", out) == value[:200].replace("\n", " ").replace("\u202e", " ")


@pytest.mark.parametrize("value,expected", [
    (0, 0), (17, 17), ("17", 17), (3.0, 3), ("000123", 123),
    (True, None), (-1, None), ("-1", None), (1.5, None), (float("inf"), None),
    (float("-inf"), None), (float("nan"), None), ("²", None), ("٣", None), ("1_0", None),
    (" 5", None), ("5 ", None), ("+5", None), ("", None), ("1e3", None), (10 ** 6, None),
    ("9" * 7, None), ("9" * 5000, None), (None, None), ([1], None), ({"0": 1}, None),
])
def test_whole_reads_only_ascii_digits_in_range(value, expected):
    from viz.inputs.urlstate import whole
    assert whole(value) == expected


def test_whole_honours_the_upper_bound():
    from viz.inputs.urlstate import whole
    assert whole(9, 10) == 9 and whole(10, 10) is None and whole("10", 10) is None


@pytest.mark.parametrize("params", [
    {"input": "sample:²"}, {"input": "sample:٣"}, {"input": "sample:1_0"},
    {"input": "sample: 5"}, {"input": "test:" + "9" * 400}, {"input": "sample:-0"},
    {"unit": "٣,1,1"}, {"unit": "1e3,1,1"}, {"unit": "1,1,²"}, {"unit": "9999999,1,1"},
    {"unit": " 1,1,1"},
])
def test_numbers_in_links_are_strict(params):
    state = parse({**params, "model": "seed"}, **ARGS)
    assert state.input is None and state.unit is None
    assert len(state.problems) == 1
    assert markdown_outside_code(state.problems[0]) == []


@pytest.mark.parametrize("key", ["model", "layer", "method", "view", "input", "sample", "unit"])
@pytest.mark.parametrize("value", HOSTILE[:7])
def test_every_echoed_link_value_is_code(key, value):
    state = parse({key: value}, **ARGS)
    assert len(state.problems) == 1
    problem = state.problems[0]
    assert markdown_outside_code(problem) == [], problem
    assert len(problem) < 200


def test_samples_count_from_1_and_old_links_keep_their_digit():
    assert parse({"sample": "18"}, **ARGS).input == ("sample", 17)
    assert parse({"input": "sample:17"}, **ARGS).input == ("sample", 17)  # an older link
    assert encode(ViewState(input=("sample", 17))) == {"sample": "18"}
    assert encode(ViewState(input=("test", 17))) == {"input": "test:17"}
    assert parse({"sample": "200"}, **ARGS).input == ("sample", 199)
    for bad in ("0", "201", "-1", "x", "٣"):
        state = parse({"sample": bad}, **ARGS)
        assert state.input is None and len(state.problems) == 1
        assert "should be a sample number from 1 to 200" in state.problems[0]
    both = parse({"sample": "3", "input": "test:5"}, **ARGS)
    assert both.input == ("sample", 2) and "showing sample 3" in both.problems[0]
