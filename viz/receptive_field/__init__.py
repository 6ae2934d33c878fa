"""Exact receptive-field arithmetic for CNNs described by plain layer records.

Standard library only (no torch, no numpy), so every part of the app can afford it. Per axis,
after Araujo, Norris & Sim (Distill, 2019): each layer's field size ``r``, effective stride
``S`` and effective padding ``P``, with multi-path layers (``add``, ``concat``) checked for
alignment. :func:`compute` gives one :class:`LayerField` per layer; a field's ``region(y, x)``
is a unit's input region and :func:`units_seeing` the inverse map. Every invalid spec raises
``ValueError`` in words meant for a student. Formulas, spec format, API and the calculator
(``python -m viz.receptive_field``): docs/receptive-field.md.
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
