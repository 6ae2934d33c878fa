"""The tour's steps: one :class:`Step` record each, in tour order in :data:`REGISTRY`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """One step of the tour: its text, the live figure beside it, whether it needs an input."""

    key: str  # the link name: ?concept=KEY
    title: str
    show: Callable[..., None]  # (context, layer records, activations) -> draws the figure
    text: str = ""
    visual: str = ""  # what the figure shows, in words
    needs_input: bool = False
    wide: bool = False  # the figure takes the whole width (no text column)
    doing: str = ""  # what a failure message says was being done

    @property
    def activity(self) -> str:
        return self.doing or f"Showing {self.title.lower()}"


REGISTRY: dict[str, Step] = {}  # in tour order


def register(s: Step) -> Step:
    if s.key in REGISTRY:
        raise ValueError(f"a tour step with key {s.key!r} is already registered")
    REGISTRY[s.key] = s
    return s


def tour_step(key: str, title: str, *, text: str = "", visual: str = "", needs_input: bool = False,
         wide: bool = False, doing: str = ""
         ) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register the decorated figure function as a tour step."""
    def deco(show: Callable[..., None]) -> Callable[..., None]:
        register(Step(key, title, show, text, visual, needs_input, wide, doing))
        return show
    return deco


def steps() -> list[str]:
    return list(REGISTRY)


def label(step: str) -> str:
    return f"{steps().index(step) + 1}. {REGISTRY[step].title}"
