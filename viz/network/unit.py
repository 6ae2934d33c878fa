"""One unit of a network: a layer's channel ``c`` at row ``y``, column ``x``.

Every place that passes a unit passes a :class:`Unit`, read from and written to each form it
travels in (a link's ``unit=C,Y,X``, a test hook's ``LAYER,C,Y,X``, a browser component's or
the session's ``{"layer", "c", "y", "x"}``, the caches' ``(c, y, x)``), so there is one parser
per form. Whether a unit lies inside its layer is for the caller, who knows the layer's shape.
Streamlit- and torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from viz.inputs.urlstate import whole
from viz.limits import LAYER_NAME_CHARS, UNIT_INDEX


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _name(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= LAYER_NAME_CHARS


@dataclass(frozen=True)
class Unit:
    """Channel ``c``, row ``y``, column ``x`` of the layer named ``layer``."""

    layer: str
    c: int
    y: int
    x: int

    @classmethod
    def at(cls, layer: str, cyx: tuple[int, int, int]) -> Unit:
        """The unit ``(c, y, x)`` of ``layer`` (the caches' and the links' tuple)."""
        c, y, x = cyx
        return cls(layer, int(c), int(y), int(x))

    @property
    def cyx(self) -> tuple[int, int, int]:
        """``(c, y, x)``, as the caches key a unit."""
        return self.c, self.y, self.x

    @property
    def link(self) -> str:
        """The link's text, ``"C,Y,X"``."""
        return f"{self.c},{self.y},{self.x}"

    def moved(self, **changes: int) -> Unit:
        """This unit with some of ``c``, ``y``, ``x`` changed."""
        return replace(self, **changes)

    # ------------------------------------------------------------------------------ reading

    @classmethod
    def from_link(cls, layer: str, text: Any) -> Unit | None:
        """``"C,Y,X"`` of a link (whole numbers, see ``viz.inputs.urlstate.whole``) on ``layer``, or
        None for anything else."""
        if not _name(layer) or not isinstance(text, str):
            return None
        parts = text.split(",")
        if len(parts) != 3:
            return None
        numbers = [whole(p) for p in parts]
        if any(n is None for n in numbers):
            return None
        return cls(layer, *numbers)  # type: ignore[arg-type]

    @classmethod
    def from_text(cls, text: Any) -> Unit | None:
        """``"LAYER,C,Y,X"`` (the page's test hook ``data-unit``), or None."""
        if not isinstance(text, str) or text.count(",") < 3:
            return None
        layer, *cyx = text.rsplit(",", 3)
        return cls.from_link(layer, ",".join(cyx))

    @classmethod
    def from_browser(cls, value: Any) -> Unit | None:
        """A unit as a browser component sends it (its state's ``"unit"``),
        ``{"layer", "c", "y", "x"}`` with a layer name of at most
        :data:`viz.limits.LAYER_NAME_CHARS` characters and whole numbers in ``0..UNIT_INDEX - 1``;
        None for anything else (missing keys, strings, Infinity, NaN, fractions, negative or huge
        numbers)."""
        if not isinstance(value, dict) or not _name(value.get("layer")):
            return None
        numbers = [whole(value.get(k), UNIT_INDEX) for k in ("c", "y", "x")]
        if any(n is None for n in numbers):
            return None
        return cls(value["layer"], *numbers)  # type: ignore[arg-type]

    @classmethod
    def from_record(cls, value: Any) -> Unit | None:
        """The session's record ``{"layer", "c", "y", "x"}``: a layer name and three ints of any
        sign (a unit outside its layer is the caller's to move inside), else None."""
        if not isinstance(value, dict) or not _name(value.get("layer")):
            return None
        if not all(_int(value.get(k)) for k in ("c", "y", "x")):
            return None
        return cls(value["layer"], value["c"], value["y"], value["x"])

    # ------------------------------------------------------------------------------ writing

    def record(self) -> dict[str, Any]:
        """``{"layer", "c", "y", "x"}``: the session's record, and what a browser is sent."""
        return {"layer": self.layer, "c": self.c, "y": self.y, "x": self.x}

    def __str__(self) -> str:
        """``"LAYER,C,Y,X"``, as the page's test hook writes it."""
        return f"{self.layer},{self.link}"
