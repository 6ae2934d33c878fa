// The lesson page: Explore's views of the networks in LESSON_DATA (written by model/lesson), run
// in this browser with no server. Loaded after the app's shared modules (ui/components/js), the
// lens component (lens.js, whose Lens draws the Feature maps view) and views.js / tables.js (the
// other views). One input for every view: a sample digit or the drawing pad.
//
// Test hooks: each view's container has data-testid="view-NAME"; window.cnnLens is the lens's
// (forward(pixels), prediction) with attribute(method, pixels, {target, layer, seed}) added, and
// lesson (this object).

const LESSON = {
  data: window.LESSON_DATA || {},
  net: null, // {key, name, payload, atlas, confusion, trust, decoded}
  pixels: new Uint8Array(PIXELS),
  source: "",
  view: "maps",
  large: false,
  lens: null,
  dirty: new Set(), // views to redraw when next shown
  views: {}, // name -> {draw(section)}: views.js, tables.js
  el: {},

  section(name) { return document.querySelector(`section.view[data-view="${name}"]`); },

  init() {
    const q = (s) => document.querySelector(s);
    this.el = { net: q("#net"), netPick: q(".net-pick"), facts: q(".net-facts"), large: q("#large"),
      samples: q(".samples"), current: q("canvas.current"), what: q(".input-what"),
      pred: q(".input-pred"), pad: q("canvas.lesson-pad"), clear: q(".pad-clear"),
      padToggle: q(".pad-toggle"), aside: q("aside.input") };
    const info = this.data.lesson;
    if (!info || !info.networks.length) {
      document.body.insertAdjacentHTML("afterbegin",
        '<p class="note">This lesson has no network: write it again with python -m model.lesson.</p>');
      return;
    }
    for (const n of info.networks) {
      const o = document.createElement("option");
      o.value = n.key; o.textContent = n.name;
      this.el.net.appendChild(o);
    }
    this.el.netPick.hidden = info.networks.length < 2;
    this.el.net.addEventListener("change", () => this.setNet(this.el.net.value));
    document.querySelectorAll(".tabs button").forEach((b) =>
      b.addEventListener("click", () => this.show(b.dataset.view)));
    this.el.large.addEventListener("click", () => this.setLarge(!this.large));
    this.samples();
    this.pad = new DrawingPad(this.el.pad, "lesson");
    this.pad.clear();
    this.pad.wire(() => this.drawn(true), () => this.drawn(false));
    this.el.clear.addEventListener("click", () => { this.pad.clear(); this.pickSample(0); });
    this.el.padToggle.addEventListener("click", () => { // a narrow screen: the pad on request
      const on = !this.el.aside.classList.contains("drawing");
      this.el.aside.classList.toggle("drawing", on);
      this.el.padToggle.setAttribute("aria-expanded", on ? "true" : "false");
      this.el.padToggle.textContent = on ? "Hide the pad" : "Draw a digit";
    });
    // the lens: the app's component, mounted on the Feature maps section, no Python to tell
    mountLens({ data: {}, parentElement: this.section("maps") });
    this.lens = MOUNTED.get(this.section("maps"));
    const api = hooks("cnnLens");
    api.attribute = (method, pixels, opts = {}) => Array.from(this.attribute(method, pixels, opts));
    api.lesson = this;
    const hash = location.hash.replace("#", "");
    this.setNet(info.networks[0].key, true);
    this.pickSample(0, true);
    this.show(this.views[hash] || hash === "maps" ? hash : "maps");
    let t = null, width = window.innerWidth;
    window.addEventListener("resize", () => { // redrawn to the new width (not for a height change)
      clearTimeout(t);
      t = setTimeout(() => {
        if (window.innerWidth === width) return;
        width = window.innerWidth;
        this.markAll();
        this.show(this.view);
      }, 200);
    });
  },

  // ---- the network -----------------------------------------------------------------------
  setNet(key, quiet) {
    const d = this.data[key];
    const p = d.payload;
    if (!NETS.has(p.id)) NETS.set(p.id, decodeNet(p));
    this.net = { key, ...d, decoded: NETS.get(p.id) };
    this.el.net.value = key;
    const meta = this.data.lesson.networks.find((n) => n.key === key);
    const acc = meta && meta.test_accuracy ? `, ${(meta.test_accuracy * 100).toFixed(2)}% right on the test set` : "";
    this.el.facts.textContent = `${d.name}: ${p.layers.length} layers, ${(p.macs / 1e6).toFixed(1)}M multiply-adds per digit${acc}`;
    // another network: the lens starts on its own default layer and most active unit (a layer
    // of the same name may have other channels and sizes)
    if (this.lens.net && this.lens.net !== this.net.decoded) this.lens.layer = null;
    this.lens.update({ net_id: p.id, image: Array.from(this.pixels), large: this.large });
    this.readout();
    this.markAll();
    if (!quiet) this.show(this.view);
  },

  // ---- the input ---------------------------------------------------------------------------
  sampleDigit(i) {
    const s = this.data.samples;
    if (!s._bytes) {
      const bin = atob(s.b64);
      s._bytes = new Uint8Array(bin.length);
      for (let k = 0; k < bin.length; k++) s._bytes[k] = bin.charCodeAt(k);
    }
    return s._bytes.slice(i * PIXELS, (i + 1) * PIXELS);
  },

  samples() {
    const s = this.data.samples;
    if (!s) return;
    // two of each class, in the order of the shipped samples
    const chosen = [], per = {};
    for (let i = 0; i < s.n && chosen.length < 20; i++) {
      const l = s.labels[i];
      per[l] = (per[l] || 0) + 1;
      if (per[l] <= 2) chosen.push(i);
    }
    chosen.sort((a, b) => s.labels[a] - s.labels[b] || a - b);
    for (const i of chosen) {
      const b = document.createElement("button");
      b.type = "button"; b.className = "sample"; b.dataset.sample = String(i);
      b.setAttribute("aria-label", `Sample digit ${s.labels[i]} (sample ${i})`);
      const cv = document.createElement("canvas");
      cv.width = SIDE; cv.height = SIDE;
      cv.getContext("2d").drawImage(inputTile(this.sampleDigit(i)), 0, 0);
      b.appendChild(cv);
      b.addEventListener("click", () => this.pickSample(i));
      this.el.samples.appendChild(b);
    }
  },

  pickSample(i, quiet) {
    const s = this.data.samples;
    this.el.samples.querySelectorAll(".sample").forEach((b) =>
      b.setAttribute("aria-selected", b.dataset.sample === String(i) ? "true" : "false"));
    this.setPixels(this.sampleDigit(i), `Sample digit (a ${s.labels[i]})`, false, quiet);
  },

  setTestDigit(pixels, what) {
    this.el.samples.querySelectorAll(".sample").forEach((b) => b.setAttribute("aria-selected", "false"));
    this.setPixels(pixels, what, false);
  },

  // A pen stroke (live) or the pen lifted: the drawing becomes the input.
  drawn(live) {
    const digit = this.pad.digit();
    if (!digit) return;
    this.el.samples.querySelectorAll(".sample").forEach((b) => b.setAttribute("aria-selected", "false"));
    this.setPixels(digit, "Your drawing", live);
  },

  // The input of every view; live: a pen stroke (only the cheap views follow it at once).
  setPixels(pixels, what, live, quiet) {
    this.pixels = Uint8Array.from(pixels);
    this.source = what;
    this.el.what.textContent = what;
    const ctx = this.el.current.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(inputTile(this.pixels), 0, 0, this.el.current.width, this.el.current.height);
    this.lens.update({ net_id: this.net.payload.id, image: Array.from(this.pixels), large: this.large });
    this.readout();
    this.markAll();
    if (quiet) return;
    if (!live || this.view === "maps" || this.view === "field") this.show(this.view);
  },

  readout() {
    const l = this.lens;
    if (!l || !l.probs) return;
    const blank = !this.pixels.some((v) => v > 0);
    this.el.pred.textContent = blank ? "" : `${this.net.name} reads it as ${l.prediction} ` +
      `(${(l.probs[l.prediction] * 100).toFixed(1)}% sure)`;
  },

  // ---- views -----------------------------------------------------------------------------
  markAll() { for (const v of ["maps", "field", "saliency", "compare", "atlas", "confusion", "trust"]) this.dirty.add(v); },

  show(name) {
    if (name !== this.view) this.cancelJobs();
    this.view = name;
    document.querySelectorAll("section.view").forEach((s) => { s.hidden = s.dataset.view !== name; });
    document.querySelectorAll(".tabs button").forEach((b) =>
      b.setAttribute("aria-selected", b.dataset.view === name ? "true" : "false"));
    if (history.replaceState) history.replaceState(null, "", `#${name}`);
    if (!this.dirty.has(name)) return;
    this.dirty.delete(name);
    const sec = this.section(name);
    try {
      if (name === "maps") this.lens.drawAll();
      else this.views[name].draw(sec);
    } catch (err) {
      note(sec, `This view failed: ${err.message}`);
      throw err;
    }
  },

  setLarge(on) {
    this.large = on;
    document.body.classList.toggle("large", on);
    this.el.large.setAttribute("aria-pressed", on ? "true" : "false");
    this.lens.update({ net_id: this.net.payload.id, image: Array.from(this.pixels), large: on });
    this.markAll();
    this.show(this.view);
  },

  // ---- attribution off the page's thread ------------------------------------------------
  // attribute.js's attributionPool (a worker per core, Integrated Gradients, SmoothGrad and
  // Occlusion split among them), made from the engine's own text (engine-source.js: a worker
  // cannot load a file from file://), or null where no worker can be made (the maps are then
  // computed on the page's thread).
  worker() {
    if (this._worker !== undefined) return this._worker;
    this._worker = null;
    if (typeof LESSON_ENGINE_SOURCE !== "string" || typeof attributionPool !== "function") return null;
    try {
      this._worker = attributionPool(LESSON_ENGINE_SOURCE);
    } catch (err) {
      this._worker = null;
    }
    return this._worker;
  },

  // Drop the maps asked for and not yet drawn (a new input or view supersedes them): the
  // worker is ended and made afresh on the next map (their promises are never answered).
  cancelJobs() {
    if (!this._worker || !this.pending) return;
    this._worker.close();
    this._worker = undefined;
    this.pending = 0;
  },

  // A promise of the map of METHOD for PIXELS on the current network (see attribute()).
  attributeLater(method, pixels, opts = {}) {
    const px = Uint8Array.from(pixels);
    if (typeof attributeNet !== "function") return Promise.reject(new Error(NO_ENGINE));
    const w = this.worker();
    if (!w) {
      return new Promise((resolve, reject) => later(() => {
        try { resolve(this.attribute(method, px, opts)); } catch (err) { reject(err); }
      }));
    }
    this.pending = (this.pending || 0) + 1;
    const done = () => { this.pending = Math.max(0, (this.pending || 0) - 1); };
    return w.run(this.net.payload, method, px, opts).then((m) => { done(); return m; },
      (err) => { done(); throw err; });
  },

  // The attribution engine (attribute.js): a 784-long map for this network, or an Error.
  attribute(method, pixels, opts = {}) {
    if (typeof attributeNet !== "function") {
      throw new Error("this lesson was written without the attribution engine (attribute.js)");
    }
    return attributeNet(this.net.decoded, method, Uint8Array.from(pixels), opts);
  },
};

// A note in a view (what is missing and why), replacing what it showed.
function note(sec, text) {
  let n = sec.querySelector(":scope > .note");
  if (!n) { n = document.createElement("p"); n.className = "note"; sec.prepend(n); }
  n.textContent = text;
  n.hidden = !text;
}

document.addEventListener("DOMContentLoaded", () => LESSON.init());
