// The lesson's computed views (after lesson.js, which runs them once the page has loaded):
// Receptive field (a unit's exact field from the engine's table in the payload, the
// arithmetic of canvas.js), Saliency and All methods (attribute.js's attributeNet, in this
// browser). Each is {draw(section)}, redrawn by LESSON.show when its input or network changed.

const MAP_TYPES = new Set(["conv", "relu", "tanh", "sigmoid", "leakyrelu", "prelu", "elu",
  "maxpool", "avgpool", "add", "concat", "bn", "dropout"]);

// A <select> of [value, text] pairs, with value chosen; onChange(value).
function picker(label, pairs, chosen, onChange) {
  const wrap = document.createElement("label");
  wrap.className = "ctl";
  wrap.append(`${label} `);
  const s = document.createElement("select");
  s.setAttribute("aria-label", label);
  for (const [v, t] of pairs) {
    const o = document.createElement("option");
    o.value = String(v); o.textContent = t;
    s.appendChild(o);
  }
  s.value = String(chosen);
  s.addEventListener("change", () => onChange(s.value));
  wrap.appendChild(s);
  return wrap;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function canvasOf(w, h, cls, label) {
  const cv = el("canvas", cls);
  cv.width = w; cv.height = h;
  if (label) { cv.setAttribute("role", "img"); cv.setAttribute("aria-label", label); }
  return cv;
}

// IMG (ImageData) drawn over the whole of canvas CV, each pixel a sharp square
function paintScaled(cv, img) {
  const small = canvasOf(img.width, img.height);
  small.getContext("2d").putImageData(img, 0, 0);
  const ctx = cv.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, cv.width, cv.height);
}

// Layers with feature maps (C x H x W, H > 1) of a decoded net.
function mapLayers(net) {
  return net.layers.filter((r) => r.shape.length === 3 && r.shape[1] > 1 && MAP_TYPES.has(r.type));
}

// The layer Grad-CAM reads by default: the last activation with a map (as model.trust picks it).
function camLayer(net) {
  const maps = mapLayers(net);
  const acts = maps.filter((r) => ["relu", "leakyrelu", "elu", "prelu", "tanh", "sigmoid"].includes(r.type));
  const last = (acts.length ? acts : maps).slice(-1)[0];
  return last ? last.name : null;
}

// The layer Grad-CAM and Occlusion read (Grad-CAM's maps, Occlusion's window and step): the
// one picked here, else the engine's default (attribute.js: the explorer's first layer).
const ATTR = { layer: null, net: null };
function attrLayer(net) {
  if (ATTR.net !== net) {
    ATTR.net = net;
    ATTR.layer = typeof defaultLayer === "function" ? defaultLayer(net) : camLayer(net);
  }
  return ATTR.layer;
}
const usesLayer = (m) => m.feature_maps || m.key === "occlusion";

function layerPicker(net, onChange) {
  const names = mapLayers(net).map((r) => r.name);
  const chosen = attrLayer(net);
  if (chosen && !names.includes(chosen)) names.unshift(chosen);
  return picker("Layer", names.map((n) => [n, n]), chosen, (v) => { ATTR.layer = v; onChange(); });
}

// One channel of an activation as a canvas-sized picture through the cividis colours.
function drawChannel(cv, a, c) {
  const [, H, W] = a.shape;
  const n = H * W, off = c * n;
  let lo = Infinity, hi = -Infinity;
  for (let i = off; i < off + n; i++) { lo = Math.min(lo, a.data[i]); hi = Math.max(hi, a.data[i]); }
  if (!(hi > lo)) hi = lo + 1e-6;
  const img = new ImageData(W, H), lut = LUTS.cividis;
  for (let i = 0; i < n; i++) {
    const t = 3 * Math.max(0, Math.min(255, Math.round(((a.data[off + i] - lo) / (hi - lo)) * 255)));
    img.data.set([lut[t], lut[t + 1], lut[t + 2], 255], i * 4);
  }
  paintScaled(cv, img);
}

// A square picture side for the views' canvases: fits the view's width on a phone.
function side(sec, most) {
  const w = sec.clientWidth || 800;
  const k = LESSON.large ? 1.35 : 1;
  return Math.max(140, Math.min(Math.round(most * k), Math.floor(w - 8)));
}

// ---------------------------------------------------------------- Receptive field
const FieldView = {
  layer: null, c: 0, unit: null,

  draw(sec) {
    const net = LESSON.net.decoded, acts = LESSON.lens.acts;
    const layers = net.layers.filter((r) => r.shape.length === 3);
    sec.innerHTML = "";
    if (!layers.length) {
      note(sec, "This network has no feature maps (it flattens the image first): every unit of " +
        "its first dense layer already sees the whole image.");
      return;
    }
    if (!layers.some((r) => r.name === this.layer)) {
      this.layer = (["relu5", "relu3", "relu2"].find((n) => layers.some((r) => r.name === n))) ||
        layers[Math.floor(layers.length / 2)].name;
      this.unit = null;
    }
    const rec = layers.find((r) => r.name === this.layer);
    const a = acts.get(rec.name);
    const [C, H, W] = rec.shape;
    if (this.c >= C) this.c = 0;
    if (!this.unit || this.unit.y >= H || this.unit.x >= W) {
      const s = extreme(a.data, H * W, W, this.c * H * W);
      this.unit = { y: s.y, x: s.x };
    }
    sec.append(el("p", "lead", "Pick a unit on a channel's map (hover, click or the arrow keys): " +
      "the orange square is exactly the part of the input it sees, from the receptive-field " +
      "arithmetic r, S and P of every layer before it."));
    const bar = el("div", "bar");
    bar.append(picker("Layer", layers.map((r) => [r.name, `${r.name} · ${r.shape.join("x")}`]),
      this.layer, (v) => { this.layer = v; this.unit = null; this.draw(sec); }));
    bar.append(picker("Channel", Array.from({ length: C }, (_, i) => [i, String(i)]), this.c,
      (v) => { this.c = +v; this.unit = null; this.draw(sec); }));
    sec.append(bar);
    const px = side(sec, 320);
    const row = el("div", "pair");
    const left = el("figure", "panel"), right = el("figure", "panel");
    left.append(el("figcaption", "cap", `Channel ${this.c} of ${rec.name} (${H}x${W})`));
    const map = canvasOf(px, px, "pick-map", "");
    map.tabIndex = 0;
    left.append(map);
    right.append(el("figcaption", "cap", "Input and the unit's receptive field"));
    const inp = canvasOf(px, px, "field-input", "");
    right.append(inp);
    row.append(left, right);
    const readout = el("div", "unit");
    sec.append(row, readout, this.table(net));
    const paint = () => {
      drawChannel(map, a, this.c);
      const ctx = map.getContext("2d"), k = map.width / W;
      ctx.lineWidth = 3; ctx.strokeStyle = ORANGE;
      ctx.strokeRect(this.unit.x * k + 1.5, this.unit.y * k + 1.5, k - 3, k - 3);
      const b = unitBounds(rec, this.unit.y, this.unit.x);
      drawField(inp, LESSON.pixels, layerExtent(rec), b, { dim: true });
      const v = a.data[(this.c * H + this.unit.y) * W + this.unit.x];
      readout.dataset.unit = `${rec.name},${this.c},${this.unit.y},${this.unit.x}`;
      readout.dataset.rf = b.join(",");
      const rf = rec.rf, pad = paddingShare(b);
      readout.innerHTML = `<b>${rec.name}</b>, channel ${this.c}, row ${this.unit.y}, col ${this.unit.x}: ` +
        `value ${fmt(v)}<br>` + (rf && !rf.global
        ? `sees input rows <b>${b[0]}..${b[1]}</b>, cols <b>${b[2]}..${b[3]}</b> (r = ${rf.r[0]}, ` +
          `S = ${rf.S[0]}, P = ${rf.P[0]})` +
          (pad > 0 ? `; ${Math.round(pad * 100)}% of it is zero padding (hatched)` : "")
        : "sees the whole input (a global layer)");
      map.setAttribute("aria-label", `${mapLabel(rec.name, this.c, H, W, a.data)}. The picked ` +
        `unit: row ${this.unit.y}, col ${this.unit.x}. Arrow keys move it.`);
      inp.setAttribute("aria-label", `The input; the unit sees rows ${b[0]} to ${b[1]}, columns ${b[2]} to ${b[3]}`);
    };
    const at = (ev) => {
      const u = cellAt(ev, map, H, W);
      if (u && (u.y !== this.unit.y || u.x !== this.unit.x)) { this.unit = u; paint(); }
    };
    map.addEventListener("pointermove", at);
    map.addEventListener("click", at);
    map.addEventListener("keydown", (ev) => {
      const u = keyMove(ev, { c: this.c, ...this.unit }, [C, H, W], false);
      if (u && u !== "pick") { this.unit = { y: u.y, x: u.x }; paint(); }
    });
    paint();
  },

  table(net) { // how far each layer sees: the engine's numbers
    const wrap = el("details", "rf-table");
    wrap.append(el("summary", null, "How far each layer sees (r, S, P of every layer)"));
    const t = el("table");
    t.innerHTML = "<thead><tr><th>layer</th><th>output</th><th>field r</th><th>stride S</th>" +
      "<th>padding P</th></tr></thead>";
    const body = el("tbody");
    for (const r of net.layers) {
      const rf = r.rf || {};
      const tr = el("tr");
      const cells = rf.global || !rf.r ? [r.name, r.shape.join("x"), "whole input", "", ""]
        : [r.name, r.shape.join("x"), `${rf.r[0]}x${rf.r[1]}`, String(rf.S[0]), String(rf.P[0])];
      for (const c of cells) tr.append(el("td", null, c));
      body.append(tr);
    }
    t.append(body);
    wrap.append(t);
    return wrap;
  },
};

// ---------------------------------------------------------------- attribution pictures
// A map as ints -LEVELS..LEVELS: its share of its own largest |value| (saliencypanel.py's grid).
function levels(map) {
  let peak = 0;
  for (const v of map) peak = Math.max(peak, Math.abs(v));
  return Int32Array.from(map, (v) => (peak > 0 ? Math.round((v / peak) * LEVELS) : 0));
}

// The map alone on the diverging scale (blue against, red for).
function drawSigned(cv, lv) {
  const img = new ImageData(SIDE, SIDE), rd = LUTS.rdbu;
  for (let i = 0; i < PIXELS; i++) {
    const k = 3 * Math.round(((Math.max(-1, Math.min(1, lv[i] / LEVELS)) + 1) / 2) * 255);
    img.data.set([rd[k], rd[k + 1], rd[k + 2], 255], i * 4);
  }
  paintScaled(cv, img);
}

// The diverging scale's key: blue (against the class) .. white (0) .. red (for it).
function signedKey() {
  const k = el("div", "signed-key");
  const bar = el("span", "bar-rdbu");
  bar.style.background = `linear-gradient(to right, ${STOPS.rdbu.join(", ")})`;
  k.append(el("span", null, "against the class"), bar, el("span", null, "for it"));
  return k;
}

function targetPairs() {
  const p = LESSON.lens.prediction;
  return [["pred", `the prediction (${p})`], ...Array.from({ length: 10 }, (_, i) => [i, String(i)])];
}

const NO_ENGINE = "Saliency is computed in this browser by attribute.js, which this lesson was " +
  "written without: write the lesson again from a version of CNN lens that has " +
  "ui/components/js/attribute.js. The input is shown alone.";

// ---------------------------------------------------------------- Saliency
const SaliencyView = {
  method: "saliency", target: "pred", run: 0,

  draw(sec) {
    const net = LESSON.net.decoded;
    const methods = LESSON.data.lesson.methods.filter((m) => !m.feature_maps || camLayer(net));
    if (!methods.some((m) => m.key === this.method)) this.method = methods[0].key;
    sec.innerHTML = "";
    sec.append(el("p", "lead", "Which input pixels the class score depends on, by the method you " +
      "pick: red pixels push the score up, blue ones pull it down."));
    const bar = el("div", "bar");
    bar.append(picker("Method", methods.map((m) => [m.key, m.label]), this.method,
      (v) => { this.method = v; this.draw(sec); }));
    bar.append(picker("Class", targetPairs(), this.target, (v) => { this.target = v; this.draw(sec); }));
    const layer = attrLayer(net);
    if (usesLayer(methods.find((m) => m.key === this.method))) bar.append(layerPicker(net, () => this.draw(sec)));
    sec.append(bar);
    const px = Math.min(side(sec, 380), Math.floor(((sec.clientWidth || 800) - 16) / (sec.clientWidth >= 560 ? 2 : 1)));
    const row = el("div", "pair");
    const f1 = el("figure", "panel"), f2 = el("figure", "panel");
    const over = canvasOf(px, px, "sal-overlay", "The input with the attribution over it");
    const alone = canvasOf(px, px, "sal-map", "The attribution map alone");
    f1.append(el("figcaption", "cap", "Over the input"), over);
    f2.append(el("figcaption", "cap", "The map alone"), alone);
    row.append(f1, f2);
    const caption = el("p", "cap sal-cap");
    sec.append(row, signedKey(), caption);
    drawField(over, LESSON.pixels, [0, LAST], null, {});
    const target = this.target === "pred" ? LESSON.lens.prediction : +this.target;
    const label = methods.find((m) => m.key === this.method).label;
    if (typeof attributeNet !== "function") {
      note(sec, NO_ENGINE);
      drawField(alone, LESSON.pixels, [0, LAST], null, {});
      return;
    }
    caption.textContent = `Computing ${label} ...`;
    delete sec.dataset.sum;
    LESSON.cancelJobs();
    const run = ++this.run, pixels = LESSON.pixels, method = this.method;
    LESSON.attributeLater(method, pixels, { target, layer, seed: 0 }).then((map) => {
      if (run !== this.run) return;
      const lv = levels(map);
      drawField(over, pixels, [0, LAST], null, { overlay: lv, signed: true });
      drawSigned(alone, lv);
      sec.dataset.method = method;
      sec.dataset.target = String(target);
      sec.dataset.sum = String(map.reduce((a, v) => a + Math.abs(v), 0));
      caption.textContent = `${label} for class ${target} on ${LESSON.source.toLowerCase()}: ` +
        `${strongestPixels(map, true)} (each map scaled to its own largest value).`;
    }, (err) => {
      if (run === this.run && err.message !== "superseded") note(sec, `This method failed here: ${err.message}`);
    });
  },
};

// Run fn after the browser has shown what is on the page now (two frames, then a task).
function later(fn) {
  requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(fn, 0)));
}

// ---------------------------------------------------------------- All methods
const CompareView = {
  target: "pred", run: 0,

  draw(sec) {
    const net = LESSON.net.decoded;
    const methods = LESSON.data.lesson.methods;
    sec.innerHTML = "";
    sec.append(el("p", "lead", "Every attribution method on the same input and class, side by " +
      "side, each scaled to its own largest value: where they agree, trust the picture more " +
      "(the Trust view measures it)."));
    const bar = el("div", "bar");
    bar.append(picker("Class", targetPairs(), this.target, (v) => { this.target = v; this.draw(sec); }));
    bar.append(layerPicker(net, () => this.draw(sec)));
    sec.append(bar, signedKey());
    const grid = el("div", "methods");
    sec.append(grid);
    const engine = typeof attributeNet === "function";
    if (!engine) note(sec, NO_ENGINE);
    const w = sec.clientWidth || 800, cols = w >= 700 ? 4 : 2;
    const px = Math.max(120, Math.min(LESSON.large ? 300 : 240, Math.floor((w - (cols - 1) * 12 - 4) / cols)));
    const target = this.target === "pred" ? LESSON.lens.prediction : +this.target;
    const layer = attrLayer(net);
    const tiles = methods.map((m) => {
      const f = el("figure", "panel tile");
      f.dataset.method = m.key;
      f.style.width = `${px}px`;
      const cv = canvasOf(px, px, "tile-map", `${m.label} attribution for class ${target}`);
      const cap = el("figcaption", "cap", m.label);
      f.append(cap, cv);
      grid.append(f);
      drawField(cv, LESSON.pixels, [0, LAST], null, {});
      return { m, cv, f, cap };
    });
    if (!engine) return;
    LESSON.cancelJobs();
    const run = ++this.run, pixels = LESSON.pixels;
    // the quick methods first (the worker answers in the order asked), each tile saying so
    // while it computes
    const order = tiles.map((t, i) => i).sort((a, b) => cost(tiles[a].m.key) - cost(tiles[b].m.key));
    for (const i of order) {
      const { m, cv, f, cap } = tiles[i];
      if (m.feature_maps && !camLayer(net)) {
        cap.textContent = `${m.label}: no feature maps in this network`;
        continue;
      }
      cap.textContent = `${m.label} (computing ...)`;
      LESSON.attributeLater(m.key, pixels, { target, layer, seed: 0 }).then((map) => {
        if (run !== this.run) return;
        drawField(cv, pixels, [0, LAST], null, { overlay: levels(map), signed: true });
        f.dataset.done = "1";
        cap.textContent = m.label;
      }, (err) => {
        if (run === this.run && err.message !== "superseded") cap.textContent = `${m.label}: failed (${err.message})`;
      });
    }
  },
};

// The methods' relative cost in a browser (measured on seed): the cheap ones are drawn first.
const COST = { gradcam: 1, guided: 2, saliency: 3, deeplift: 4, smoothgrad: 5, ig: 6, occlusion: 7 };
const cost = (key) => COST[key] || 5;

LESSON.views.field = FieldView;
LESSON.views.saliency = SaliencyView;
LESSON.views.compare = CompareView;
