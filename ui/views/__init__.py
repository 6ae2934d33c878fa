"""The explorer's views, one file each, and their registry.

A view is one :class:`View` record (its name in links, its title, and the function that draws
it from a :class:`Shown`); :data:`VIEWS` is what the selector and the links read, so adding a
view is one file here registered in the explorer. The list of views: docs/layout.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from model.store import ModelRef
from viz.network.layers import LayerInfo
from viz.teaching import fields


@dataclass(frozen=True)
class Shown:
    """What a view draws: the model, the input, every layer's output and the chosen layer."""

    key: ModelRef
    image: np.ndarray
    acts: dict[str, np.ndarray]
    probs: np.ndarray
    layer: str
    table: list[LayerInfo]

    @property
    def row(self) -> LayerInfo:
        return fields.row_for(self.table, self.layer)


@dataclass(frozen=True)
class View:
    """One explorer view: its name in links (``?view=field``), title, and how it draws."""

    url: str
    title: str
    draw: Callable[[Shown], None]
    activity: str  # what a failure message says was being done
    uses_layer: bool = True  # shows the layer picker (the whole-network views do not)
    # Has a layer picker of its own for this model (then the page's is hidden; it follows).
    picks_layer: Callable[[ModelRef], bool] | None = None
    # Whether the view reads the layer now (the Saliency view: only for a method that does).
    needs_layer: Callable[[], bool] | None = None


VIEWS: dict[str, View] = {}  # by title, in the order of the view selector


def register(view: View) -> View:
    if view.title in VIEWS or any(v.url == view.url for v in VIEWS.values()):
        raise ValueError(f"an explorer view {view.title!r} or ?view={view.url} already exists")
    VIEWS[view.title] = view
    return view
