// The instant lens: the network's forward pass, feature maps and receptive fields in the browser.
//
// Mounted by ui/components/lens.py as a Streamlit component (st.components.v2), after the shared
// modules of ui/components/js/ that ui/components/__init__.py lists for it (the payload's
// decoding, the forward pass, the MNIST preprocessing port, drawing helpers, mounting, timing hooks, keyboard moves); this file is the
// view: the canvases, the events, the drawing pad. Python sends, once per
// network, the payload of viz/browser/lens.py (layer records, weights, receptive-field table); the
// browser keeps it and recomputes everything on hover, key press and pen stroke, with no round
// trip. Python hears only a picked unit (Enter or click) and a finished drawing (pen released).
//
// Test hooks: the root has data-testid="lens"; .unit carries data-unit="LAYER,C,Y,X" and
// data-rf="Y0,Y1,X0,X1" (inclusive input-pixel bounds, unclipped); window.cnnLens.forward(pixels)
// returns {layer: {shape, data}} for 784 numbers 0-255; window.cnnLens.attribute(method, pixels,
// {target, layer, seed}) returns the 784 values of an attribution map (attribute.js, the server's
// methods); window.cnnLens.lastUpdateMs is the time
// from the last hover / key / stroke / layer event to its canvases drawn.

const NETS = (window.__cnnLensNets = window.__cnnLensNets || new Map()); // id -> decoded net
const HOOKS = "cnnLens"; // window.cnnLens: the test and timing hooks (timing.js)

class Lens {
  constructor(root) {
    this.root = root;
    const q = (s) => root.querySelector(s);
    this.el = {
      lens: q(".lens"), layer: q(".layer"), cmap: q(".cmap"), drawBtn: q(".draw-toggle"),
      exportBtn: q(".export"), status: q(".status"), input: q("canvas.input"),
      focus: q("canvas.focus"), grid: q("canvas.grid"), gridHead: q(".grid-head"),
      unit: q(".unit"), predDigit: q(".pred-digit"), predSure: q(".pred-sure"), bars: q(".bars"),
      padPanel: q(".pad-panel"), pad: q("canvas.pad"), clear: q(".clear"),
      focusOv: q("canvas.focus-ov"), gridOv: q("canvas.grid-ov"), focusCap: q(".focus-cap"), inputCap: q(".input-cap"), wrap: q(".grid-wrap"),
    };
    this.net = null;
    this.acts = null; // Map name -> {shape, data}
    this.pixels = new Uint8Array(PIXELS);
    this.layer = null;
    this.unit = { c: 0, y: 0, x: 0 };
    this.cmap = "cividis";
    this.perMap = true;
    this.large = false;
    this.setters = {};
    this.prev = {};
    this.tiles = null; // grid geometry
    this.pad = new DrawingPad(this.el.pad, "lens"); // pad.js: its strokes kept across mounts
    this.wire();
  }

  // ---- events --------------------------------------------------------------------------
  wire() {
    const e = this.el;
    e.layer.addEventListener("change", (ev) => {
      this.timed(ev, () => this.setLayer(e.layer.value));
      // tell Python (links, other views) once the choice settles: one rerun, not one per key
      clearTimeout(this.layerTimer);
      this.layerTimer = setTimeout(() => {
        const set = this.setters.setStateValue;
        if (set) set("layer", this.layer);
      }, 400);
    });
    e.cmap.addEventListener("change", (ev) => this.timed(ev, () => { this.cmap = e.cmap.value; this.drawLayer(); }));
    this.root.querySelectorAll("input[name=lens-scale]").forEach((r) => r.addEventListener("change",
      (ev) => this.timed(ev, () => { this.perMap = r.value === "per map"; this.drawLayer(); })));
    e.drawBtn.addEventListener("click", () => this.showPad(e.padPanel.hidden));
    e.exportBtn.addEventListener("click", () => this.exportPng());
    e.clear.addEventListener("click", () => this.clearPad());
    const hover = (canvas, locate) => {
      canvas.addEventListener("pointermove", (ev) => {
        const u = locate(ev);
        if (u) this.timed(ev, () => this.setUnit(u));
      });
      canvas.addEventListener("click", (ev) => {
        const u = locate(ev);
        if (u) { this.timed(ev, () => this.setUnit(u)); this.pick(); }
      });
    };
    hover(e.focus, (ev) => this.locateFocus(ev));
    hover(e.grid, (ev) => this.locateGrid(ev));
    e.focus.addEventListener("keydown", (ev) => this.onKey(ev));
    e.grid.addEventListener("keydown", (ev) => this.onKey(ev));
    this.pad.wire((ev) => this.strokeUpdate(ev), () => this.sendDrawing());
    this.ro = new ResizeObserver(() => { if (this.acts) this.drawLayer(); });
    this.ro.observe(e.wrap);
  }

  // Run fn now and record the time from the event to its canvases drawn (timing.js).
  timed(ev, fn) { timed(HOOKS, ev, fn); }

  onKey(ev) {
    const rec = this.rec();
    if (!rec) return;
    const u = keyMove(ev, this.unit, this.dims(rec));
    if (u === "pick") this.pick();
    else if (u) this.timed(ev, () => this.setUnit(u));
  }

  // ---- state from Python -----------------------------------------------------------------
  update(data) {
    const e = this.el;
    const api = hooks(HOOKS);
    api.forward = (pixels) => this.forwardHook(pixels);
    api.attribute = (method, pixels, opts) => {
      if (!this.net) throw new Error("no network loaded in the lens");
      return Array.from(attributeNet(this.net, method, pixels, opts || {}));
    };
    api.toMnist = (gray, w, h) => { const d = toMnist(Float64Array.from(gray), w, h); return d && Array.from(d); };
    api.lens = this;
    if (data.net) {
      if (!NETS.has(data.net.id)) NETS.set(data.net.id, decodeNet(data.net));
    }
    const net = NETS.get(data.net_id);
    if (!net) {
      this.status("Loading the network into the lens ...");
      if (this.prev.asked !== data.net_id && this.setters.setTriggerValue) {
        this.prev.asked = data.net_id;
        this.setters.setTriggerValue("need_net", data.net_id);
      }
      return;
    }
    if (!net.supported) {
      this.status(`The lens cannot run this network (${net.reason}).`);
      return;
    }
    this.status(null);
    const large = !!data.large;
    if (large !== this.large) { this.large = large; e.lens.classList.toggle("large", large); }
    // "drawing": the page shows the prediction above the lens; the lens shows its live one only
    // while the pad is open.
    e.lens.classList.toggle("pred-when-drawing", data.prediction === "drawing");
    if (data.cmap && data.cmap !== this.prev.cmap) { this.cmap = data.cmap; e.cmap.value = data.cmap; }
    if (data.scale && data.scale !== this.prev.scale) {
      this.perMap = data.scale !== "shared";
      this.root.querySelectorAll("input[name=lens-scale]").forEach((r) => { r.checked = r.value === data.scale; });
    }
    if (data.draw && !this.prev.draw) this.showPad(true);
    let recompute = false;
    if (net !== this.net) {
      this.net = net;
      e.layer.innerHTML = "";
      net.layers.forEach((rec, i) => {
        const o = document.createElement("option");
        o.value = rec.name;
        const fed = rec.inputs && rec.join ? ` ← ${rec.inputs.join(" + ")}` : "";
        // its place in the network said in words ("19. relu5" read as a list number)
        o.textContent = `${rec.name} · ${rec.shape.join("x")}${fed} · layer ${i + 1} of ` +
          `${net.layers.length}`;
        e.layer.appendChild(o);
      });
      recompute = true;
    }
    const key = data.image ? data.image.join(",") : "";
    if (data.image && key !== this.prev.image) {
      this.pixels = Uint8Array.from(data.image);
      recompute = true;
    }
    if (recompute) this.compute();
    const names = net.layers.map((r) => r.name);
    let layer = this.layer;
    if (data.layer && data.layer !== this.prev.layer && names.includes(data.layer)) layer = data.layer;
    if (!names.includes(layer)) layer = ["relu5", "relu3", "relu2"].find((n) => names.includes(n)) || names[0];
    const unitKey = data.unit ? JSON.stringify(data.unit) : "";
    if (layer !== this.layer) this.setLayer(layer, true);
    if (data.unit && unitKey !== this.prev.unit && data.unit.layer === this.layer) {
      this.setUnit(this.clampUnit(data.unit), true);
    }
    this.drawAll();
    this.prev = { ...this.prev, image: key, layer: data.layer, unit: unitKey, cmap: data.cmap,
      scale: data.scale, draw: data.draw };
  }

  status(text) {
    this.el.status.hidden = !text;
    this.el.status.textContent = text || "";
  }

  forwardHook(pixels) {
    if (!this.net) throw new Error("no network loaded in the lens");
    const out = {};
    for (const a of runNet(this.net, pixels)) out[a.name] = { shape: a.shape, data: Array.from(a.data) };
    return out;
  }

  compute() {
    const outs = runNet(this.net, this.pixels);
    this.acts = new Map(outs.map((a) => [a.name, a]));
    this.probs = softmax(outs[outs.length - 1].data);
  }

  rec() { return this.net && this.net.layers.find((r) => r.name === this.layer); }

  dims(rec) {
    const s = rec.shape;
    return s.length === 3 ? s : [s[0], 1, 1];
  }

  clampUnit(u) {
    const [C, H, W] = this.dims(this.rec());
    return { c: Math.max(0, Math.min(C - 1, u.c | 0)), y: Math.max(0, Math.min(H - 1, u.y | 0)),
      x: Math.max(0, Math.min(W - 1, u.x | 0)) };
  }

  setLayer(name, quiet) {
    this.layer = name;
    this.el.layer.value = name;
    // start on the layer's most active unit: something to see at once
    const a = this.acts.get(name);
    let best = 0;
    for (let i = 1; i < a.data.length; i++) if (a.data[i] > a.data[best]) best = i;
    const [, H, W] = this.dims(this.rec());
    this.unit = { c: Math.floor(best / (H * W)), y: Math.floor((best % (H * W)) / W), x: best % W };
    if (!quiet) this.drawAll();
  }

  setUnit(u, quiet) {
    const same = u.c === this.unit.c && u.y === this.unit.y && u.x === this.unit.x;
    const newChannel = u.c !== this.unit.c;
    this.unit = u;
    if (quiet || same) return;
    if (newChannel) this.drawFocus();
    this.drawUnit();
  }

  pick() {
    const u = this.unit;
    const set = this.setters.setStateValue;
    if (set) set("unit", { layer: this.layer, c: u.c, y: u.y, x: u.x });
  }

  // ---- drawing ---------------------------------------------------------------------------
  drawAll() {
    if (!this.acts) return;
    this.drawPrediction();
    this.drawLayer();
  }

  drawLayer() {
    if (!this.acts || !this.layer) return;
    this.drawFocus();
    this.drawGrid();
    this.drawUnit();
  }

  colours() { return LUTS[this.cmap] || LUTS.cividis; }

  range(a, c) { // colour range of channel c (per map) or of the whole layer (shared)
    const [, H, W] = this.dims(this.rec());
    const n = H * W;
    let lo = Infinity, hi = -Infinity;
    const from = this.perMap ? c * n : 0, to = this.perMap ? from + n : a.data.length;
    for (let i = from; i < to; i++) { const v = a.data[i]; if (v < lo) lo = v; if (v > hi) hi = v; }
    if (!(hi > lo)) hi = lo + 1e-6;
    return [lo, hi];
  }

  mapImage(a, c, H, W) { // one channel as an ImageData through the colour map
    const [lo, hi] = this.range(a, c);
    const lutc = this.colours();
    const img = new ImageData(W, H);
    const n = H * W, off = c * n, k = 255 / (hi - lo);
    for (let i = 0; i < n; i++) {
      let t = Math.round((a.data[off + i] - lo) * k);
      t = t < 0 ? 0 : t > 255 ? 255 : t;
      img.data[i * 4] = lutc[t * 3]; img.data[i * 4 + 1] = lutc[t * 3 + 1];
      img.data[i * 4 + 2] = lutc[t * 3 + 2]; img.data[i * 4 + 3] = 255;
    }
    return img;
  }

  scratch(w, h) {
    if (!this._scratch) this._scratch = document.createElement("canvas");
    const s = this._scratch;
    if (s.width !== w || s.height !== h) { s.width = w; s.height = h; }
    return s;
  }

  drawFocus() {
    const rec = this.rec(), a = this.acts.get(this.layer);
    const [C, H, W] = this.dims(rec);
    const cv = this.el.focus, ctx = cv.getContext("2d", { willReadFrequently: true });
    const side = cv.width;
    ctx.clearRect(0, 0, side, side);
    if (H === 1 && W === 1) { this.drawVector(ctx, side, a.data, C); this.focusMap = false; return; }
    const img = this.mapImage(a, this.unit.c, H, W);
    const s = this.scratch(W, H);
    s.getContext("2d", { willReadFrequently: true }).putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(s, 0, 0, side, side);
    this.focusMap = true;
    const rf = rec.rf;
    this.el.focusCap.textContent = `Channel ${this.unit.c} of ${rec.name} (${H}x${W})` +
      (rf && !rf.global ? `: each unit sees ${rf.r[0]}x${rf.r[1]} input pixels` : "");
  }

  drawVector(ctx, side, v, n) {
    let lo = 0, hi = 0;
    for (const u of v) { lo = Math.min(lo, u); hi = Math.max(hi, u); }
    if (hi === lo) hi = lo + 1;
    const pad = 28, bw = (side - 2 * pad) / n;
    const zero = pad + ((hi - 0) / (hi - lo)) * (side - 2 * pad - 20);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, side, side);
    for (let i = 0; i < n; i++) {
      const y = pad + ((hi - v[i]) / (hi - lo)) * (side - 2 * pad - 20);
      ctx.fillStyle = v[i] >= 0 ? BLUE : ORANGE;
      ctx.fillRect(pad + i * bw + bw * 0.1, Math.min(y, zero), Math.max(1, bw * 0.8), Math.abs(zero - y) || 1);
    }
    ctx.strokeStyle = "#999";
    ctx.beginPath(); ctx.moveTo(pad, zero); ctx.lineTo(side - pad, zero); ctx.stroke();
    if (n <= 32) {
      ctx.fillStyle = "#333";
      ctx.font = `${this.large ? 18 : 13}px sans-serif`;
      ctx.textAlign = "center";
      for (let i = 0; i < n; i++) ctx.fillText(String(i), pad + (i + 0.5) * bw, side - 8);
    }
    this.vectorGeom = { pad, bw, n };
    const rec = this.rec();
    // a dense-only network (flatten first) never had a map: say so, not "no map left"
    const dense = !this.net.layers.some((r) => r.shape && r.shape.length === 3);
    this.el.focusCap.textContent = dense
      ? `${rec.name}: ${n} numbers (this network has no maps: it flattens the image first, so ` +
        `each unit of its first dense layer, and every unit after it, sees the whole image)`
      : `${rec.name}: ${n} numbers (no map left: ` +
        `${rec.rf && rec.rf.global ? "each sees the whole image" : "one value per channel"})`;
  }

  drawGrid() {
    const rec = this.rec(), a = this.acts.get(this.layer);
    const [C, H, W] = this.dims(rec);
    const cv = this.el.grid, ctx = cv.getContext("2d", { willReadFrequently: true });
    const rf = rec.rf;
    const rfText = rf && !rf.global ? `receptive field r = ${rf.r[0]}x${rf.r[1]}, effective stride S = ${rf.S[0]}, padding P = ${rf.P[0]}`
      : "every unit sees the whole input";
    if (H === 1 && W === 1) {
      cv.width = 10; cv.height = 10; cv.style.width = "0px"; cv.style.height = "0px";
      this.el.gridOv.getContext("2d").clearRect(0, 0, 10, 10);
      this.tiles = null;
      const fed = feeds(this.net, rec);
      this.el.gridHead.textContent = `${rec.name} (${rec.type}): ${C} numbers · ${rfText}` +
        (fed ? ` · ${fed}` : "");
      return;
    }
    const width = Math.max(300, this.el.wrap.clientWidth || 800);
    const label = this.large ? 22 : 16, gap = this.large ? 10 : 6;
    const maxTile = this.large ? 200 : 150;
    let cols = Math.min(C, Math.max(1, Math.floor((width + gap) / (Math.min(maxTile, 64) + gap))));
    cols = Math.min(cols, Math.max(4, Math.ceil(C / 2)));
    const tile = Math.min(maxTile, Math.floor((width - (cols - 1) * gap) / cols));
    const rows = Math.ceil(C / cols);
    const cw = cols * tile + (cols - 1) * gap, ch = rows * (tile + label + gap);
    if (cv.width !== cw || cv.height !== ch) { cv.width = cw; cv.height = ch; }
    cv.style.width = cw + "px"; cv.style.height = ch + "px";
    ctx.clearRect(0, 0, cw, ch);
    ctx.imageSmoothingEnabled = false;
    ctx.font = `${label - 4}px sans-serif`;
    ctx.fillStyle = "#444";
    ctx.textBaseline = "top";
    const s = this.scratch(W, H), sctx = s.getContext("2d", { willReadFrequently: true });
    for (let c = 0; c < C; c++) {
      const gx = (c % cols) * (tile + gap), gy = Math.floor(c / cols) * (tile + label + gap);
      ctx.fillText(`${c}`, gx + 1, gy + 1);
      sctx.putImageData(this.mapImage(a, c, H, W), 0, 0);
      ctx.drawImage(s, gx, gy + label, tile, tile);
    }
    this.tiles = { cols, tile, gap, label, C, H, W };
    const top = extreme(a.data, C * H * W, W); // canvas.js: the grid's text alternative
    cv.setAttribute("aria-label", `All ${C} feature maps of ${rec.name}, ${H}x${W} each; ` +
      `strongest: channel ${Math.floor(top.i / (H * W))}, row ${top.y % H}, col ${top.x}, ` +
      `value ${fmt(top.v)}. Hover a map to see a unit, click to pick it.`);
    const ov = this.el.gridOv;
    if (ov.width !== cw || ov.height !== ch) { ov.width = cw; ov.height = ch; }
    this.el.gridHead.innerHTML = "";
    const b = document.createElement("b");
    b.textContent = `${rec.name}: all ${C} feature maps (${H}x${W})`;
    const fed = feeds(this.net, rec);
    this.el.gridHead.append(b, ` · ${rfText} · ` + (fed ? `${fed} · ` : "") +
      (this.perMap ? "each map on its own colour scale" : "one shared colour scale"));
  }

  drawUnit() { // the unit's outline on both map views and its field on the input, one frame
    const rec = this.rec();
    if (!rec) return;
    const [, H, W] = this.dims(rec);
    const { c, y, x } = this.unit;
    const a = this.acts.get(this.layer);
    const value = a.data[(c * H + y) * W + x];
    // outlines on transparent overlays: the maps under them are drawn once per layer / channel
    const fo = this.el.focusOv.getContext("2d");
    fo.clearRect(0, 0, this.el.focusOv.width, this.el.focusOv.height);
    if (this.focusMap) {
      const side = this.el.focusOv.width, u = side / W, v = side / H;
      fo.lineWidth = Math.max(2, Math.min(4, u / 4));
      fo.strokeStyle = "#fff";
      fo.strokeRect(x * u - 1, y * v - 1, u + 2, v + 2);
      fo.strokeStyle = ORANGE;
      fo.strokeRect(x * u + 1, y * v + 1, u - 2, v - 2);
    } else if (this.vectorGeom) {
      const g = this.vectorGeom;
      fo.strokeStyle = ORANGE;
      fo.lineWidth = 3;
      fo.strokeRect(g.pad + c * g.bw, 4, g.bw, this.el.focusOv.height - 8);
    }
    if (this.tiles) {
      const t = this.tiles, go = this.el.gridOv.getContext("2d");
      go.clearRect(0, 0, this.el.gridOv.width, this.el.gridOv.height);
      const gx = (c % t.cols) * (t.tile + t.gap), gy = Math.floor(c / t.cols) * (t.tile + t.label + t.gap) + t.label;
      go.lineWidth = 3;
      go.strokeStyle = ORANGE;
      go.strokeRect(gx - 1.5, gy - 1.5, t.tile + 3, t.tile + 3);
      const u = t.tile / t.W, v = t.tile / t.H;
      go.lineWidth = 2;
      go.strokeStyle = "#fff";
      go.strokeRect(gx + x * u - 1, gy + y * v - 1, u + 2, v + 2);
    }
    const b = unitBounds(rec, y, x);
    this.drawInput(rec, b);
    const el = this.el.unit;
    el.dataset.unit = `${rec.name},${c},${y},${x}`;
    el.dataset.rf = b.join(",");
    const rf = rec.rf;
    const spatial = H > 1 || W > 1;
    const where = spatial ? `channel ${c}, row ${y}, col ${x}` : `unit ${c}`;
    let html = `<b>${rec.name}</b>, ${where}: value ${fmt(value)}<br>`;
    if (rf && !rf.global) {
      const padPart = paddingShare(b);
      html += `sees rows <b>${b[0]}..${b[1]}</b>, cols <b>${b[2]}..${b[3]}</b>` +
        ` (r = ${rf.r[0]}, S = ${rf.S[0]}, P = ${rf.P[0]})` +
        (padPart > 0 ? `; ${Math.round(padPart * 100)}% of it is zero padding (hatched)` : "");
    } else {
      html += "sees the whole input (a global layer)";
    }
    el.innerHTML = html;
    const what = spatial ? `${mapLabel(rec.name, c, H, W, a.data)}; unit row ${y}, col ${x}, ` +
      `value ${fmt(value)}` : `${rec.name}, ${where}, value ${fmt(value)}`; // canvas.js
    this.el.focus.setAttribute("aria-label", `${what}. ` +
      "Arrow keys move the unit, Page Up and Page Down change the channel, Enter picks it.");
  }

  drawInput(rec, b) {
    const cv = this.el.input;
    const [lo, hi] = layerExtent(rec);
    drawField(cv, this.pixels, [lo, hi], b, { dim: true });
    this.el.inputCap.textContent = lo < 0 || hi > LAST
      ? `Input (${SIDE}x${SIDE}, grey border = zero padding) and the field of the unit`
      : `Input (${SIDE}x${SIDE}) and the field of the unit`;
    cv.setAttribute("aria-label", `The input digit; the unit sees rows ${b[0]} to ${b[1]}, ` +
      `columns ${b[2]} to ${b[3]}`);
  }

  drawPrediction() {
    const p = this.probs;
    let best = 0;
    for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
    this.prediction = best;
    hooks(HOOKS).prediction = best;
    // An empty input (a pad with nothing drawn yet) has no prediction worth showing.
    const blank = !this.pixels.some((v) => v > 0);
    this.el.lens.classList.toggle("blank", blank);
    this.el.predDigit.textContent = blank ? "-" : String(best);
    this.el.predSure.textContent = blank ? "nothing drawn yet" : `${(p[best] * 100).toFixed(1)}% sure`;
    const bars = this.el.bars;
    if (bars.childElementCount !== p.length * 3) {
      bars.innerHTML = "";
      for (let i = 0; i < p.length; i++) {
        const l = document.createElement("span"); l.textContent = String(i);
        const b = document.createElement("div"); b.className = "b";
        const t = document.createElement("span"); t.className = "p";
        bars.append(l, b, t);
      }
    }
    for (let i = 0; i < p.length; i++) {
      const b = bars.children[i * 3 + 1], t = bars.children[i * 3 + 2];
      b.style.width = `${Math.max(1, p[i] * 100)}%`;
      b.classList.toggle("top", i === best);
      t.textContent = `${(p[i] * 100).toFixed(p[i] < 0.1 ? 1 : 0)}%`;
    }
    bars.setAttribute("aria-label", `Class probabilities; predicted ${best} at ${(p[best] * 100).toFixed(0)}%`);
  }

  // ---- hover geometry -------------------------------------------------------------------
  locateFocus(ev) {
    const rec = this.rec();
    if (!rec) return null;
    const [C, H, W] = this.dims(rec);
    const r = this.el.focus.getBoundingClientRect();
    const fx = (ev.clientX - r.left) / r.width, fy = (ev.clientY - r.top) / r.height;
    if (fx < 0 || fy < 0 || fx >= 1 || fy >= 1) return null;
    if (H === 1 && W === 1) {
      const g = this.vectorGeom;
      const px = fx * this.el.focus.width;
      const c = Math.floor((px - g.pad) / g.bw);
      return c >= 0 && c < C ? { c, y: 0, x: 0 } : null;
    }
    return { c: this.unit.c, y: Math.floor(fy * H), x: Math.floor(fx * W) };
  }

  locateGrid(ev) {
    const t = this.tiles;
    if (!t) return null;
    const r = this.el.grid.getBoundingClientRect();
    const px = ((ev.clientX - r.left) / r.width) * this.el.grid.width;
    const py = ((ev.clientY - r.top) / r.height) * this.el.grid.height;
    const col = Math.floor(px / (t.tile + t.gap)), row = Math.floor(py / (t.tile + t.label + t.gap));
    const lx = px - col * (t.tile + t.gap), ly = py - row * (t.tile + t.label + t.gap) - t.label;
    const c = row * t.cols + col;
    if (col >= t.cols || c >= t.C || lx < 0 || lx >= t.tile || ly < 0 || ly >= t.tile) return null;
    return { c, y: Math.floor((ly / t.tile) * t.H), x: Math.floor((lx / t.tile) * t.W) };
  }

  // ---- drawing pad -----------------------------------------------------------------------
  showPad(on) {
    this.el.padPanel.hidden = !on;
    this.el.lens.classList.toggle("drawing", on);
    this.el.drawBtn.setAttribute("aria-pressed", on ? "true" : "false");
    if (on && !this.pad.image) this.clearPad(true);
    if (on) this.el.padPanel.scrollIntoView({ block: "nearest" });
  }

  clearPad(quiet) {
    this.pad.clear();
    if (!quiet) this.status(null);
  }

  // Each pen move is answered at once (the pad hands them on once per frame).
  strokeUpdate(ev) {
    const t0 = ev.timeStamp || performance.now(), start = performance.now();
    const digit = this.pad.digit();
    if (!digit) return;
    this.pixels = digit;
    this.compute();
    this.drawAll();
    recordUpdate(HOOKS, t0, start);
    hooks(HOOKS).liveDigit = Array.from(digit);
    this.pad.describe(`the network reads it as ${this.prediction}`);
  }

  sendDrawing() {
    const set = this.setters.setStateValue;
    const digit = this.pad.digit();
    if (!digit) return;
    if (set) set("drawing", { png: this.el.pad.toDataURL("image/png"), digit: Array.from(digit),
      prediction: this.prediction });
  }

  // ---- export ------------------------------------------------------------------------------
  exportPng() {
    const e = this.el, gap = 16, title = 36;
    const topH = e.input.height, gridW = e.grid.style.width === "0px" ? 0 : e.grid.width;
    const gridH = gridW ? e.grid.height : 0;
    const [lname, c, y, x] = e.unit.dataset.unit.split(",");
    const [y0, y1, x0, x1] = e.unit.dataset.rf.split(",");
    const head = `${this.net.arch} · ${lname} · channel ${c}, row ${y}, col ${x} · prediction ${this.prediction}`;
    const field = `sees input rows ${y0}..${y1}, cols ${x0}..${x1}`;
    const gridText = e.gridHead.textContent;
    const probe = document.createElement("canvas").getContext("2d");
    probe.font = "15px sans-serif";
    const textW = probe.measureText(gridText).width;
    const w = Math.ceil(Math.max(e.input.width * 2 + gap * 3, gridW + gap * 2, textW + gap * 2));
    const h = title + topH + gap * 2 + (gridH ? gridH + gap + 24 : 0) + 30;
    const out = document.createElement("canvas");
    out.width = w; out.height = h;
    const ctx = out.getContext("2d");
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h);
    ctx.fillStyle = "#222"; ctx.font = "20px sans-serif"; ctx.textBaseline = "top";
    ctx.fillText(head, gap, 8);
    ctx.drawImage(e.input, gap, title);
    ctx.drawImage(e.focus, gap * 2 + e.input.width, title);
    ctx.drawImage(e.focusOv, gap * 2 + e.input.width, title);
    ctx.font = "15px sans-serif";
    ctx.fillText(field, gap, title + topH + 6);
    if (gridH) {
      ctx.fillText(gridText, gap, title + topH + gap + 20);
      ctx.drawImage(e.grid, gap, title + topH + gap + 44);
      ctx.drawImage(e.gridOv, gap, title + topH + gap + 44);
    }
    const a = document.createElement("a");
    a.href = out.toDataURL("image/png");
    a.download = `cnn-lens-${this.net.arch}-${this.layer}.png`;
    this.root.appendChild ? this.root.appendChild(a) : document.body.appendChild(a);
    a.click();
    a.remove();
    hooks(HOOKS).lastExport = a.download;
  }
}

export default function (component) {
  mount(component, Lens, (lens, data) => {
    try {
      lens.update(data || {});
    } catch (err) {
      lens.status(`The lens failed: ${err.message}`);
      throw err;
    }
  });
}
