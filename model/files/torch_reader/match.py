"""Which network a state dict's tensors belong to: a state dict holds weights, not the network,
so its tensors' shapes, in order (their names aside), are matched against the zoo's
architectures, a named one, or a layer table in the lab's format.

Layers without weights leave no trace in a state dict: an activation or a pooling of another
kind fits the same tensors. So each zoo architecture stands for its variants
(:func:`variants`): every ReLU or tanh of it as one kind, every max or average pooling as one
kind (LeNet-5 is trained with either); the importer chooses among all that fit by likelihood on
the shipped samples. Torch-free: layer records and shapes only.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from model.architectures import ARCHITECTURES
from viz.network.card import CardError, expected_tensors, show
from viz.network.layers import LayerRecord
from viz.teaching.lab import COLUMNS, rows_to_layers, table_rows_to_rows

ACTIVATIONS = ("relu", "tanh")  # swapped for one another in a variant
POOLS = ("maxpool", "avgpool")
COUNTER = "num_batches_tracked"  # BatchNorm's step counter: no weight, left out of the match
LISTED = 6  # problems a message lists


@dataclass(frozen=True)
class Candidate:
    """A network the tensors may belong to: its name (a zoo name, a variant's, or the table's)
    and its layer records."""

    name: str
    layers: list[LayerRecord]


def weights(layers: list[LayerRecord]) -> list[tuple[str, tuple[int, ...]]]:
    """(tensor name, shape) of the records' tensors in torch's order, BatchNorm's counter left
    out."""
    return [(k, shape) for k, (_d, shape) in expected_tensors(layers).items()
            if not k.endswith(COUNTER)]


def given(tensors: dict[str, Any]) -> list[tuple[str, tuple[int, ...]]]:
    """(key, shape) of a state dict's tensors in order, BatchNorm's counters left out."""
    return [(k, tuple(v.shape)) for k, v in tensors.items()
            if not (k.endswith(COUNTER) and tuple(v.shape) == ())]


def _swap(layers: list[LayerRecord], kinds: tuple[str, ...], to: str) -> list[LayerRecord]:
    out = []
    for rec in layers:
        rec = dict(rec)
        if rec["type"] in kinds and rec["type"] != to:
            old = rec["type"]
            if rec["name"].startswith(old):
                rec["name"] = to + rec["name"][len(old):]
            rec["type"] = to
            if to == "maxpool":
                rec.pop("count_include_pad", None)
        out.append(rec)
    names = [r["name"] for r in out]
    return out if len(set(names)) == len(names) else []


def variants(name: str, layers: list[LayerRecord]) -> list[Candidate]:
    """The architecture itself first, then each variant of uniform activations (ReLU or tanh)
    and poolings (max or average) that differs from it, named e.g. ``lenet5 (relu, maxpool)``."""
    if any("inputs" in rec for rec in layers):
        return [Candidate(name, layers)]  # a graph: its activations are left as they are
    types = {rec["type"] for rec in layers}
    acts = sorted(types & set(ACTIVATIONS))
    pools = sorted(types & set(POOLS))
    out = [Candidate(name, layers)]
    for act in ACTIVATIONS if len(acts) == 1 else (None,):
        for pool in POOLS if len(pools) == 1 else (None,):
            changed = [k for k, have in ((act, acts), (pool, pools)) if k and k not in have]
            if not changed:
                continue
            recs = layers
            if act:
                recs = _swap(recs, ACTIVATIONS, act)
            if pool and recs:
                recs = _swap(recs, POOLS, pool)
            if recs:
                out.append(Candidate(f"{name} ({', '.join(changed)})", recs))
    return out


def zoo_candidates() -> list[Candidate]:
    """Every zoo architecture and its variants."""
    return [c for a in ARCHITECTURES.values() for c in variants(a.name, a.layers())]


def fits(candidate: Candidate, have: list[tuple[str, tuple[int, ...]]]) -> bool:
    """True when the candidate's tensors have the given shapes, in order."""
    want = weights(candidate.layers)
    return len(want) == len(have) and all(w[1] == h[1] for w, h in zip(want, have))


def differences(candidate: Candidate, have: list[tuple[str, tuple[int, ...]]]) -> str:
    """Each mis-shaped, missing or extra tensor, position by position (names aside)."""
    want = weights(candidate.layers)
    problems = []
    for (wname, wshape), (hname, hshape) in zip(want, have):
        if wshape != hshape:
            problems.append(f"{hname} is {hshape} where {wname} needs {wshape}")
    problems += [f"missing {w} {s}" for w, s in want[len(have):]]
    problems += [f"extra {h} {s}" for h, s in have[len(want):]]
    more = f" and {len(problems) - LISTED} more" if len(problems) > LISTED else ""
    return "; ".join(problems[:LISTED]) + more


def matching(have: list[tuple[str, tuple[int, ...]]]) -> list[Candidate]:
    """The zoo's candidates (:func:`zoo_candidates`) whose tensors have the given shapes."""
    return [c for c in zoo_candidates() if fits(c, have)]


def nearest(have: list[tuple[str, tuple[int, ...]]]) -> str | None:
    """The zoo architecture agreeing with the most leading shapes (None if none agrees)."""
    best, score = None, 0
    for arch in ARCHITECTURES.values():
        want = weights(arch.layers())
        n = next((i for i, (w, h) in enumerate(zip(want, have)) if w[1] != h[1]),
                 min(len(want), len(have)))
        if n > score:
            best, score = arch.name, n
    return best


def named(architecture: str, have: list[tuple[str, tuple[int, ...]]], source: str
          ) -> list[Candidate]:
    """The network the student named (a zoo name, or a variant's, e.g. ``lenet5 (relu)``),
    exactly that one; CardError listing each problem when its tensors do not fit."""
    chosen = [c for c in zoo_candidates() if c.name == architecture]
    if not chosen:
        raise CardError(f"{source}: no architecture {show(architecture)}; the zoo has "
                        f"{', '.join(ARCHITECTURES)} (and their variants, e.g. "
                        f"\"lenet5 (relu, maxpool)\").")
    if not fits(chosen[0], have):
        raise CardError(f"{source}: its tensors do not fit {architecture}: "
                        f"{differences(chosen[0], have)}.")
    return chosen


def read_table(text: str, source: str) -> list[LayerRecord]:
    """Layer records from a layer table in the lab's format: CSV with a header of the lab's
    columns (``name,type,kernel,stride,padding,dilation,channels,groups,inputs``; blank cells
    allowed) or a JSON list of such rows. Raises CardError saying what is wrong."""
    stripped = text.lstrip()
    try:
        if stripped.startswith("["):
            records = json.loads(stripped)
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise ValueError("a JSON table is a list of rows, each an object")
        else:
            records = list(csv.DictReader(io.StringIO(text)))
            if records and not set(records[0]) & {"type"}:
                raise ValueError(f"a CSV table's header names the lab's columns "
                                 f"({','.join(COLUMNS)})")
        rows = table_rows_to_rows([{k: _number(v) for k, v in r.items() if k in COLUMNS}
                                   for r in records])
        return rows_to_layers(rows)
    except (ValueError, RecursionError) as exc:
        raise CardError(f"{source}: the layer table: {show(str(exc), 200).strip(chr(39))}"
                        ) from None


def _number(value: Any) -> Any:
    """A CSV cell as the editor's table sends it: blank is None, a whole number an int."""
    if isinstance(value, str) and not value.strip():
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return value


def tabled(layers: list[LayerRecord], have: list[tuple[str, tuple[int, ...]]], source: str
           ) -> list[Candidate]:
    """The layer table's network when the tensors fit it; CardError listing each problem."""
    table = Candidate("layer table", layers)
    if not fits(table, have):
        raise CardError(f"{source}: its tensors do not fit the layer table: "
                        f"{differences(table, have)}.")
    return [table]


__all__ = ["Candidate", "differences", "fits", "given", "matching", "named", "nearest",
           "read_table", "tabled", "variants", "weights", "zoo_candidates"]
