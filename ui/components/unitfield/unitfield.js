// The unit-field panel: pick a unit on one channel's map and see what it sees, drawn in the browser.
//
// Mounted by ui/components/unitfield.py (st.components.v2) after the shared modules of ui/components/js/ that
// ui/components/__init__.py lists for it (drawing helpers, mounting, timing hooks, keyboard moves).
// Python sends the input, the layer's receptive-field row from the engine, the channel's map and
// the picked unit's effective field and attribution (viz/browser/fieldpanel.py). Hover and arrow keys
// redraw the theoretical field at once; a click or Enter sends the unit to Python
// (state "unit"), which answers with its effective field and attribution. With "live" (the
// network, when it runs in the browser), the hovered unit's effective field and attribution are
// computed here at once (live.js unitMaps) and a pick only tells Python the unit.
//
// Test hooks: the root has data-testid="unit-field"; .unit carries data-unit="LAYER,C,Y,X" and
// data-rf="Y0,Y1,X0,X1" (inclusive input-pixel bounds, unclipped) of the hovered or picked unit;
// window.cnnUnitField.lastUpdateMs is the time from the last hover or key event to its drawing;
// a live panel's .shown is {unit: [c, y, x], erf, attr} (Float32Array(784) each) drawn last.

const HOOKS = "cnnUnitField"; // window.cnnUnitField: the test and timing hooks (timing.js)

class Panel {
  constructor(root) {
    this.root = root;
    const q = (s) => root.querySelector(s);
    this.el = {
      uf: q(".uf"), picker: q("canvas.picker"), theo: q("canvas.theo"), erf: q("canvas.erf"),
      attr: q("canvas.attr"), pickerCap: q(".picker-cap"), theoCap: q(".theo-cap"),
      unit: q(".unit"), results: root.querySelectorAll(".result"),
    };
    this.d = null; // the data from Python
    this.hover = null; // {y, x} under the pointer or the keyboard cursor, else null
    this.picked = null; // {y, x} last picked here (before Python answers)
    this.setters = {};
    this.wire();
  }

  wire() {
    const cv = this.el.picker;
    const locate = (ev) => {
      const m = this.d && this.d.map;
      return m ? cellAt(ev, cv, m.h, m.w) : null;
    };
    cv.addEventListener("pointermove", (ev) => {
      const u = locate(ev);
      if (u && (!this.hover || u.y !== this.hover.y || u.x !== this.hover.x)) {
        this.timed(ev, () => { this.hover = u; this.draw(); });
      }
    });
    cv.addEventListener("pointerleave", (ev) => {
      this.timed(ev, () => { this.hover = null; this.draw(); });
    });
    cv.addEventListener("click", (ev) => {
      const u = locate(ev);
      if (u) this.timed(ev, () => { this.hover = u; this.pick(u); });
    });
    cv.addEventListener("keydown", (ev) => this.onKey(ev));
  }

  timed(ev, fn) { timed(HOOKS, ev, fn); }

  onKey(ev) {
    const m = this.d && this.d.map;
    if (!m) return;
    const { y, x } = this.hover || this.current();
    const u = keyMove(ev, { c: 0, y, x }, [1, m.h, m.w], false);
    if (u === "pick") this.timed(ev, () => this.pick({ y, x }));
    else if (u) this.timed(ev, () => { this.hover = { y: u.y, x: u.x }; this.draw(); });
  }

  // The unit whose results are shown (or are being computed).
  current() {
    return this.picked || { y: this.d.unit.y, x: this.d.unit.x };
  }

  pick(u) {
    const d = this.d;
    this.picked = u;
    const done = u.y === d.unit.y && u.x === d.unit.x;
    this.el.results.forEach((r) => r.classList.toggle("stale", !done && !this.net));
    this.draw();
    if (!done && this.setters.setStateValue) {
      this.setters.setStateValue("unit", { layer: d.layer, c: d.unit.c, y: u.y, x: u.x });
    }
  }

  // The 28x28 RGBA tile under a picture ("theo", "erf" or "attr"), for tests.
  tile(kind) {
    const cv = this.el[kind]._tile;
    return Array.from(cv.getContext("2d").getImageData(0, 0, SIDE, SIDE).data);
  }

  update(data) {
    const api = hooks(HOOKS);
    api.panels = api.panels || {};
    api.panels[data.layer] = this; // the last panel drawn for each layer
    const prev = this.d;
    const sameView = prev && prev.layer === data.layer && prev.unit.c === data.unit.c;
    // arrays kept when equal, so the pictures' tiles are not rebuilt
    data.image = prev && same(prev.image, data.image) ? prev.image : Uint8Array.from(data.image);
    this.d = data;
    this.net = null;
    if (data.live) {
      this.net = liveNet(data.live.net_id, data.live.net);
      if (!this.net && this.asked !== data.live.net_id && this.setters.setTriggerValue) {
        this.asked = data.live.net_id; // the browser lost its copy (a reload): ask again
        this.setters.setTriggerValue("need_net", data.live.net_id);
      }
    }
    if (!sameView) this.hover = null;
    this.picked = null; // Python has answered: its unit is the picked one
    this.el.results.forEach((r) => r.classList.remove("stale"));
    this.el.uf.classList.toggle("large", !!data.large);
    this.el.uf.classList.toggle("no-picker", !data.map);
    this.el.uf.classList.toggle("no-attr", !data.attr && !this.net);
    if (data.map) this.drawMap();
    this.draw();
  }

  drawMap() { // the channel's map, cividis from its smallest to its largest value
    const m = this.d.map, lutC = LUTS.cividis;
    let lo = Infinity, hi = -Infinity;
    for (const v of m.data) { if (v < lo) lo = v; if (v > hi) hi = v; }
    const span = hi > lo ? hi - lo : 1;
    const img = new ImageData(m.w, m.h);
    for (let i = 0; i < m.data.length; i++) {
      const k = 3 * Math.round(((m.data[i] - lo) / span) * 255);
      img.data[i * 4] = lutC[k]; img.data[i * 4 + 1] = lutC[k + 1];
      img.data[i * 4 + 2] = lutC[k + 2]; img.data[i * 4 + 3] = 255;
    }
    const tile = document.createElement("canvas");
    tile.width = m.w; tile.height = m.h;
    tile.getContext("2d").putImageData(img, 0, 0);
    this.mapTile = tile;
    this.mapRange = [lo, hi];
  }

  draw() {
    const d = this.d, rec = { rf: d.rf }, extent = layerExtent(rec);
    const cur = this.current(), shown = this.hover || cur;
    const b = unitBounds(rec, shown.y, shown.x);
    const bPicked = unitBounds(rec, cur.y, cur.x);
    if (d.map) this.drawPicker(shown, cur);
    drawField(this.el.theo, d.image, extent, b, { dim: true });
    const live = this.unitMaps(shown), fresh = !this.picked || !!live;
    const erf = live ? live.erfLevels : fresh ? d.erf : null;
    const attr = live ? live.attrLevels : fresh ? d.attr : null;
    drawField(this.el.erf, d.image, extent, live ? b : bPicked, { overlay: erf });
    drawField(this.el.attr, d.image, extent, live ? b : bPicked, { overlay: attr, signed: true });
    this.describe(shown, b, erf, attr, live);
  }

  // The live effective field and attribution of unit SHOWN (null: not live), kept per unit.
  unitMaps(shown) {
    if (!this.net) return null;
    const d = this.d, c = d.unit.c, key = `${d.layer},${c},${shown.y},${shown.x}`;
    if (this.shown && this.shown.key === key && this.shown.image === d.image) return this.shown;
    try {
      const { erf, attr } = unitMaps(this.net, d.image, d.layer, c, shown.y, shown.x); // live.js
      this.shown = { key, image: d.image, unit: [c, shown.y, shown.x], erf, attr,
        erfLevels: overlayLevels(erf, false), attrLevels: overlayLevels(attr, true) };
    } catch (err) {
      this.net = null; // the panel falls back to Python's maps
      return null;
    }
    return this.shown;
  }

  drawPicker(shown, cur) {
    const cv = this.el.picker, ctx = cv.getContext("2d"), m = this.d.map;
    const u = cv.width / m.w, v = cv.height / m.h;
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.mapTile, 0, 0, cv.width, cv.height);
    ctx.lineWidth = Math.max(2, Math.min(4, u / 4));
    ctx.strokeStyle = ORANGE; // the picked unit
    ctx.strokeRect(cur.x * u + 1, cur.y * v + 1, u - 2, v - 2);
    if (shown !== cur) { // the hovered one
      ctx.strokeStyle = "#fff";
      ctx.strokeRect(shown.x * u - 1, shown.y * v - 1, u + 2, v + 2);
    }
  }

  describe(shown, b, erf, attr, live) {
    const d = this.d, rf = d.rf, m = d.map, c = d.unit.c;
    const value = m ? m.data[shown.y * m.w + shown.x] : null;
    const hovering = !!this.hover && (this.hover.y !== this.current().y || this.hover.x !== this.current().x);
    const el = this.el.unit;
    el.dataset.unit = `${d.layer},${c},${shown.y},${shown.x}`;
    el.dataset.rf = b.join(",");
    const who = `${hovering ? "Hovered" : this.picked ? "Picked (computing its fields)" : "Picked"}` +
      ` unit: channel ${c}, row ${shown.y}, col ${shown.x} of <b>${d.layer}</b>` +
      (value === null ? "" : ` (value ${fmt(value)})`);
    const mass = live ? massSentence(live.erf, rf.global ? [0, LAST, 0, LAST] : b, rf.global ? SIDE : rf.r[0]) : "";
    if (rf.global) {
      el.innerHTML = `${who}. It sees the whole input (a global layer).${mass}`;
      this.el.theoCap.textContent = `Theoretical field: the whole ${SIDE}x${SIDE} input.`;
    } else {
      const pad = paddingShare(b);
      el.innerHTML = `${who}: sees rows <b>${b[0]}..${b[1]}</b>, cols <b>${b[2]}..${b[3]}</b>` +
        ` (r = ${rf.r[0]}, S = ${rf.S[0]}, P = ${rf.P[0]})` +
        (pad > 0 ? `; ${Math.round(pad * 100)}% of it is zero padding (hatched).` : ".") + mass;
      this.el.theoCap.textContent = `Theoretical field${hovering ? " (hovered)" : ""}: ` +
        `${rf.r[0]}x${rf.r[1]} pixels, rows ${b[0]}..${b[1]}, cols ${b[2]}..${b[3]}` +
        (pad > 0 ? `; ${Math.round(pad * 100)}% of it is zero padding (hatched).` : ".");
    }
    if (m) {
      const [lo, hi] = this.mapRange;
      this.el.pickerCap.textContent = `Channel ${c} of ${d.layer} (${m.h}x${m.w}, ${fmt(lo)} to ` +
        `${fmt(hi)}, bright = strong): hover a unit to see its field, click to pick it.`;
    }
    this.el.picker.setAttribute("aria-label", (m ? mapLabel(d.layer, c, m.h, m.w, m.data, 0)
      : `Channel ${c} of ${d.layer}`) + // canvas.js
      `; unit row ${shown.y}, col ${shown.x}` + (value === null ? "" : `, value ${fmt(value)}`) +
      ". Arrow keys move the unit, Enter picks it.");
    const at = live ? shown : this.current();
    const picked = `channel ${c}, row ${at.y}, col ${at.x} of ${d.layer}`;
    this.el.erf.setAttribute("aria-label", !erf
      ? `The effective field of the unit at ${picked}: being computed`
      : `The effective field of the unit at ${picked} on this input (its sensitivity to ` +
        `each pixel): ${strongestPixels(erf, false)}`);
    this.el.attr.setAttribute("aria-label", !attr
      ? `What drives the unit at ${picked}: being computed`
      : `DeepLift attribution of the unit at ${picked}: ${strongestPixels(attr, true)}`);
    this.el.theo.setAttribute("aria-label", rf.global ? "The input; the unit sees all of it" :
      `The input; the unit sees rows ${b[0]} to ${b[1]}, columns ${b[2]} to ${b[3]}`);
  }
}

function same(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export default function (component) {
  mount(component, Panel, (panel, data) => { if (data) panel.update(data); });
}
