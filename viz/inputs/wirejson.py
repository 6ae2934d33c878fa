"""The JSON text a browser sends for a widget's state, bounded before it is parsed.

A component's state, a chart's selection and a table editor's edits arrive as JSON text over the
websocket: anything a student's browser chooses to send. :func:`problem` checks the text's length
and its nesting depth (``json.loads`` of ``[[[[...`` 100,000 deep raises ``RecursionError``)
without parsing it; :func:`loads` parses only what passed. Streamlit- and torch-free.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from viz.limits import WIDGET_STATE_CHARS, WIDGET_STATE_DEPTH

# A drawing's PNG (``viz.inputs.preprocess.MAX_DRAWING_CHARS``, about 5.6 million characters of
# base64) with its 784 digits is the largest state a widget of this app sends.
MAX_CHARS = WIDGET_STATE_CHARS
MAX_DEPTH = WIDGET_STATE_DEPTH

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPEN = {ord("["), ord("{")}


def depth(text: str) -> int:
    """How deeply the arrays and objects of JSON ``text`` nest (brackets inside strings do not
    count), without parsing it: 0 for a number or a string."""
    bare = _STRING.sub("", text)
    if bare.count("[") + bare.count("{") <= MAX_DEPTH:  # the usual case: a few brackets
        return bare.count("[") + bare.count("{")  # (an upper bound, enough under the limit)
    codes = np.frombuffer(bare.encode("utf-8", "replace"), dtype=np.uint8)
    step = np.zeros(codes.shape, dtype=np.int64)
    step[(codes == ord("[")) | (codes == ord("{"))] = 1
    step[(codes == ord("]")) | (codes == ord("}"))] = -1
    return int(np.cumsum(step).max(initial=0))


def problem(text: Any) -> str | None:
    """Why the browser's JSON ``text`` is not read (too long, nested too deeply, not text), or
    None when it may be parsed."""
    if not isinstance(text, str):
        return f"it is not text ({type(text).__name__})"
    if len(text) > MAX_CHARS:
        return (f"{len(text):,} characters is more than any part of this page sends "
                f"({MAX_CHARS:,} at most)")
    if depth(text) > MAX_DEPTH:
        return f"it nests more than {MAX_DEPTH} levels deep"
    return None


def loads(text: Any) -> tuple[Any, str | None]:
    """``(value, None)`` for JSON ``text`` within the bounds, else ``(None, why)``."""
    why = problem(text)
    if why is not None:
        return None, why
    try:
        return json.loads(text), None
    except (ValueError, RecursionError):  # (JSONDecodeError is a ValueError)
        return None, "it is not JSON"
