// The instant lens: the network's forward pass, feature maps and receptive fields in the browser.
//
// Mounted by ui/lens.py as a Streamlit component (st.components.v2). Python sends, once per
// network, the payload of viz/lens.py (layer records, weights, receptive-field table); the
// browser keeps it and recomputes everything on hover, key press and pen stroke, with no round
// trip. Python hears only a picked unit (Enter or click) and a finished drawing (pen released).
//
// Test hooks: the root has data-testid="lens"; .unit carries data-unit="LAYER,C,Y,X" and
// data-rf="Y0,Y1,X0,X1" (inclusive input-pixel bounds, unclipped); window.cnnLens.forward(pixels)
// returns {layer: {shape, data}} for 784 numbers 0-255; window.cnnLens.lastUpdateMs is the time
// from the last hover / key / stroke / layer event to its canvases drawn.

const NETS = (window.__cnnLensNets = window.__cnnLensNets || new Map()); // id -> decoded net
const INSTANCES = new WeakMap(); // parent element -> Lens


// ------------------------------------------------------------------------------------------
// Network: decode the payload, run the forward pass
// ------------------------------------------------------------------------------------------

function decodeF32(entry) {
  const bin = atob(entry.b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

export function decodeNet(payload) {
  const w = {};
  for (const [k, v] of Object.entries(payload.weights)) w[k] = decodeF32(v);
  const net = { ...payload, w };
  delete net.weights;
  for (const rec of net.layers) {
    if (rec.type === "bn") { // eval-mode BatchNorm as scale and shift
      const g = w[rec.name + ".weight"], b = w[rec.name + ".bias"];
      const m = w[rec.name + ".running_mean"], v = w[rec.name + ".running_var"];
      const n = m.length;
      rec._scale = new Float32Array(n);
      rec._shift = new Float32Array(n);
      for (let c = 0; c < n; c++) {
        const s = g[c] / Math.sqrt(v[c] + net.bn_eps);
        rec._scale[c] = s;
        rec._shift[c] = b[c] - m[c] * s;
      }
    }
  }
  return net;
}

function conv(x, C, H, W, rec, wt, bias, OH, OW) {
  const O = rec.out, k = rec.kernel, s = rec.stride || 1, p = rec.padding || 0;
  const d = rec.dilation || 1;
  const out = new Float32Array(O * OH * OW);
  const acc = new Float64Array(OH * OW);
  for (let o = 0; o < O; o++) {
    acc.fill(bias ? bias[o] : 0);
    for (let c = 0; c < C; c++) {
      const xc = c * H * W;
      for (let ky = 0; ky < k; ky++) {
        const dy = ky * d - p; // input row = y * s + dy
        const y0 = Math.max(0, Math.ceil(-dy / s)), y1 = Math.min(OH - 1, Math.floor((H - 1 - dy) / s));
        for (let kx = 0; kx < k; kx++) {
          const wv = wt[((o * C + c) * k + ky) * k + kx];
          if (wv === 0) continue;
          const dx = kx * d - p;
          const x0 = Math.max(0, Math.ceil(-dx / s)), x1 = Math.min(OW - 1, Math.floor((W - 1 - dx) / s));
          for (let y = y0; y <= y1; y++) {
            const ri = xc + (y * s + dy) * W + dx, ro = y * OW;
            if (s === 1) {
              for (let xx = x0; xx <= x1; xx++) acc[ro + xx] += wv * x[ri + xx];
            } else {
              for (let xx = x0; xx <= x1; xx++) acc[ro + xx] += wv * x[ri + xx * s];
            }
          }
        }
      }
    }
    out.set(acc, o * OH * OW);
  }
  return out;
}

function pool(x, C, H, W, rec, OH, OW, isMax) {
  const k = rec.kernel, s = rec.stride || k, p = rec.padding || 0;
  const out = new Float32Array(C * OH * OW);
  for (let c = 0; c < C; c++) {
    const xc = c * H * W;
    for (let oy = 0; oy < OH; oy++) {
      const hs = oy * s - p, he = Math.min(hs + k, H + p);
      const ya = Math.max(hs, 0), yb = Math.min(he, H);
      for (let ox = 0; ox < OW; ox++) {
        const ws = ox * s - p, we = Math.min(ws + k, W + p);
        const xa = Math.max(ws, 0), xb = Math.min(we, W);
        let v = isMax ? -Infinity : 0;
        for (let yy = ya; yy < yb; yy++) {
          const r = xc + yy * W;
          for (let xx = xa; xx < xb; xx++) {
            const u = x[r + xx];
            if (isMax) { if (u > v || Number.isNaN(u)) v = u; } else v += u;
          }
        }
        // average pooling counts the padding (torch's count_include_pad=True)
        out[(c * OH + oy) * OW + ox] = isMax ? v : v / ((he - hs) * (we - ws));
      }
    }
  }
  return out;
}

// Every layer's output for 784 pixels (0-255): [{name, shape, data: Float32Array}]
export function runNet(net, pixels) {
  const x0 = new Float32Array(784);
  for (let i = 0; i < 784; i++) x0[i] = (pixels[i] / 255 - net.mean) / net.std;
  let x = x0, shape = [1, 28, 28];
  const outs = [];
  for (const rec of net.layers) {
    const w = net.w;
    const [C, H, W] = shape.length === 3 ? shape : [shape[0], 1, 1];
    const oshape = rec.shape;
    let y;
    switch (rec.type) {
      case "conv":
        y = conv(x, C, H, W, rec, w[rec.name + ".weight"], w[rec.name + ".bias"], oshape[1], oshape[2]);
        break;
      case "bn": {
        y = new Float32Array(x.length);
        const n = H * W;
        for (let c = 0; c < C; c++) {
          const a = rec._scale[c], b = rec._shift[c];
          for (let i = c * n, e = i + n; i < e; i++) y[i] = x[i] * a + b;
        }
        break;
      }
      case "relu":
        y = new Float32Array(x.length);
        for (let i = 0; i < x.length; i++) y[i] = x[i] > 0 ? x[i] : 0;
        break;
      case "dropout": case "flatten":
        y = x; // eval mode: dropout is the identity; flatten keeps the order (C, H, W)
        break;
      case "maxpool": case "avgpool":
        y = pool(x, C, H, W, rec, oshape[1], oshape[2], rec.type === "maxpool");
        break;
      case "gap": {
        y = new Float32Array(C);
        const n = H * W;
        for (let c = 0; c < C; c++) {
          let s = 0;
          for (let i = c * n, e = i + n; i < e; i++) s += x[i];
          y[c] = s / n;
        }
        break;
      }
      case "linear": {
        const wt = w[rec.name + ".weight"], b = w[rec.name + ".bias"];
        const O = rec.out, I = rec.in;
        y = new Float32Array(O);
        for (let o = 0; o < O; o++) {
          let s = b ? b[o] : 0;
          const r = o * I;
          for (let i = 0; i < I; i++) s += wt[r + i] * x[i];
          y[o] = s;
        }
        break;
      }
      default:
        throw new Error(`layer ${rec.name}: the lens cannot run a ${rec.type} layer`);
    }
    x = y;
    shape = oshape;
    outs.push({ name: rec.name, shape: oshape, data: y });
  }
  return outs;
}

export function softmax(v) {
  let m = -Infinity;
  for (const u of v) m = Math.max(m, u);
  const e = Array.from(v, (u) => Math.exp(u - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((u) => u / s);
}

// ------------------------------------------------------------------------------------------
// MNIST preprocessing: a faithful port of viz/preprocess.py (to_mnist) and of Pillow's
// Lanczos resize (8-bit, fixed point), so a drawing gives the same 28x28 digit here as on the
// server.
// ------------------------------------------------------------------------------------------

export function roundHalfEven(v) {
  const f = Math.floor(v), d = v - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

function lanczos(x) {
  const sinc = (t) => (t === 0 ? 1 : Math.sin(t * Math.PI) / (t * Math.PI));
  return -3 <= x && x < 3 ? sinc(x) * sinc(x / 3) : 0;
}

const PRECISION_BITS = 22;

function coeffs(inSize, outSize) { // Pillow's precompute_coeffs + normalize_coeffs_8bpc
  const scale = inSize / outSize;
  const fs = Math.max(1, scale);
  const support = 3 * fs;
  const ksize = Math.ceil(support) * 2 + 1;
  const kk = new Int32Array(outSize * ksize), bounds = new Int32Array(outSize * 2);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / fs;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    const k = new Float64Array(xmax);
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = lanczos((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      if (ww !== 0) k[x] /= ww;
      const f = k[x] * (1 << PRECISION_BITS);
      kk[xx * ksize + x] = k[x] < 0 ? Math.trunc(-0.5 + f) : Math.trunc(0.5 + f);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, kk, bounds };
}

function clip8(v) {
  if (v >= (1 << PRECISION_BITS) * 256) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / (1 << PRECISION_BITS));
}

function passH(src, w, h, nw) { // resample every row to nw columns
  const c = coeffs(w, nw), out = new Uint8Array(nw * h);
  for (let yy = 0; yy < h; yy++) {
    const r = yy * w;
    for (let xx = 0; xx < nw; xx++) {
      const xmin = c.bounds[xx * 2], xmax = c.bounds[xx * 2 + 1], kb = xx * c.ksize;
      let ss = 1 << (PRECISION_BITS - 1);
      for (let x = 0; x < xmax; x++) ss += src[r + x + xmin] * c.kk[kb + x];
      out[yy * nw + xx] = clip8(ss);
    }
  }
  return out;
}

function passV(src, w, h, nh) { // resample every column to nh rows
  const c = coeffs(h, nh), out = new Uint8Array(w * nh);
  for (let yy = 0; yy < nh; yy++) {
    const ymin = c.bounds[yy * 2], ymax = c.bounds[yy * 2 + 1], kb = yy * c.ksize;
    for (let xx = 0; xx < w; xx++) {
      let ss = 1 << (PRECISION_BITS - 1);
      for (let y = 0; y < ymax; y++) ss += src[(y + ymin) * w + xx] * c.kk[kb + y];
      out[yy * w + xx] = clip8(ss);
    }
  }
  return out;
}

// Pillow's Image.resize((nw, nh), LANCZOS) of an 8-bit image (w x h, row-major Uint8Array):
// two separable passes rounded to 8 bits in between; Pillow runs the vertical pass first for a
// tall image (height more than twice the width) whose height shrinks, else the horizontal one.
export function resizeLanczos(src, w, h, nw, nh) {
  if (h > 2 * w && nh < h) {
    const v = passV(src, w, h, nh);
    return nw !== w ? passH(v, w, nh, nw) : v;
  }
  const t = nw !== w ? passH(src, w, h, nw) : src;
  return nh !== h ? passV(t, nw, h, nh) : t;
}

function median(values) {
  const a = Float64Array.from(values).sort();
  const n = a.length, m = n >> 1;
  return n % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}

// Grayscale in [0, 1] (1 = white), w x h -> Uint8Array(784), or null when no digit is found.
export function toMnist(gray, w, h) {
  const border = [];
  for (let x = 0; x < w; x++) border.push(gray[x]);
  for (let x = 0; x < w; x++) border.push(gray[(h - 1) * w + x]);
  for (let y = 0; y < h; y++) border.push(gray[y * w]);
  for (let y = 0; y < h; y++) border.push(gray[y * w + w - 1]);
  const bg = median(border);
  const ink = new Float64Array(w * h);
  let peak = 0;
  for (let i = 0; i < w * h; i++) {
    const v = bg >= 0.5 ? bg - gray[i] : gray[i] - bg;
    ink[i] = v > 0 ? v : 0;
    if (ink[i] > peak) peak = ink[i];
  }
  if (peak < 0.1) return null;
  let r0 = h, r1 = -1, c0 = w, c1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      ink[y * w + x] /= peak;
      if (ink[y * w + x] > 0.15) {
        if (y < r0) r0 = y;
        if (y > r1) r1 = y;
        if (x < c0) c0 = x;
        if (x > c1) c1 = x;
      }
    }
  }
  const ch = r1 - r0 + 1, cw = c1 - c0 + 1;
  const crop = new Uint8Array(ch * cw);
  for (let y = 0; y < ch; y++) {
    for (let x = 0; x < cw; x++) {
      const v = ink[(y + r0) * w + x + c0];
      crop[y * cw + x] = v > 0.15 * 0.5 ? Math.trunc(v * 255) : 0;
    }
  }
  const scale = 20 / Math.max(ch, cw);
  const nh = Math.max(1, roundHalfEven(ch * scale)), nw = Math.max(1, roundHalfEven(cw * scale));
  const small = resizeLanczos(crop, cw, ch, nw, nh);
  const frame = new Float64Array(784);
  const top = Math.floor((28 - nh) / 2), left = Math.floor((28 - nw) / 2);
  for (let y = 0; y < nh; y++) for (let x = 0; x < nw; x++) frame[(top + y) * 28 + left + x] = small[y * nw + x];
  let total = 0, sy = 0, sx = 0;
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const v = frame[y * 28 + x];
      total += v; sy += y * v; sx += x * v;
    }
  }
  if (total <= 0) return null;
  const dy = roundHalfEven(14 - sy / total), dx = roundHalfEven(14 - sx / total);
  const out = new Uint8Array(784);
  let mx = 0;
  for (let i = 0; i < 784; i++) mx = Math.max(mx, frame[i]);
  mx = Math.max(mx, 1e-9);
  for (let y = 0; y < 28; y++) {
    const sy2 = y - dy;
    if (sy2 < 0 || sy2 >= 28) continue;
    for (let x = 0; x < 28; x++) {
      const sx2 = x - dx;
      if (sx2 < 0 || sx2 >= 28) continue;
      const v = (frame[sy2 * 28 + sx2] / mx) * 255;
      out[y * 28 + x] = roundHalfEven(Math.min(255, Math.max(0, v)));
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// The component
// ------------------------------------------------------------------------------------------

const PAD = 240; // drawing pad pixels (the server's drawing canvas size)
const BRUSH = 9; // pen radius in pad pixels (an 18-pixel stroke)

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
    this.pixels = new Uint8Array(784);
    this.layer = null;
    this.unit = { c: 0, y: 0, x: 0 };
    this.cmap = "cividis";
    this.perMap = true;
    this.large = false;
    this.setters = {};
    this.prev = {};
    this.tiles = null; // grid geometry
    this.mask = new Uint8Array(PAD * PAD);
    this.padImage = null;
    this.pen = null;
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
    const pad = e.pad;
    pad.addEventListener("pointerdown", (ev) => {
      pad.setPointerCapture(ev.pointerId);
      this.pen = this.padPoint(ev);
      this.stamp(this.pen, this.pen);
      this.strokeUpdate(ev);
    });
    pad.addEventListener("pointermove", (ev) => {
      if (!this.pen) return;
      const evs = ev.getCoalescedEvents ? ev.getCoalescedEvents() : [ev];
      for (const c of evs.length ? evs : [ev]) {
        const p = this.padPoint(c);
        this.stamp(this.pen, p);
        this.pen = p;
      }
      this.strokeUpdate(ev);
    });
    const up = () => {
      if (!this.pen) return;
      this.pen = null;
      this.sendDrawing();
    };
    pad.addEventListener("pointerup", up);
    pad.addEventListener("pointercancel", up);
    this.ro = new ResizeObserver(() => { if (this.acts) this.drawLayer(); });
    this.ro.observe(e.wrap);
  }

  // Run fn now and record the time from the event to its canvases drawn.
  timed(ev, fn) {
    const t0 = ev && ev.timeStamp ? ev.timeStamp : performance.now();
    const start = performance.now();
    fn();
    this.done(t0, start);
  }

  // lastUpdateMs: event time stamp -> drawn; lastWorkMs: the lens's own work (handler start ->
  // drawn), without the time the event waited for the browser's main thread.
  done(t0, start) {
    const api = window.cnnLens;
    const now = performance.now();
    api.lastUpdateMs = now - t0;
    api.lastWorkMs = now - (start === undefined ? t0 : start);
    requestAnimationFrame(() => { api.lastFrameMs = performance.now() - t0; api.frames += 1; });
    api.updates += 1;
  }

  onKey(ev) {
    const rec = this.rec();
    if (!rec) return;
    const [C, H, W] = this.dims(rec);
    let { c, y, x } = this.unit;
    const vector = H === 1 && W === 1;
    switch (ev.key) {
      case "ArrowUp": if (vector) c -= 1; else y -= 1; break;
      case "ArrowDown": if (vector) c += 1; else y += 1; break;
      case "ArrowLeft": if (vector) c -= 1; else x -= 1; break;
      case "ArrowRight": if (vector) c += 1; else x += 1; break;
      case "PageUp": c -= 1; break;
      case "PageDown": c += 1; break;
      case "Home": y = 0; x = 0; break;
      case "End": y = H - 1; x = W - 1; break;
      case "Enter": case " ": ev.preventDefault(); this.pick(); return;
      default: return;
    }
    ev.preventDefault();
    c = Math.max(0, Math.min(C - 1, c));
    y = Math.max(0, Math.min(H - 1, y));
    x = Math.max(0, Math.min(W - 1, x));
    this.timed(ev, () => this.setUnit({ c, y, x }));
  }

  // ---- state from Python -----------------------------------------------------------------
  update(data) {
    const e = this.el;
    window.cnnLens = window.cnnLens || { lastUpdateMs: null, lastFrameMs: null, updates: 0, frames: 0 };
    const api = window.cnnLens;
    api.forward = (pixels) => this.forwardHook(pixels);
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
        o.textContent = `${i + 1}. ${rec.name} · ${rec.shape.join("x")}`;
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
      ctx.fillStyle = v[i] >= 0 ? "#3b5b92" : "#d8862a";
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
    this.el.focusCap.textContent = `${rec.name}: ${n} numbers (no map left: ` +
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
      this.el.gridHead.textContent = `${rec.name} (${rec.type}): ${C} numbers · ${rfText}`;
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
    const ov = this.el.gridOv;
    if (ov.width !== cw || ov.height !== ch) { ov.width = cw; ov.height = ch; }
    this.el.gridHead.innerHTML = "";
    const b = document.createElement("b");
    b.textContent = `${rec.name}: all ${C} feature maps (${H}x${W})`;
    this.el.gridHead.append(b, ` · ${rfText} · ` +
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
    this.el.focus.setAttribute("aria-label", `${rec.name}, ${where}, value ${fmt(value)}. ` +
      "Arrow keys move the unit, Page Up and Page Down change the channel, Enter picks it.");
  }

  drawInput(rec, b) {
    const cv = this.el.input;
    const [lo, hi] = layerExtent(rec);
    drawField(cv, this.pixels, [lo, hi], b, { dim: true });
    this.el.inputCap.textContent = lo < 0 || hi > 27
      ? `Input (28x28, grey border = zero padding) and the field of the unit`
      : "Input (28x28) and the field of the unit";
    cv.setAttribute("aria-label", `The input digit; the unit sees rows ${b[0]} to ${b[1]}, ` +
      `columns ${b[2]} to ${b[3]}`);
  }

  drawPrediction() {
    const p = this.probs;
    let best = 0;
    for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
    this.prediction = best;
    window.cnnLens.prediction = best;
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
    if (on && !this.padImage) this.clearPad(true);
    if (on) this.el.padPanel.scrollIntoView({ block: "nearest" });
  }

  clearPad(quiet) {
    this.mask.fill(0);
    const ctx = this.el.pad.getContext("2d", { willReadFrequently: true });
    this.padImage = new ImageData(PAD, PAD);
    this.padImage.data.fill(255);
    ctx.putImageData(this.padImage, 0, 0);
    if (!quiet) this.status(null);
  }

  padPoint(ev) {
    const r = this.el.pad.getBoundingClientRect();
    return [((ev.clientX - r.left) / r.width) * PAD, ((ev.clientY - r.top) / r.height) * PAD];
  }

  stamp(a, b) { // pen discs along the segment a-b: pure black or white pixels, no blending
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    const steps = Math.max(1, Math.ceil(len));
    let x0 = PAD, y0 = PAD, x1 = -1, y1 = -1;
    for (let i = 0; i <= steps; i++) {
      const cx = a[0] + ((b[0] - a[0]) * i) / steps, cy = a[1] + ((b[1] - a[1]) * i) / steps;
      const ya = Math.max(0, Math.floor(cy - BRUSH)), yb = Math.min(PAD - 1, Math.ceil(cy + BRUSH));
      const xa = Math.max(0, Math.floor(cx - BRUSH)), xb = Math.min(PAD - 1, Math.ceil(cx + BRUSH));
      for (let y = ya; y <= yb; y++) {
        for (let x = xa; x <= xb; x++) {
          const dx = x + 0.5 - cx, dy = y + 0.5 - cy;
          if (dx * dx + dy * dy <= BRUSH * BRUSH && !this.mask[y * PAD + x]) {
            this.mask[y * PAD + x] = 1;
            const j = (y * PAD + x) * 4;
            this.padImage.data[j] = 0; this.padImage.data[j + 1] = 0; this.padImage.data[j + 2] = 0;
          }
        }
      }
      x0 = Math.min(x0, xa); y0 = Math.min(y0, ya); x1 = Math.max(x1, xb); y1 = Math.max(y1, yb);
    }
    if (x1 >= x0) {
      this.el.pad.getContext("2d", { willReadFrequently: true }).putImageData(this.padImage, 0, 0, x0, y0, x1 - x0 + 1, y1 - y0 + 1);
    }
  }

  padGray() { // as viz.preprocess.rgba_to_gray of the pad's opaque RGBA pixels
    const g = new Float64Array(PAD * PAD), d = this.padImage.data;
    for (let i = 0; i < PAD * PAD; i++) {
      g[i] = (d[i * 4] / 255) * 0.299 + (d[i * 4 + 1] / 255) * 0.587 + (d[i * 4 + 2] / 255) * 0.114;
    }
    return g;
  }

  // Chromium delivers pointer moves once per frame (coalesced), so each one is answered at once.
  strokeUpdate(ev) {
    const t0 = ev.timeStamp || performance.now(), start = performance.now();
    const digit = toMnist(this.padGray(), PAD, PAD);
    if (!digit) return;
    this.pixels = digit;
    this.compute();
    this.drawAll();
    this.done(t0, start);
    window.cnnLens.liveDigit = Array.from(digit);
  }

  sendDrawing() {
    const set = this.setters.setStateValue;
    const digit = toMnist(this.padGray(), PAD, PAD);
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
    window.cnnLens.lastExport = a.download;
  }
}

export default function (component) {
  const { data, parentElement, setStateValue, setTriggerValue } = component;
  let lens = INSTANCES.get(parentElement);
  if (!lens) {
    lens = new Lens(parentElement);
    INSTANCES.set(parentElement, lens);
  }
  lens.setters = { setStateValue, setTriggerValue };
  try {
    lens.update(data || {});
  } catch (err) {
    lens.status(`The lens failed: ${err.message}`);
    throw err;
  }
}
