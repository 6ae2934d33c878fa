// Live maps in the browser: a unit's effective field and attribution (the Receptive field view),
// the scales the server's pictures use, and the Web Worker that runs the slow methods.
// Needs constants.js, decode.js, forward.js, backward.js and attribute.js.

// The decoded networks by payload id, shared with the lens (one copy per page).
const LIVE_NETS = (window.__cnnLensNets = window.__cnnLensNets || new Map());
// The payloads as Python sent them, by id (what a worker is handed once).
const LIVE_RAW = (window.__cnnLiveRaw = window.__cnnLiveRaw || new Map());

// The decoded network NET_ID, keeping PAYLOAD when given; null when the browser lacks it.
function liveNet(netId, payload) {
  if (payload && !LIVE_NETS.has(payload.id)) LIVE_NETS.set(payload.id, decodeNet(payload));
  if (payload) LIVE_RAW.set(payload.id, payload);
  return LIVE_NETS.get(netId) || null;
}

// numpy's percentile (linear) of |A|: Q in 0..100
function absPercentile(a, q) {
  const v = Float64Array.from(a, Math.abs).sort();
  const at = (q / 100) * (v.length - 1), lo = Math.floor(at), hi = Math.min(lo + 1, v.length - 1);
  return v[lo] + (v[hi] - v[lo]) * (at - lo);
}

// viz.pictures.figures.symmetric_limit of one map
function symmetricLimit(a) {
  const lim = absPercentile(a, 99.5);
  if (lim > 0) return lim;
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m || 1;
}

// viz.pictures.raster.overlay_levels * LEVELS, rounded: the unit-field panel's overlay
function overlayLevels(a, signed) {
  let lim;
  if (signed) lim = absPercentile(a, 99.5) || symmetricLimit(a);
  else { lim = 0; for (const v of a) lim = Math.max(lim, v); lim = lim || 1; }
  return Int32Array.from(a, (v) => Math.round(Math.max(signed ? -1 : 0, Math.min(1, v / lim)) * LEVELS));
}

// A map as a share of its largest |value|, in levels -LEVELS..LEVELS (the grid's tiles)
function shareLevels(a) {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return Int32Array.from(a, (v) => (m > 0 ? Math.round((v / m) * LEVELS) : 0));
}

function ranks(a) { // average ranks of ties, as model.trust
  const idx = Array.from(a.keys()).sort((i, j) => a[i] - a[j]);
  const r = new Float64Array(a.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && a[idx[j + 1]] === a[idx[i]]) j++;
    for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2;
    i = j + 1;
  }
  return r;
}

// model.trust.spearman of |A| and |B| (0 when either is constant)
function absSpearman(a, b) {
  const ra = ranks(Float64Array.from(a, Math.abs)), rb = ranks(Float64Array.from(b, Math.abs));
  const n = ra.length, ma = ra.reduce((s, v) => s + v, 0) / n, mb = rb.reduce((s, v) => s + v, 0) / n;
  let num = 0, da = 0, db = 0;
  for (let i = 0; i < n; i++) {
    const x = ra[i] - ma, y = rb[i] - mb;
    num += x * y; da += x * x; db += y * y;
  }
  return da > 0 && db > 0 ? num / Math.sqrt(da * db) : 0;
}

// Index of unit (C, Y, X) in layer ROW's flat output (a vector: the channel alone).
function unitIndex(row, c, y, x) {
  return row.shape.length === 3 ? (c * row.shape[1] + y) * row.shape[2] + x : c;
}

// The steps of runFrom(net, x0, true) up to and including layer NAME.
function stepsTo(steps, name) {
  const i = steps.findIndex((s) => s.name === name);
  if (i < 0) throw new Error(`no layer named ${name}`);
  return steps.slice(0, i + 1);
}

// One unit (C, Y, X) of layer LAYER on PIXELS (784, 0-255): {erf, attr}, Float32Array(784) each.
// erf: |d unit / d input| in MNIST's scaling, as model.insight.erf.effective_field; attr: DeepLift
// of the unit against a black image, as model.saliency.neuron_attribution.
function unitMaps(net, pixels, layer, c, y, x) {
  const fwd = keptForward(net, pixels); // attribute.js: one forward per input
  const row = layerRow(net, layer), k = unitIndex(row, c, y, x);
  const upTo = stepsTo(fwd.steps, layer);
  const g = backwardNet(net, upTo, k), gain = inputGain(net);
  const erf = Float32Array.from(g, (v) => Math.abs(v * gain));
  if (!net._blackSteps) net._blackSteps = runFrom(net, blackInput(net), true);
  const m = deepliftNet(net, upTo, stepsTo(net._blackSteps, layer), k);
  const base = blackInput(net), attr = new Float32Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) attr[i] = Math.fround(fwd.x0[i] - base[i]) * m[i];
  return { erf, attr };
}

// viz.teaching.fields.central_mass: the side of the smallest odd square around the field's
// centre (bounds B = [y0, y1, x0, x1]) holding half of the effective field ERF (0: none)
function centralMass(erf, b) {
  let total = 0;
  for (const v of erf) total += v;
  if (!(total > 0)) return 0;
  const half = (v) => { const f = Math.floor(v); return v - f === 0.5 ? (f % 2 === 0 ? f : f + 1) : Math.round(v); };
  const cy = half((b[0] + b[1]) / 2), cx = half((b[2] + b[3]) / 2);
  for (let k = 1; k < 2 * SIDE; k += 2) {
    const h = k >> 1;
    let box = 0;
    for (let y = Math.max(cy - h, 0); y <= Math.min(cy + h, LAST); y++) {
      for (let x = Math.max(cx - h, 0); x <= Math.min(cx + h, LAST); x++) box += erf[y * SIDE + x];
    }
    if (box >= 0.5 * total) return k;
  }
  return 2 * SIDE;
}

// The sentence viz.teaching.fields.describe adds about an effective field, for a unit of field r.
function massSentence(erf, b, r) {
  const k = centralMass(erf, b);
  if (k === 0) {
    return erf.some((v) => v !== 0) ? "" : " For this input no pixel moves it (the ReLUs on its path are off for this input).";
  }
  return k < r ? ` Half of its sensitivity to this input is in the middle ${k}x${k}.` : " Its sensitivity is spread over its whole field.";
}

// ---- the worker: attributeNet off the page's thread, the latest request of each kind wins

// attribute.js's attributionWorker made from WORKER_SRC (ui.components.worker_source, put before
// this component's script by ui/components/__init__.py); w is null where workers are not allowed.
class LiveWorker {
  constructor() {
    this.busy = new Map(); // kind -> true while a request of that kind runs
    this.next = new Map(); // kind -> the newest request waiting
    try { this.w = attributionPool(WORKER_SRC); } catch (err) { this.w = null; }
  }

  // Run attributeNet(net NET_ID, METHOD, PIXELS, OPTS) off the thread; DONE({map, ms} or
  // {error}) later. A request of KIND waiting behind a running one is replaced by a newer one.
  run(kind, netId, method, pixels, opts, done) {
    const req = { netId, method, pixels: Array.from(pixels), opts, done };
    if (this.busy.get(kind)) { this.next.set(kind, req); return; }
    this.post(kind, req);
  }

  post(kind, req) {
    this.busy.set(kind, true);
    const t = performance.now();
    const finish = (res) => {
      this.busy.set(kind, false);
      req.done(res);
      const waiting = this.next.get(kind);
      if (waiting) { this.next.delete(kind); this.post(kind, waiting); }
    };
    this.w.run(LIVE_RAW.get(req.netId), req.method, req.pixels, req.opts).then(
      (map) => finish({ map, ms: performance.now() - t }),
      (err) => finish({ error: String(err && err.message ? err.message : err) }));
  }
}
