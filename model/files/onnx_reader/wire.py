"""A bounded look at an ONNX file's protobuf wire format before it is parsed.

Parsing a ModelProto makes a Python object per node, initializer and value: a 50 MB file of
three million one-number initializers costs over a gigabyte and half a minute before any check
runs. :func:`count_graph` walks the wire format instead (tags and lengths only, nothing
decoded), counting the graph's nodes, initializers and value declarations, and stops as soon as
one count passes its limit, so the scan costs at most a few thousand steps and no memory.
"""

from __future__ import annotations

# ModelProto.graph; GraphProto's repeated fields and what a message calls them
GRAPH_FIELD = 7
COUNTED = {1: "nodes", 5: "initializers", 15: "sparse initializers", 11: "inputs",
           12: "outputs", 13: "value declarations"}


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def _varint(data: bytes, i: int, end: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= end or shift > 63:
            raise WireError("a number runs past its message")
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def _fields(data: bytes, start: int, end: int):
    """(field number, wire type, value start, value end) of each field in data[start:end]."""
    i = start
    while i < end:
        key, i = _varint(data, i, end)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise WireError("field number 0")
        if wire == 0:
            _, j = _varint(data, i, end)
        elif wire == 1:
            j = i + 8
        elif wire == 5:
            j = i + 4
        elif wire == 2:
            n, i = _varint(data, i, end)
            j = i + n
        else:  # groups (3, 4) are not in ONNX's messages
            raise WireError(f"wire type {wire}")
        if j > end:
            raise WireError("a field runs past its message")
        yield field, wire, i, j
        i = j


def count_graph(data: bytes, limits: dict[str, int]) -> dict[str, int]:
    """Counts of the graph's repeated fields (:data:`COUNTED`' names), scanning no further than
    the first count over its limit.

    Args:
        data: the file's bytes.
        limits: {name in :data:`COUNTED`: the most allowed}; names left out are not limited.
    Returns:
        {name: count} (a count over its limit stops the scan: it is then limit + 1).
    Raises:
        WireError: the bytes are not a protobuf message.
    """
    counts = dict.fromkeys(COUNTED.values(), 0)
    for field, wire, start, end in _fields(data, 0, len(data)):
        if field != GRAPH_FIELD or wire != 2:
            continue
        for sub, _wire, _s, _e in _fields(data, start, end):
            name = COUNTED.get(sub)
            if name is None:
                continue
            counts[name] += 1
            if counts[name] > limits.get(name, counts[name]):
                return counts
    return counts


__all__ = ["COUNTED", "WireError", "count_graph"]
