"""Exact receptive-field arithmetic for CNNs described by plain layer records.

Pure Python (standard library only): no torch, no numpy. The formulas follow Araujo, Norris &
Sim, "Computing Receptive Fields of Convolutional Neural Networks" (Distill, 2019), one axis at a
time, so height and width may differ. For every layer and axis:

    r += (k_dilated - 1) * S      receptive-field size
    P += p_top_or_left * S        effective padding
    S *= s                        effective stride (jump)

and output unit ``u`` reads input pixels ``u * S - P`` .. ``u * S - P + r - 1`` (unclipped).

Public API
----------
``compute(spec, input_size=None) -> list[LayerField]``
    One ``LayerField`` per layer, in spec order. ``spec`` is ``{"input_size": [h, w], "layers":
    [...]}`` or a bare list of layer records (a zoo ``layer_config`` is a valid spec).
``LayerField``
    ``name``, ``type``, ``inputs``, ``h`` / ``w`` (``AxisField``), ``is_global``, ``input_size``;
    shortcuts ``rf``, ``stride``, ``padding``, ``output_size`` (each an ``(h, w)`` pair);
    ``region(y, x) -> Region`` for one unit.
``AxisField(r, stride, padding, size)``
    One axis of one layer. For a global layer (flatten, linear, global pooling, and everything
    after one) ``r``, ``stride`` and ``padding`` are ``None``: the field is the whole input.
``Region`` / ``AxisRegion``
    A unit's input region per axis: unclipped ``start``..``end`` (inclusive, may run into the
    padding), ``clipped`` (the image pixels the unit actually reads, or ``None``), ``padding_before``
    / ``padding_after`` (how many positions of the region lie outside the image) and ``centre``.
``units_seeing(layer_field, y, x) -> (rows, cols)``
    The inverse map: the rows and the columns (sorted tuples of ints) of the units of a layer
    whose clipped region contains input pixel ``(y, x)``.
``to_records(fields) -> list[dict]`` / ``format_table(fields) -> str``
    The calculator's JSON records and human-readable table.
``use_roles(roles)`` / ``layer_types()``
    The engine has rules for ``conv``, ``maxpool``, ``avgpool``, ``add``, ``concat`` and
    ``identity``; the app's table of layer types (``viz.network.layertypes``) hands it every
    other type's role ("keep" or "global") when it is imported, so the engine, standard library
    only, keeps no list of the app's types.

Calculator: ``python -m viz.receptive_field SPEC.json [--table]`` (see docs/receptive-field.md).

Multi-path networks (``add``, ``concat``) use the Distill rule: all paths must share the effective
stride and the centre offset ``(r - 1) / 2 - P`` (the network is *aligned*); the layer then takes
the largest ``r`` and that path's ``P``. A misaligned merge raises ``ValueError`` naming the two
paths. Every invalid spec raises ``ValueError`` with a message meant for a student.
"""

from __future__ import annotations

from viz.receptive_field.arithmetic import MODEL_CARD_INPUT, compute, output_length
from viz.receptive_field.cli import format_table, main, to_records
from viz.receptive_field.parsing import ROLE_NAMES, RULES, layer_types, role_of, use_roles
from viz.receptive_field.regions import units_seeing
from viz.receptive_field.results import INPUT, AxisField, AxisRegion, LayerField, Pair, Region

__all__ = [
    "INPUT",
    "MODEL_CARD_INPUT",
    "ROLE_NAMES",
    "RULES",
    "AxisField",
    "AxisRegion",
    "LayerField",
    "Pair",
    "Region",
    "compute",
    "format_table",
    "layer_types",
    "main",
    "output_length",
    "role_of",
    "to_records",
    "units_seeing",
    "use_roles",
]
