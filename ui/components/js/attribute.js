// The seven attribution methods of model/saliency/, computed in the browser exactly as the server
// computes them: attributeNet(net, method, pixels, {target, layer, seed}) -> Float32Array(784),
// the signed map in input pixels (row-major) for 784 pixels 0-255 and a net of decodeNet. The
// methods are keyed as the server's registry (model.saliency.METHODS) and the app's links name
// them: saliency, ig, smoothgrad, guided, deeplift, gradcam, occlusion. Defaults: the target is
// the predicted digit; the layer (Grad-CAM's maps, Occlusion's window and step) the one the
// explorer opens on (DEFAULT_LAYERS, else the first); the seed (SmoothGrad's noise) 0.
// Needs constants.js, forward.js and backward.js; tests/app/browser/test_attribute_browser.py
// checks every method against the server's map (python -m model.attribute).

// ---- SmoothGrad's noise: the generator viz/inputs/noise.py implements too, number for number.
// Draw i of seed s is murmur3's 32-bit finaliser of a Weyl sequence (SplitMix32); normal pair j
// takes draws 4j..4j+3 as two 53-bit uniforms, then Box-Muller with a logarithm, sine and cosine
// made of + - * / only, so both languages round every step alike.

function mix32(z) {
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

const LN2 = 0.6931471805599453, HALF_PI = 1.5707963267948966, TWO53 = 9007199254740992;

function logUnit(u) { // ln u for 0 < u <= 1
  let m = u, e = 0;
  while (m < 0.5) { m *= 2; e -= 1; }
  if (m < 0.7071067811865476) { m *= 2; e -= 1; }
  const s = (m - 1) / (m + 1), s2 = s * s;
  let p = 1 / 23;
  for (let k = 10; k >= 0; k--) p = p * s2 + 1 / (2 * k + 1);
  return 2 * s * p + e * LN2;
}

function sinCosQuarter(t) { // [sin t, cos t] for 0 <= t < pi/2
  const t2 = t * t;
  let ps = 1, pc = 1;
  for (let k = 14; k >= 1; k--) {
    ps = 1 - t2 / ((2 * k) * (2 * k + 1)) * ps;
    pc = 1 - t2 / ((2 * k - 1) * (2 * k)) * pc;
  }
  return [t * ps, pc];
}

// COUNT standard normal numbers (float64) of SEED, in order.
function normals(seed, count) {
  const key = mix32(seed >>> 0);
  const draw = (i) => mix32((key + Math.imul(i + 1, 0x9e3779b9)) >>> 0);
  const out = new Float64Array(count);
  for (let j = 0; 2 * j < count; j++) {
    const a = draw(4 * j), b = draw(4 * j + 1), c = draw(4 * j + 2), d = draw(4 * j + 3);
    const u1 = ((a >>> 5) * 67108864 + (b >>> 6) + 1) / TWO53; // (0, 1]
    const u2 = ((c >>> 5) * 67108864 + (d >>> 6)) / TWO53; // [0, 1)
    const r = Math.sqrt(-2 * logUnit(u1));
    const q4 = u2 * 4, q = Math.floor(q4);
    const [sn, cs] = sinCosQuarter((q4 - q) * HALF_PI);
    const cos = [cs, -sn, -cs, sn][q], sin = [sn, cs, -sn, -cs][q]; // turned by q quarters
    out[2 * j] = r * cos;
    if (2 * j + 1 < count) out[2 * j + 1] = r * sin;
  }
  return out;
}

// ---- Integrated Gradients' points: Gauss-Legendre on [0, 1], as Captum's default method.
function gaussLegendre(n) {
  const x = new Float64Array(n), w = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let z = Math.cos(Math.PI * (i + 0.75) / (n + 0.5)), dp = 0;
    for (let it = 0; it < 100; it++) {
      let p0 = 1, p1 = z;
      for (let k = 2; k <= n; k++) { const p2 = ((2 * k - 1) * z * p1 - (k - 1) * p0) / k; p0 = p1; p1 = p2; }
      dp = (n * (z * p1 - p0)) / (z * z - 1);
      const dz = p1 / dp;
      z -= dz;
      if (Math.abs(dz) < 1e-16) break;
    }
    x[i] = z;
    w[i] = 2 / ((1 - z * z) * dp * dp);
  }
  return { alphas: Array.from(x, (v) => 0.5 * (1 + v)), steps: Array.from(w, (v) => 0.5 * v) };
}

// ---- helpers

function scaledInput(net, pixels) { // as runNet scales it
  const x0 = new Float32Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) x0[i] = (pixels[i] / 255 - net.mean) / net.std;
  return x0;
}

function blackInput(net) {
  return new Float32Array(PIXELS).fill(Math.fround((0 - net.mean) / net.std));
}

// The server takes its maps in MNIST's scaling; a net of another scaling reads x * a + b of it.
const inputGain = (net) => MNIST_STD / net.std;

function defaultLayer(net) {
  const names = net.layers.map((r) => r.name);
  return DEFAULT_LAYERS.find((n) => names.includes(n)) ?? names[0];
}

function layerRow(net, name) {
  const row = net.layers.find((r) => r.name === name);
  if (!row) throw new Error(`no layer named ${name}`);
  return row;
}

// Occlusion's window and step for a layer: its field r and effective stride S (capped at
// OCCLUSION_WINDOW), as model.saliency.occlusion.defaults
function occlusionWindow(row) {
  const window = Math.max(2, Math.min(row.reach, OCCLUSION_WINDOW));
  const S = row.rf && row.rf.S ? row.rf.S[0] : null;
  const step = S !== null ? S : Math.max(1, Math.floor(window / 2));
  return [window, Math.max(1, Math.min(step, OCCLUSION_WINDOW))];
}

function argmax(v) {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

// One forward per stroke, shared by the methods: the last pixels' kept steps, per net.
const LAST_FORWARD = new WeakMap();
function keptForward(net, pixels) {
  const seen = LAST_FORWARD.get(net);
  if (seen && seen.pixels.length === pixels.length && seen.pixels.every((v, i) => v === pixels[i])) {
    return seen;
  }
  const x0 = scaledInput(net, pixels);
  const steps = runFrom(net, x0, true);
  const out = { pixels: Float64Array.from(pixels), x0, steps };
  LAST_FORWARD.set(net, out);
  return out;
}

function scaled(g, gain) {
  const m = new Float32Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) m[i] = g[i] * gain;
  return m;
}

// ---- the methods: (net, fwd {x0, steps}, target, opts) -> Float32Array(784)

function saliencyMap(net, fwd, target) {
  return scaled(backwardNet(net, fwd.steps, target), inputGain(net));
}

function guidedMap(net, fwd, target) {
  return scaled(backwardNet(net, fwd.steps, target, { guided: true }), inputGain(net));
}

// ---- a share of a map: Integrated Gradients' steps, SmoothGrad's samples and Occlusion's
// windows are independent, and each map is a sum over them. OPTS.share = [i, n] does the items
// k with k % n === i only and returns that part's map; the n parts' maps add up to the whole map
// (attributionPool runs them in n workers at once).
const SHARED_METHODS = new Set(["ig", "smoothgrad", "occlusion"]);

function shareOf(opts) {
  const share = opts.share ?? [0, 1];
  const [i, n] = Array.isArray(share) ? share : [NaN, NaN];
  if (!(Number.isInteger(n) && n >= 1 && n <= 64 && Number.isInteger(i) && i >= 0 && i < n)) {
    throw new Error(`share must be [i, n] with 0 <= i < n <= 64, got ${JSON.stringify(share)}`);
  }
  return (k) => k % n === i;
}

function igMap(net, fwd, target, opts = {}) {
  const mine = shareOf(opts);
  const { alphas, steps } = gaussLegendre(IG_STEPS);
  const x = fwd.x0, base = blackInput(net), total = new Float64Array(PIXELS);
  const xa = new Float32Array(PIXELS);
  for (let k = 0; k < alphas.length; k++) {
    if (!mine(k)) continue;
    const a = Math.fround(alphas[k]);
    for (let i = 0; i < PIXELS; i++) xa[i] = base[i] + a * Math.fround(x[i] - base[i]);
    const g = backwardNet(net, runFrom(net, xa, true), target);
    for (let i = 0; i < PIXELS; i++) total[i] += g[i] * steps[k];
  }
  const m = new Float32Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) m[i] = total[i] * Math.fround(x[i] - base[i]);
  return m;
}

function smoothgradMap(net, fwd, target, opts) {
  const gain = inputGain(net), mine = shareOf(opts);
  const stdev = SMOOTH_NOISE * (1 / MNIST_STD); // in MNIST's scaling, as the server's
  const z = normals(opts.seed ?? 0, SMOOTH_SAMPLES * PIXELS);
  const total = new Float64Array(PIXELS), xn = new Float32Array(PIXELS);
  for (let k = 0; k < SMOOTH_SAMPLES; k++) {
    if (!mine(k)) continue;
    for (let i = 0; i < PIXELS; i++) xn[i] = fwd.x0[i] + gain * Math.fround(z[k * PIXELS + i] * stdev);
    const g = backwardNet(net, runFrom(net, xn, true), target);
    for (let i = 0; i < PIXELS; i++) total[i] += g[i];
  }
  const m = new Float32Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) m[i] = (total[i] * gain) / SMOOTH_SAMPLES;
  return m;
}

function deepliftMap(net, fwd, target) {
  if (!net._blackSteps) net._blackSteps = runFrom(net, blackInput(net), true); // once per net
  const g = deepliftNet(net, fwd.steps, net._blackSteps, target);
  const base = blackInput(net), m = new Float32Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) m[i] = Math.fround(fwd.x0[i] - base[i]) * g[i];
  return m;
}

// torch's F.interpolate(mode="nearest") source index of output O for sizes IN -> OUT
function nearest(o, n, out) {
  if (n === out) return o;
  if (out === 2 * n) return o >> 1;
  return Math.min(Math.floor(Math.fround(o * Math.fround(n / out))), n - 1);
}

function gradcamMap(net, fwd, target, opts) {
  const name = opts.layer ?? defaultLayer(net);
  const row = layerRow(net, name);
  if (row.shape.length !== 3) {
    throw new Error(`Grad-CAM needs a layer with feature maps; ${name} outputs a vector. ` +
      "Pick a conv, activation or pooling layer.");
  }
  const [C, H, W] = row.shape, n = H * W;
  const g = backwardNet(net, fwd.steps, target, { stop: name });
  const acts = fwd.steps.find((s) => s.name === name).data;
  const cam = new Float64Array(n);
  for (let c = 0; c < C; c++) {
    let wc = 0;
    for (let i = c * n; i < (c + 1) * n; i++) wc += g[i];
    wc = Math.fround(wc / n);
    if (wc === 0) continue;
    for (let i = 0; i < n; i++) cam[i] += wc * acts[c * n + i];
  }
  const m = new Float32Array(PIXELS);
  for (let y = 0; y < SIDE; y++) {
    const sy = nearest(y, H, SIDE);
    for (let x = 0; x < SIDE; x++) m[y * SIDE + x] = Math.max(0, cam[sy * W + nearest(x, W, SIDE)]);
  }
  return m;
}

// Occlusion's windows along one side of N pixels, as model.saliency.occlusion.starts
function windowStarts(n, window, stride) {
  const out = [];
  for (let k = 0; k <= Math.ceil((n - window) / stride); k++) out.push(k * stride);
  return out;
}

// The target's score for every patch: Float32Array of one score per window in TODO (corners
// [y, x]), X0 with each window set to BASE. STEPS: X0's forward (runFrom), whose outputs each
// patch reuses where the patch does not reach (runChanged).
function patchScores(net, steps, x0, base, todo, window, target) {
  const out = new Float32Array(todo.length), xp = Float32Array.from(x0);
  for (let k = 0; k < todo.length; k++) {
    const [py, px] = todo[k];
    const ye = Math.min(py + window, SIDE), xe = Math.min(px + window, SIDE);
    for (let y = py; y < ye; y++) xp.fill(base, y * SIDE + px, y * SIDE + xe);
    out[k] = runChanged(net, steps, xp, [py, ye - 1, px, xe - 1])[target];
    for (let y = py; y < ye; y++) xp.set(x0.subarray(y * SIDE + px, y * SIDE + xe), y * SIDE + px);
  }
  return out;
}

function occlusionMap(net, fwd, target, opts) {
  const row = layerRow(net, opts.layer ?? defaultLayer(net));
  let [window, stride] = opts.window ? [opts.window, opts.stride ?? 1] : occlusionWindow(row);
  window = Math.min(Math.max(window, 1), SIDE);
  stride = Math.min(Math.max(stride, 1), window);
  const starts = windowStarts(SIDE, window, stride), mine = shareOf(opts);
  const base = Math.fround((0 - net.mean) / net.std), x0 = fwd.x0;
  const cover = new Float64Array(PIXELS), total = new Float64Array(PIXELS);
  const todo = [];
  let inked = 0;
  for (const py of starts) {
    for (const px of starts) {
      let ink = false;
      for (let y = py; y < Math.min(py + window, SIDE); y++) {
        for (let x = px; x < Math.min(px + window, SIDE); x++) {
          cover[y * SIDE + x] += 1;
          if (Math.abs(x0[y * SIDE + x] - base) > OCCLUSION_SAME) ink = true;
        }
      }
      // a window on black pixels only hides nothing: drop 0; a share does every n-th inked one
      if (ink && mine(inked++)) todo.push([py, px]);
    }
  }
  const last = fwd.steps[fwd.steps.length - 1].data;
  const score = last[target];
  const scores = patchScores(net, fwd.steps, x0, base, todo, window, target);
  for (let k = 0; k < todo.length; k++) {
    const drop = Math.fround(score - scores[k]);
    const [py, px] = todo[k];
    for (let y = py; y < Math.min(py + window, SIDE); y++) {
      for (let x = px; x < Math.min(px + window, SIDE); x++) total[y * SIDE + x] += drop;
    }
  }
  const m = new Float32Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) m[i] = total[i] / cover[i];
  return m;
}

const ATTRIBUTE_METHODS = {
  saliency: saliencyMap,
  ig: igMap,
  smoothgrad: smoothgradMap,
  guided: guidedMap,
  deeplift: deepliftMap,
  occlusion: occlusionMap,
  gradcam: gradcamMap,
};

// The map of METHOD for PIXELS (784 numbers 0-255) on NET (decodeNet's): Float32Array(784).
// OPTS: target (0-9; default the predicted digit), layer (Grad-CAM's and Occlusion's; default
// the explorer's first), seed (SmoothGrad's noise; default 0).
function attributeNet(net, method, pixels, opts = {}) {
  if (!Object.hasOwn(ATTRIBUTE_METHODS, method)) {
    throw new Error(`unknown method ${method}; choose one of ${Object.keys(ATTRIBUTE_METHODS).join(", ")}`);
  }
  if (!pixels || pixels.length !== PIXELS) throw new Error(`expected ${PIXELS} pixels`);
  const fwd = keptForward(net, pixels);
  const logits = fwd.steps[fwd.steps.length - 1].data;
  const target = opts.target ?? argmax(logits);
  if (!(Number.isInteger(target) && target >= 0 && target < logits.length)) {
    throw new Error(`target class must be 0..${logits.length - 1}, got ${target}`);
  }
  return ATTRIBUTE_METHODS[method](net, fwd, target, opts);
}

// ---- off the main thread: a Web Worker running attributeNet, so Occlusion's many passes never
// block the pen. SOURCES: the text of the modules attributeNet needs (constants.js, decode.js,
// forward.js, backward.js, attribute.js, in that order; Python's ui.components.worker_source()
// joins them). Returns {run(payload, method, pixels, opts) -> Promise of Float32Array(784),
// close()}; the worker decodes each payload (by its id) once.
const WORKER_MAIN = `
const nets = new Map();
self.onmessage = (e) => {
  const { id, payload, netId, method, pixels, opts } = e.data;
  try {
    if (payload) nets.set(payload.id, decodeNet(payload));
    const map = attributeNet(nets.get(netId), method, pixels, opts || {});
    self.postMessage({ id, map }, [map.buffer]);
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message ? err.message : err) });
  }
};`;

function attributionWorker(sources) {
  const url = URL.createObjectURL(new Blob([sources, WORKER_MAIN], { type: "text/javascript" }));
  const worker = new Worker(url);
  URL.revokeObjectURL(url);
  const waiting = new Map(), sent = new Set();
  let next = 0;
  worker.onmessage = (e) => {
    const { id, map, error } = e.data;
    const p = waiting.get(id);
    waiting.delete(id);
    if (p) (error === undefined ? p.resolve(map) : p.reject(new Error(error)));
  };
  return {
    run(payload, method, pixels, opts = {}) {
      const id = next++;
      const first = !sent.has(payload.id);
      sent.add(payload.id);
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        worker.postMessage({ id, payload: first ? payload : null, netId: payload.id, method,
          pixels: Array.from(pixels), opts });
      });
    },
    close() { worker.terminate(); },
  };
}

// How many workers a pool takes here: one per core the browser reports, 1 to 4.
function poolSize() {
  const cores = (typeof navigator !== "undefined" && navigator.hardwareConcurrency) || 2;
  return Math.max(1, Math.min(4, cores));
}

// N attributionWorkers (default poolSize()) behind one run(payload, method, pixels, opts):
// Integrated Gradients, SmoothGrad and Occlusion are split into N shares computed at once, one
// per worker, whose maps are added here; any other method goes to the next worker in turn.
// Same promise and close() as attributionWorker; size: N.
function attributionPool(sources, n = poolSize()) {
  const workers = Array.from({ length: Math.max(1, n) }, () => attributionWorker(sources));
  let turn = 0;
  return {
    size: workers.length,
    run(payload, method, pixels, opts = {}) {
      if (workers.length === 1 || !SHARED_METHODS.has(method)) {
        turn = (turn + 1) % workers.length;
        return workers[turn].run(payload, method, pixels, opts);
      }
      const parts = workers.map((w, i) => w.run(payload, method, pixels, { ...opts, share: [i, workers.length] }));
      return Promise.all(parts).then((maps) => {
        const sum = new Float64Array(PIXELS);
        for (const m of maps) for (let i = 0; i < PIXELS; i++) sum[i] += m[i];
        return Float32Array.from(sum);
      });
    },
    close() { for (const w of workers) w.close(); },
  };
}
