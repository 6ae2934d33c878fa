// The saliency panel's live mode: the map (or the All methods grid) computed in this browser
// from the network Python sent once, for the page's digit or for the digit on the drawing pad,
// recomputed on every pen stroke. The quick methods run on the page's thread at once; Integrated
// Gradients, SmoothGrad and Occlusion run in a Web Worker (live.js), the newest stroke winning,
// so the pen never waits. Needs live.js, pad.js, preprocess.js and the attribution modules.
//
// Python's data.live: {mode: "single" | "grid", net_id, net (the payload or null), rnd_id, rnd
// (the randomized copy's, for the grid's sanity row, or null), methods [[key, label], ...],
// target (0-9, or null: the predicted digit), layer, window, stride}.
// Test hooks (window.cnnSaliency): live (this object), lastLiveMs (the quick maps of the last
// stroke), lastWorkerMs (the worker's time on its last map), lastWorkerLagMs (from that map's
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
    this.worker = null;
    this.d = null;
    this.pixels = null; // the pad's digit once drawn, else null (the page's digit)
    this.maps = new Map(); // "row|method" -> Float32Array or null (not available here)
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

  // Every map of the view for the current digit: the quick ones now, the slow ones queued.
  recompute(ev) {
    const L = this.d.live, img = this.image(), api = hooks(HOOKS);
    const t0 = ev && ev.timeStamp ? ev.timeStamp : performance.now();
    const logits = runNet(this.net, img).pop().data;
    this.target = L.target ?? argmax(logits);
    const opts = { target: this.target, layer: L.layer, window: L.window, stride: L.stride };
    this.waiting = new Set();
    for (const [rname, id, net] of this.rows()) {
      for (const [m] of L.methods) {
        const key = `${rname}|${m}`;
        if (SLOW.has(m) && this.worker !== false) {
          if (!this.worker) { this.worker = new LiveWorker(); if (!this.worker.w) this.worker = false; }
        }
        if (SLOW.has(m) && this.worker) {
          this.waiting.add(key);
          this.worker.run(key, id, m, img, opts, (res) => {
            if (!res.error) { api.lastWorkerMs = res.ms; api.lastWorkerLagMs = performance.now() - t0; }
            this.store(key, res.error ? null : res.map);
            this.waiting.delete(key);
            this.show();
          });
        } else {
          this.store(key, this.compute(net, m, img, opts));
        }
      }
    }
    this.show();
    api.lastLiveMs = performance.now() - t0;
    recordUpdate(HOOKS, t0);
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
      const rho = L.methods.filter(([, label]) => !blank.includes(label)).map(([m, label]) =>
        `${label} ${absSpearman(this.maps.get(`trained|${m}`), this.maps.get(`random weights|${m}`)).toFixed(2)}`);
      text += ` Spearman of |map| between the two rows on this digit: ${rho.join(", ")}.`;
    }
    this.note(text);
  }

  note(text) { this.el.note.hidden = false; this.el.note.textContent = text; }
}
