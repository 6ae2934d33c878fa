"""Parsing a spec: the layer types and their roles, and each record checked into an ``_Op``.

The engine has rules of its own for the types that change the field (``conv``, ``maxpool``,
``avgpool``: kernel, stride, padding, dilation, ceil mode) and for the joins (``add``,
``concat``), and reads ``identity`` as keeping it. Every other type's role ("keep": values
change, the field does not; "global": every output reads the whole input) is handed to it by
the app's table of layer types (``viz.network.layertypes`` calls :func:`use_roles`), so the
engine keeps no list of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from viz.receptive_field.results import INPUT, Pair, _Op

ROLE_NAMES = ("field", "keep", "global", "join")
# the types whose arithmetic is the engine's own code: what their role needs
RULES: dict[str, str] = {"conv": "field", "maxpool": "field", "avgpool": "field",
                         "add": "join", "concat": "join"}
_ROLES: dict[str, str] = {**RULES, "identity": "keep"}

# Keys people often write for the ones the spec uses: caught instead of silently ignored.
_KEY_TYPOS = {
    "kernel_size": "kernel", "kernels": "kernel", "strides": "stride", "pad": "padding",
    "paddings": "padding", "dilations": "dilation", "dilation_rate": "dilation",
    "input": "inputs", "from": "inputs",
}


def use_roles(roles: Mapping[str, str]) -> None:
    """Read each type of ``roles`` ({type: role}) in its role from now on.

    Raises:
        ValueError: for an unknown role, or a "field" or "join" type the engine has no rule
            for (its arithmetic would be a guess).
    """
    for kind, role in roles.items():
        if role not in ROLE_NAMES:
            raise ValueError(f"layer type {kind!r}: role {role!r} is not one of "
                             f"{', '.join(ROLE_NAMES)}")
        if role in ("field", "join") and RULES.get(kind) != role:
            raise ValueError(f"layer type {kind!r}: the receptive-field engine has no {role} "
                             f"rule for it (it has rules for {', '.join(RULES)})")
    _ROLES.update(roles)


def layer_types() -> tuple[str, ...]:
    """The types the engine reads now: its own, and those handed to it by :func:`use_roles`."""
    return tuple(_ROLES)


def role_of(kind: str) -> str | None:
    """The role the engine reads ``kind`` in ("field", "keep", "global", "join"), or None."""
    return _ROLES.get(kind)


def _err(layer: str, message: str) -> ValueError:
    return ValueError(f"layer {layer!r}: {message}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _pair(value: Any, key: str, name: str) -> Pair:
    """An int or an ``[h, w]`` pair of ints, as ``(h, w)``."""
    if _is_int(value):
        return (value, value)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_int(v) for v in value):
        return (value[0], value[1])
    raise _err(name, f"{key} must be an int or a [height, width] pair of ints, got {value!r}")


def _padding(value: Any, name: str) -> tuple[Pair, Pair] | str:
    """Padding as ``((top, left), (bottom, right))``, or the string ``"same"``."""
    if isinstance(value, str):
        if value.lower() == "same":
            return "same"
        if value.lower() == "valid":
            return ((0, 0), (0, 0))
        raise _err(name, f'padding must be an int, [h, w], [[top, bottom], [left, right]], '
                         f'"same" or "valid", got {value!r}')
    if (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, (list, tuple)) for v in value)):
        flat = [v for side in value for v in side]
        if not all(len(side) == 2 for side in value) or not all(_is_int(v) for v in flat):
            raise _err(name, f"padding [[top, bottom], [left, right]] must hold ints, "
                             f"got {value!r}")
        (top, bottom), (left, right) = value
    else:
        top, left = _pair(value, "padding", name)
        bottom, right = top, left
    if min(top, bottom, left, right) < 0:
        raise _err(name, f"padding cannot be negative, got {value!r}")
    return ((top, left), (bottom, right))


def _parse_layer(rec: Any, index: int, previous: str) -> _Op:
    """Validate one layer record and turn it into an ``_Op``."""
    if not isinstance(rec, dict):
        raise ValueError(f"layer #{index + 1} must be an object like "
                         f'{{"name": "conv1", "type": "conv", "kernel": 3}}, got {rec!r}')
    name = rec.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"layer #{index + 1} needs a non-empty string \"name\"")
    if name == INPUT:
        raise _err(name, f"the name {INPUT!r} is reserved for the network's input")
    for key, right in _KEY_TYPOS.items():
        if key in rec:
            raise _err(name, f"unknown key {key!r}; did you mean {right!r}?")
    kind = rec.get("type")
    role = _ROLES.get(kind) if isinstance(kind, str) else None
    if role is None:
        raise _err(name, f"unknown layer type {kind!r}; use one of {', '.join(_ROLES)}")

    inputs = rec.get("inputs", [previous])
    if isinstance(inputs, str):
        inputs = [inputs]
    if (not isinstance(inputs, (list, tuple)) or not inputs
            or not all(isinstance(s, str) for s in inputs)):
        raise _err(name, f"inputs must be a non-empty list of layer names, got {inputs!r}")
    if role != "join" and len(inputs) != 1:
        raise _err(name, f"a {kind} layer reads exactly one input, got {len(inputs)}: "
                         f"{list(inputs)} (use an add or concat layer to merge paths)")
    if len(set(inputs)) != len(inputs):
        raise _err(name, f"inputs lists the same layer twice: {list(inputs)}")
    if role != "field":
        return _Op(name, kind, tuple(inputs), role=role)

    if "kernel" not in rec:
        raise _err(name, f"a {kind} layer needs a kernel size")
    k = _pair(rec["kernel"], "kernel", name)
    default_stride = 1 if kind == "conv" else rec["kernel"]  # torch pools: stride = kernel
    s = _pair(rec.get("stride") if rec.get("stride") is not None else default_stride,
              "stride", name)
    d = _pair(rec.get("dilation", 1), "dilation", name)
    if min(k) < 1:
        raise _err(name, f"kernel must be at least 1, got {rec['kernel']!r}")
    if min(s) < 1:
        raise _err(name, f"stride must be at least 1, got {rec.get('stride')!r} "
                         "(a stride of 0 would never move the kernel)")
    if min(d) < 1:
        raise _err(name, f"dilation must be at least 1 (1 = no holes), got "
                         f"{rec.get('dilation')!r}")
    if kind == "avgpool" and d != (1, 1):
        raise _err(name, "average pooling has no dilation")
    extent = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    pad = _padding(rec.get("padding", 0), name)
    if pad == "same":
        if s != (1, 1):
            raise _err(name, f'padding "same" needs stride 1 (as in torch), got stride '
                             f'{rec.get("stride")!r}; give the padding as numbers instead')
        total = (extent[0] - 1, extent[1] - 1)
        pad = ((total[0] // 2, total[1] // 2), (total[0] - total[0] // 2,
                                                total[1] - total[1] // 2))
    assert not isinstance(pad, str)
    if kind != "conv":
        for axis in (0, 1):
            if 2 * max(pad[0][axis], pad[1][axis]) > k[axis]:  # torch's rule (undilated k)
                raise _err(name, f"pooling padding can be at most half the kernel size "
                                 f"({k[axis]}), got {rec.get('padding')!r}; otherwise a window "
                                 "could see nothing but padding")
    ceil_mode = rec.get("ceil_mode", False)
    if not isinstance(ceil_mode, bool):
        raise _err(name, f"ceil_mode must be true or false, got {ceil_mode!r}")
    if ceil_mode and kind == "conv":
        raise _err(name, "ceil_mode applies to pooling layers only")
    return _Op(name, kind, tuple(inputs), extent, k, d, s, pad[0], pad[1], ceil_mode,
               role)


def _input_size(value: Any) -> Pair | None:
    if value is None:
        return None
    if _is_int(value):
        value = (value, value)
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(_is_int(v) and v > 0 for v in value)):
        raise ValueError(f"input_size must be a positive int or a [height, width] pair of "
                         f"positive ints, got {value!r}")
    return (value[0], value[1])


def _topological_order(ops: dict[str, _Op]) -> list[str]:
    """Layer names ordered so that every layer comes after its inputs; rejects cycles."""
    for op in ops.values():
        for src in op.inputs:
            if src != INPUT and src not in ops:
                known = ", ".join([INPUT, *ops])
                raise _err(op.name, f"unknown input {src!r}; known names: {known}")
    order: list[str] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in ops:
        if state.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            name, i = stack.pop()
            if i == 0:
                state[name] = 1
                path.append(name)
            srcs = [s for s in ops[name].inputs if s != INPUT]
            if i < len(srcs):
                stack.append((name, i + 1))
                nxt = srcs[i]
                if state.get(nxt) == 1:
                    cycle = path[path.index(nxt):] + [nxt]
                    raise ValueError("the layers form a cycle: " + " -> ".join(
                        repr(c) for c in reversed(cycle)) + "; a layer cannot (even indirectly) "
                        "read its own output")
                if not state.get(nxt):
                    stack.append((nxt, 0))
            else:
                state[name] = 2
                path.pop()
                order.append(name)
    return order
