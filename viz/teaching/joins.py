"""The receptive field of a join (add, concat), explained with the engine's own numbers.

A join reads two or more branches that started from one layer (the *fork*). Each branch grows
the field by its own kernels, so the branches reach the join with different fields. The join
can only be read as one field if the branches are *aligned*: the same effective stride, and unit
``(y, x)`` of every branch centred on the same input pixel (the centre offset ``(r - 1) / 2 -
P`` agrees). Then the unit of the join sees what any of its branches sees: the union of
concentric squares, the largest of them. The receptive-field engine (``viz.receptive_field``)
applies exactly this rule (and refuses a misaligned join); this module only reads its results
(``viz.network.layers.describe``) and puts them in words for the tour and the lab.

Torch-free, standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

from viz.network.layers import FIELD_CHANGERS, INPUT, JOIN_TYPES, LayerInfo, LayerRecord, describe

__all__ = ["JoinBranch", "JoinField", "join_field", "join_sentence", "joins", "kernel_path"]


@dataclass(frozen=True)
class JoinBranch:
    """One input of a join: the layer it reads, that layer's field, and the layers with a
    kernel on the way from the fork (``path``, in order; empty for an identity shortcut)."""

    name: str
    r: int
    stride: int
    padding: int
    path: tuple[str, ...]

    @property
    def offset(self) -> float:
        """Where unit 0's field is centred, in input pixels: ``(r - 1) / 2 - P``."""
        return (self.r - 1) / 2 - self.padding


@dataclass(frozen=True)
class JoinField:
    """A join layer's field (the engine's ``r``, ``stride``, ``padding``) and its branches."""

    name: str
    type: str
    size: int  # side of its output map
    fork: str  # the layer every branch starts from ("input": the image)
    fork_r: int
    fork_stride: int
    branches: tuple[JoinBranch, ...]
    r: int
    stride: int
    padding: int

    @property
    def widest(self) -> JoinBranch:
        """The branch whose field the join takes (the first of the largest)."""
        return max(self.branches, key=lambda b: b.r)

    @property
    def aligned(self) -> bool:
        """Every branch has the join's stride and centre offset (always true for a join the
        engine accepted; it refuses the others)."""
        first = self.branches[0]
        return all(b.stride == first.stride and b.offset == first.offset for b in self.branches)


def _ancestors(by_name: dict[str, LayerInfo], name: str) -> set[str]:
    """``name`` and every layer it reads, directly or not (with ``"input"``)."""
    seen, todo = set(), [name]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        if n != INPUT:
            todo.extend(by_name[n].inputs)
    return seen


def kernel_path(table: list[LayerInfo], start: str, end: str) -> tuple[str, ...]:
    """The layers with a kernel (convs, pools) on the way from ``start`` (excluded) to ``end``
    (included), in network order: those that ``end`` reads from and that read ``start``."""
    by_name = {i.name: i for i in table}
    up = _ancestors(by_name, end)
    return tuple(i.name for i in table
                 if i.name in up and i.name != start and i.type in FIELD_CHANGERS
                 and start in _ancestors(by_name, i.name))


def _field_of(by_name: dict[str, LayerInfo], name: str) -> tuple[int, int, int]:
    """(r, S, P) of a layer, or of the image (1, 1, 0)."""
    if name == INPUT:
        return 1, 1, 0
    info = by_name[name]
    if info.is_global or info.stride is None or info.padding is None:
        raise ValueError(f"{name} is global (it sees the whole image): a join after it has no "
                         "field of its own to explain")
    return info.r, info.stride, info.padding


def join_field(layers: list[LayerRecord] | list[LayerInfo], name: str) -> JoinField:
    """The field of join ``name`` and of each of its branches, from the engine.

    ``layers``: a network's layer records (or its :func:`~viz.network.layers.describe` table).
    ``ValueError`` when ``name`` is not a join of this network, or is global.
    """
    table = list(layers) if layers and isinstance(layers[0], LayerInfo) else describe(layers)  # type: ignore[arg-type]
    by_name = {i.name: i for i in table}
    info = by_name.get(name)
    if info is None or info.type not in JOIN_TYPES:
        joined = [i.name for i in table if i.type in JOIN_TYPES]
        raise ValueError(f"{str(name)[:40]!r} is not a join of this network; its joins: "
                         f"{', '.join(joined) or 'none'}")
    r, s, p = _field_of(by_name, name)
    common = set.intersection(*(_ancestors(by_name, src) for src in info.inputs))
    order = {INPUT: -1, **{i.name: k for k, i in enumerate(table)}}
    fork = max(common, key=lambda n: order[n])
    fork_r, fork_s, _ = _field_of(by_name, fork)
    branches = []
    for src in info.inputs:
        br, bs, bp = _field_of(by_name, src)
        branches.append(JoinBranch(src, br, bs, bp, kernel_path(table, fork, src)))
    return JoinField(name, info.type, info.size, fork, fork_r, fork_s, tuple(branches), r, s, p)


def joins(layers: list[LayerRecord] | list[LayerInfo]) -> list[JoinField]:
    """Every join of a network that has a field (not after a global layer), in order."""
    table = list(layers) if layers and isinstance(layers[0], LayerInfo) else describe(layers)  # type: ignore[arg-type]
    return [join_field(table, i.name) for i in table
            if i.type in JOIN_TYPES and not i.is_global]


def _branch_words(b: JoinBranch, j: JoinField) -> str:
    how = (f"through {', '.join(b.path)}" if b.path else
           "straight from the fork (an identity shortcut)")
    return f"{b.name} ({how}): {b.r}x{b.r}"


def join_sentence(j: JoinField) -> str:
    """A join's field in plain words, every number the engine's."""
    verb = "adds" if j.type == "add" else "stacks the channels of"
    parts = "; ".join(_branch_words(b, j) for b in j.branches)
    px = "pixel" if j.stride == 1 else "pixels"
    offsets = {b.offset for b in j.branches}
    centre = (f"unit (y, x) of each branch is centred on input pixel ({j.stride}y "
              f"{'+' if min(offsets) >= 0 else '-'} {abs(min(offsets)):g}, {j.stride}x "
              f"{'+' if min(offsets) >= 0 else '-'} {abs(min(offsets)):g})"
              if len(offsets) == 1 else "the branches' centres differ")
    return (f"{j.name} {verb} {len(j.branches)} branches that start from {j.fork} "
            f"(field {j.fork_r}x{j.fork_r}, stride {j.fork_stride}): {parts}. They are aligned: "
            f"all step {j.stride} {px} from unit to unit, and {centre}. So the fields are "
            f"concentric squares, and a unit of {j.name} sees what any branch sees: the largest, "
            f"{j.r}x{j.r} (from {j.widest.name}).")
