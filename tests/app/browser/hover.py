"""Hovering many units in one ``page.evaluate`` (the lens and unit-field browser tests).

A Playwright mouse move and the reads after it cost a round trip each, so a test that hovers
hundreds of units spends its time waiting on the wire. These scripts send the component the same
``pointermove`` (and ``pointerleave``) events a mouse sends, at the centre of each unit's cell,
through its own listeners, and read ``data-unit`` / ``data-rf`` after each, all in the page. Each
test still moves the real mouse over one unit per network, so the events' path from the pointer
to the canvas is checked too.
"""

from __future__ import annotations

# JavaScript: hover(canvas, h, w, y, x) sends a pointermove at the centre of cell (y, x) of an
# h x w map drawn over the whole canvas; unitOf(el) reads [data-unit, data-rf] of a .unit element.
_HELPERS = """
const hover = (cv, h, w, y, x) => {
  const r = cv.getBoundingClientRect();
  cv.dispatchEvent(new PointerEvent("pointermove", {
    bubbles: true, isPrimary: true, pointerType: "mouse",
    clientX: r.left + (x + 0.5) * r.width / w, clientY: r.top + (y + 0.5) * r.height / h}));
};
const unitOf = (el) => [el.getAttribute("data-unit"), el.getAttribute("data-rf")];
"""

# Arg: [[layer, h, w, [[y, x], ...]], ...]. Chooses each layer in the lens's layer menu (its
# change event, as a user's choice sends it), hovers its units on the focus canvas.
# Returns [[layer, y, x, data-unit, data-rf], ...].
LENS_HOVER = f"""(layers) => {{ {_HELPERS}
  const e = window.cnnLens.lens.el, out = [];
  for (const [name, h, w, picks] of layers) {{
    e.layer.value = name;
    e.layer.dispatchEvent(new Event("change", {{bubbles: true}}));
    for (const [y, x] of picks) {{
      hover(e.focus, h, w, y, x);
      out.push([name, y, x, ...unitOf(e.unit)]);
    }}
  }}
  return out;
}}"""

# Arg: [[layer, h, w, [[y, x], ...]], ...] (h = w = 0 and no picks: a panel without a picker).
# Hovers each unit on the layer's panel (window.cnnUnitField.panels), then leaves its picker.
# Returns [[layer, y, x, data-unit, data-rf], ...], with y = x = -1 for the panel at rest
# (before any hover for a panel without a picker, after the pointer left for the others).
UNITFIELD_HOVER = f"""(layers) => {{ {_HELPERS}
  const panels = window.cnnUnitField.panels, out = [];
  for (const [name, h, w, picks] of layers) {{
    const p = panels[name], cv = p.el.picker;
    for (const [y, x] of picks) {{
      hover(cv, h, w, y, x);
      out.push([name, y, x, ...unitOf(p.el.unit)]);
    }}
    if (picks.length) cv.dispatchEvent(new PointerEvent("pointerleave", {{pointerType: "mouse"}}));
    out.push([name, -1, -1, ...unitOf(p.el.unit)]);
  }}
  return out;
}}"""


def parse(unit: str, rf: str) -> tuple[str, list[int], list[int]]:
    """``(layer, [c, y, x], [y0, y1, x0, x1])`` from a ``.unit``'s data-unit and data-rf."""
    name, *cyx = unit.split(",")
    return name, [int(v) for v in cyx], [int(v) for v in rf.split(",")]


def picks(rng, h: int, w: int, n: int) -> list[tuple[int, int]]:
    """The four corners of an h x w map (where padding clips the field) and ``n`` random units,
    sorted, without repeats."""
    chosen = {(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1)}
    chosen |= {(rng.randrange(h), rng.randrange(w)) for _ in range(n)}
    return sorted(chosen)
