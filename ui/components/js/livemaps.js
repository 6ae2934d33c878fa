// The saliency panel's live mode: the map (or the All methods grid) computed in this browser
// from the network Python sent once, for the page's digit or for the digit on the drawing pad,
// recomputed on every pen stroke. The quick methods run on the page's thread at once; Integrated
// Gradients, SmoothGrad and Occlusion run in a Web Worker (live.js), the newest stroke winning,
// so the pen never waits; the grid runs all its maps in workers, one per row. Needs live.js, pad.js, preprocess.js and the attribution modules.
//
// Python's data.live: {mode: "single" | "grid", net_id, net (the payload or null), rnd_id, rnd
// (the randomized copy's, for the grid's sanity row, or null), methods [[key, label], ...],
// target (0-9, or null: the predicted digit), layer, window, stride}.
// Test hooks (window.cnnSaliency): live (this object), lastLiveMs (the quick maps of the last
// stroke), lastWorkerMs (the last map's round trip to its worker), lastWorkerLagMs (from its
// stroke to its drawing), liveMaps ("row|method" -> the latest map).

const SLOW = new Set(["ig", "smoothgrad", "occlusion"]);

class LiveMaps {
  constructor(panel, root) {
    this.panel = panel;
    const q = (s) => root.querySelector(s);
    this.el = { padPanel: q(".pad-panel"), pad: q("canvas.pad"), clear: q(".clear"), note: q(".live-note") };
    this.pad = new DrawingPad(this.el.pad, "saliency"); // pad.js
    this.pad.wire((ev) => this.stroke(ev), () => {});
    this.el.clear.addEventListener("click", () => { this.pad.clear(); this.pixels = null; this.recompute(); });
    this.d = null;
    this.pixels = null; // the pad's digit once drawn, else null (the page's digit)
    this.maps = new Map(); // "row|method" -> Float32Array or null (not available here)
    this.waiting = new Map(); // "row|method" -> the stroke whose map is still to come
    this.asked = null;
  }

  hide() { this.el.padPanel.hidden = true; this.el.note.hidden = true; }

  update(data, setters) {
    const L = data.live;
    this.setters = setters;
    const net = liveNet(L.net_id, L.net), rnd = L.rnd_id ? liveNet(L.rnd_id, L.rnd) : null;
    if (!net || (L.rnd_id && !rnd)) { // the browser lost its copy (e.g. a reload): ask again
      const want = !net ? L.net_id : L.rnd_id;
      if (this.asked !== want && setters.setTriggerValue) { this.asked = want; setters.setTriggerValue("need_net", want); }
      return;
    }
    this.d = data;
    this.net = net;
    this.rnd = rnd;
    this.el.padPanel.hidden = false;
    if (this.pad.inked()) this.pixels = this.pad.digit();
    this.recompute();
  }

  stroke(ev) {
    const digit = this.pad.digit();
    if (!digit) return;
    this.pixels = digit;
    this.recompute(ev);
  }

  image() { return this.pixels || this.d.image; }

  rows() {
    const L = this.d.live, out = [["trained", L.net_id, this.net]];
    if (L.mode === "grid" && this.rnd) out.push(["random weights", L.rnd_id, this.rnd]);
    return out;
  }

  // Every map of the view for the current digit. One map: the quick methods now, the slow ones
  // in a worker. The grid: every map in workers (one per row, the quick methods first), drawn
  // as they come, so the pen only waits for one forward pass.
  recompute(ev) {
    const L = this.d.live, img = this.image(), api = hooks(HOOKS);
    const t0 = ev && ev.timeStamp ? ev.timeStamp : performance.now();
    const steps = keptForward(this.net, img).steps; // attribute.js: the methods reuse it
    const logits = steps[steps.length - 1].data;
    this.target = L.target ?? argmax(logits);
    const opts = { target: this.target, layer: L.layer, window: L.window, stride: L.stride };
    const grid = L.mode === "grid", seq = (this.seq = (this.seq || 0) + 1);
    const order = [...L.methods].sort((a, b) => SLOW.has(a[0]) - SLOW.has(b[0]));
    this.waiting = this.waiting || new Map();
    for (const [rname, id, net] of this.rows()) {
      const worker = this.workerFor(rname);
      for (const [m] of order) {
        const key = `${rname}|${m}`;
        if (!worker || (!grid && !SLOW.has(m))) {
          this.store(key, this.compute(net, m, img, opts));
          this.waiting.delete(key);
          continue;
        }
        this.waiting.set(key, seq);
        worker.run(key, id, m, img, opts, (res) => {
          if (!res.error) { api.lastWorkerMs = res.ms; api.lastWorkerLagMs = performance.now() - t0; }
          this.store(key, res.error ? null : res.map);
          if (this.waiting.get(key) === seq) this.waiting.delete(key);
          this.showSoon();
        });
      }
    }
    if (!grid) this.show(); // the grid's maps are all to come: drawn as they do (showSoon)
    else this.note(`${this.pixels ? "Your drawing" : "The page's digit"}, class ${this.target}: updating ...`);
    api.lastLiveMs = performance.now() - t0;
    recordUpdate(HOOKS, t0);
  }

  workerFor(row) { // one per row; null where workers are not allowed (then all on this thread)
    this.workers = this.workers || new Map();
    if (!this.workers.has(row)) {
      const w = new LiveWorker();
      this.workers.set(row, w.w ? w : null);
    }
    return this.workers.get(row);
  }

  showSoon() { // the worker's maps, drawn once per frame
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = null; this.show(); });
  }

  compute(net, m, img, opts) {
    try { return attributeNet(net, m, img, opts); } catch (err) { return null; } // e.g. Grad-CAM on a vector
  }

  store(key, map) {
    this.maps.set(key, map);
    hooks(HOOKS).liveMaps = Object.fromEntries(this.maps);
  }

  // Hand the maps to the panel's drawing (saliencymap.js show), as Python's payload would be.
  show() {
    const L = this.d.live, img = Uint8Array.from(this.image());
    const base = { image: img, large: this.d.large, opacity: this.d.opacity, overlay: this.d.overlay };
    const pending = this.waiting.size > 0;
    if (L.mode === "single") {
      const [m, label] = L.methods[0], a = this.maps.get(`trained|${m}`);
      if (a === undefined) return;
      if (a === null) { this.note(`${label} is not available for layer ${L.layer}.`); return; }
      this.panel.show({ ...base, attr: a, lim: symmetricLimit(a), label: `${label} for class ${this.target}` });
      this.note((this.pixels ? "Your drawing" : "The page's digit") + `: ${label} for class ${this.target}, ` +
        `computed in this browser${pending ? " (updating ...)" : ""}.`);
      return;
    }
    const rows = this.rows().map((r) => r[0]), blank = [], maps = [];
    for (const r of rows) {
      for (const [m, label] of L.methods) {
        const a = this.maps.get(`${r}|${m}`);
        if (a === null) blank.push(label);
        maps.push(a ? shareLevels(a) : new Int32Array(PIXELS));
      }
    }
    this.panel.show({ ...base, rows, methods: L.methods.map((x) => x[1]), blank: [...new Set(blank)], maps });
    let text = (this.pixels ? "Your drawing" : "The page's digit") + `, class ${this.target}, computed in this browser` +
      (pending ? " (updating ...)" : "") + ".";
    if (rows.length > 1 && !pending) {
      const rho = L.methods.filter(([, label]) => !blank.includes(label)).map(([m, label]) => {
        const r = absSpearman(this.maps.get(`trained|${m}`), this.maps.get(`random weights|${m}`));
        return `${label} ${(Math.round(100 * r) / 100 + 0).toFixed(2)}`; // + 0: never "-0.00"
      });
      text += ` Spearman of |map| between the two rows on this digit: ${rho.join(", ")}.`;
    }
    this.note(text);
  }

  note(text) { this.el.note.hidden = false; this.el.note.textContent = text; }
}
