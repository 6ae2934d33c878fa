// The saliency panel: one attribution map over the input and alone, drawn in the browser.
//
// Mounted by ui/components/saliencymap.py (st.components.v2) after the shared modules of ui/components/js/ that
// ui/components/__init__.py lists for it (colours, mounting, timing hooks). Python sends the
// input, the map, the scale's limit and the overlay's colour scale (viz/browser/saliencypanel.py). The
// opacity slider and the pointer's readout answer here, with no round trip. With "maps" instead
// (the All methods view), it draws a grid: rows x methods, each map as a share of its own largest
// |value|, on one scale -1..1.
//
// With "live" (the network, when it runs in the browser: viz/browser/lens.py's bound), the maps
// are computed here and follow the drawing pad (livemaps.js).
//
// Test hooks: the root has data-testid="saliency-map"; .readout carries data-pixel="Y,X" of the
// pixel under the pointer; window.cnnSaliency.lastUpdateMs is the time from the last pointer or
// slider event to its drawing.

const HOOKS = "cnnSaliency"; // window.cnnSaliency: the test and timing hooks (timing.js)

function sig(v) { // 3 significant digits: attribution values span many orders of magnitude
  return Math.abs(v) >= 1000 ? v.toFixed(0) : v === 0 ? "0" : String(Number(v.toPrecision(3)));
}

function overlayColour(stops, t) { // [r, g, b, a] of a scale of [[t, r, g, b, a], ...] at t
  if (t <= stops[0][0]) return stops[0].slice(1);
  for (let i = 1; i < stops.length; i++) {
    if (t <= stops[i][0]) {
      const [t0, ...a] = stops[i - 1], [t1, ...b] = stops[i];
      const f = (t - t0) / (t1 - t0);
      return a.map((v, k) => v + (b[k] - v) * f);
    }
  }
  return stops[stops.length - 1].slice(1);
}

class SaliencyPanel {
  constructor(root) {
    const q = (s) => root.querySelector(s);
    this.el = {
      sm: q(".sm"), over: q("canvas.over"), raw: q("canvas.raw"), bar: q("canvas.bar"),
      hi: q(".hi"), lo: q(".lo"), opacity: q(".opacity"), opacityValue: q(".opacity-value"),
      overCap: q(".over-cap"), rawCap: q(".raw-cap"), readout: q(".readout"),
      single: q(".single"), gridMode: q(".grid-mode"), grid: q(".grid"), hbar: q("canvas.hbar"),
    };
    this.root = root;
    this.live = null; // livemaps.js, made on the first live data
    this.d = null;
    this.opacity = 0.65;
    this.touched = false; // the viewer moved the slider: keep their opacity across reruns
    const e = this.el;
    e.opacity.addEventListener("input", (ev) => this.timed(ev, () => {
      this.opacity = Number(e.opacity.value);
      this.touched = true;
      this.drawOver();
    }));
    for (const cv of [e.over, e.raw]) {
      cv.addEventListener("pointermove", (ev) => {
        const p = cellAt(ev, cv, SIDE, SIDE);
        if (p) this.timed(ev, () => this.readout(p.y, p.x));
      });
    }
  }

  timed(ev, fn) { timed(HOOKS, ev, fn); }

  update(data) {
    hooks(HOOKS).panel = this;
    if (data.live) {
      this.live = this.live || new LiveMaps(this, this.root);
      hooks(HOOKS).live = this.live;
      this.live.update(data, this.setters || {});
      return;
    }
    if (this.live) this.live.hide();
    this.show(data);
  }

  // Draw the data: one map (image, attr, lim, overlay, label) or the grid (image, rows, methods,
  // maps, blank).
  show(data) {
    this.d = data;
    this.el.sm.classList.toggle("large", !!data.large);
    const grid = Array.isArray(data.maps);
    this.el.single.hidden = grid;
    this.el.gridMode.hidden = !grid;
    this.el.readout.dataset.pixel = "";
    if (grid) { this.drawGrid(); return; }
    if (!this.touched && typeof data.opacity === "number") this.opacity = data.opacity;
    this.el.opacity.value = String(this.opacity);
    this.el.hi.textContent = `+${sig(data.lim)}`;
    this.el.lo.textContent = `-${sig(data.lim)}`;
    this.el.overCap.textContent = `${data.label}, over the input: red = evidence for, blue = ` +
      "against (scale centred at 0).";
    this.el.rawCap.textContent = `The map alone (${SIDE}x${SIDE}, same colour scale).`;
    this.prepare();
    this.drawOver();
    this.drawRaw();
    this.drawBar();
    this.describe();
    this.el.readout.textContent = "Point at a pixel to read its value.";
    this.el.readout.dataset.pixel = "";
  }

  // Per pixel: the paper (grey ink on white), the overlay's colour and alpha, the raw colour.
  prepare() {
    const d = this.d, stops = d.overlay, rd = LUTS.rdbu;
    this.paper = new Float32Array(PIXELS);
    this.ov = new Float32Array(PIXELS * 4);
    this.rawRgb = new Uint8ClampedArray(PIXELS * 3);
    for (let i = 0; i < PIXELS; i++) {
      this.paper[i] = 255 - 0.5 * d.image[i];
      const t = Math.max(0, Math.min(1, (d.attr[i] / d.lim + 1) / 2));
      const c = overlayColour(stops, t);
      this.ov.set(c, i * 4);
      const k = 3 * Math.round(t * 255);
      this.rawRgb[i * 3] = rd[k]; this.rawRgb[i * 3 + 1] = rd[k + 1]; this.rawRgb[i * 3 + 2] = rd[k + 2];
    }
  }

  tile(rgbOf) {
    const img = new ImageData(SIDE, SIDE);
    for (let i = 0; i < PIXELS; i++) {
      const [r, g, b] = rgbOf(i);
      img.data[i * 4] = r; img.data[i * 4 + 1] = g; img.data[i * 4 + 2] = b; img.data[i * 4 + 3] = 255;
    }
    return img;
  }

  paint(cv, img) {
    const small = document.createElement("canvas");
    small.width = SIDE; small.height = SIDE;
    small.getContext("2d").putImageData(img, 0, 0);
    const ctx = cv.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(small, 0, 0, cv.width, cv.height);
    cv._img = img;
  }

  drawOver() {
    const op = this.opacity, ov = this.ov, paper = this.paper;
    this.el.opacityValue.textContent = op.toFixed(2);
    this.paint(this.el.over, this.tile((i) => {
      const a = ov[i * 4 + 3] * op, g = paper[i];
      return [g * (1 - a) + ov[i * 4] * a, g * (1 - a) + ov[i * 4 + 1] * a, g * (1 - a) + ov[i * 4 + 2] * a];
    }));
  }

  drawRaw() {
    const rgb = this.rawRgb;
    this.paint(this.el.raw, this.tile((i) => [rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]]));
  }

  drawBar() {
    const cv = this.el.bar, ctx = cv.getContext("2d"), rd = LUTS.rdbu;
    for (let y = 0; y < cv.height; y++) {
      const k = 3 * Math.round((1 - y / (cv.height - 1)) * 255);
      ctx.fillStyle = `rgb(${rd[k]},${rd[k + 1]},${rd[k + 2]})`;
      ctx.fillRect(0, y, cv.width, 1);
    }
  }

  describe() { // the strongest pixel each way, for screen readers
    const a = this.d.attr;
    let hi = 0, lo = 0;
    for (let i = 1; i < PIXELS; i++) { if (a[i] > a[hi]) hi = i; if (a[i] < a[lo]) lo = i; }
    const at = (i) => `row ${Math.floor(i / SIDE)}, col ${i % SIDE}`;
    const text = `${this.d.label}. Strongest evidence for at ${at(hi)} (${sig(a[hi])}), ` +
      `against at ${at(lo)} (${sig(a[lo])}).`;
    this.el.over.setAttribute("aria-label", text);
    this.el.raw.setAttribute("aria-label", text);
  }

  readout(y, x) {
    const i = y * SIDE + x, d = this.d;
    this.el.readout.dataset.pixel = `${y},${x}`;
    this.el.readout.textContent = `Row ${y}, col ${x}: pixel ${d.image[i]}, value ${sig(d.attr[i])}` +
      (Math.abs(d.attr[i]) > d.lim ? " (beyond the scale: drawn at its end)" : "");
  }

  // The grid: one small canvas per (row, method), drawn from levels -LEVELS..LEVELS on RdBu.
  // Each cell carries its place twice (CSS variables): wide, the methods are columns; in a narrow
  // panel (a phone: seven columns would squeeze the methods' names over each other) the grid
  // turns, the methods become rows (saliencymap.css's container query picks).
  drawGrid() {
    const d = this.d, g = this.el.grid, rd = LUTS.rdbu, n = d.methods.length;
    const named = d.rows.length > 1, off = named ? 2 : 1;
    const place = (el, r, c) => { // r, c: 1-based line in the wide grid
      el.style.setProperty("--wr", r); el.style.setProperty("--wc", c);
      el.style.setProperty("--nr", c - off + 2); el.style.setProperty("--nc", r);
      g.append(el);
    };
    g.innerHTML = "";
    g.style.setProperty("--wide-cols", `${named ? "1.4em " : ""}repeat(${n}, minmax(0, 1fr))`);
    g.style.setProperty("--narrow-cols", `minmax(0, max-content) repeat(${d.rows.length}, minmax(0, 9rem))`);
    if (named) place(document.createElement("span"), 1, 1);
    d.methods.forEach((m, k) => {
      const h = document.createElement("div");
      h.className = "head"; h.textContent = m;
      place(h, 1, k + off);
    });
    this.tiles = [];
    d.rows.forEach((rname, r) => {
      if (named) {
        const l = document.createElement("div");
        l.className = "rowname"; l.textContent = rname;
        place(l, r + 2, 1);
      }
      d.methods.forEach((m, k) => {
        const levels = d.maps[r * n + k], tile = document.createElement("div");
        tile.className = "tile";
        const cv = document.createElement("canvas");
        cv.width = 112; cv.height = 112;
        const blank = d.blank.includes(m);
        cv.setAttribute("role", "img");
        cv.setAttribute("aria-label", blank ? `${m} (${rname}): not available for this layer`
          : `${m} (${rname}): ${strongestPixels(levels, true)}`); // canvas.js
        this.paint(cv, this.tile((i) => {
          const j = 3 * Math.round(((levels[i] / LEVELS + 1) / 2) * 255);
          return [rd[j], rd[j + 1], rd[j + 2]];
        }));
        cv.addEventListener("pointermove", (ev) => {
          const p = cellAt(ev, cv, SIDE, SIDE);
          if (!p) return;
          const { y, x } = p;
          this.timed(ev, () => {
            const v = levels[y * SIDE + x] / LEVELS;
            this.el.readout.dataset.pixel = `${y},${x}`;
            this.el.readout.textContent = blank ? `${m} (${rname}): not available for this layer`
              : `${m} (${rname}), row ${y}, col ${x}: pixel ${d.image[y * SIDE + x]}, ` +
                `${v.toFixed(2)} of its largest |value|`;
          });
        });
        tile.append(cv);
        if (blank) {
          const na = document.createElement("div");
          na.className = "na"; na.textContent = "not available for this layer";
          tile.append(na);
        }
        place(tile, r + 2, k + off);
        this.tiles.push(cv);
      });
    });
    const hb = this.el.hbar, hc = hb.getContext("2d");
    for (let x = 0; x < hb.width; x++) {
      const j = 3 * Math.round((x / (hb.width - 1)) * 255);
      hc.fillStyle = `rgb(${rd[j]},${rd[j + 1]},${rd[j + 2]})`;
      hc.fillRect(x, 0, 1, hb.height);
    }
    this.el.readout.textContent = "Point at a map to read its value.";
  }

  // The 28x28 RGBA of a picture ("over" or "raw", or grid tile number k), for tests.
  pixels(kind) {
    const cv = typeof kind === "number" ? this.tiles[kind] : this.el[kind];
    return Array.from(cv._img.data);
  }
}

export default function (component) {
  mount(component, SaliencyPanel, (panel, data) => { if (data) panel.update(data); });
}
