// The network's backward pass: the gradient of one output (a class score) with respect to every
// layer's input, layer by layer in reverse, as torch's autograd computes it in eval mode. One op
// per layer type, named by its entry's backward op (viz/network/layertypes.py browser_backward;
// the payload's rows carry it as `backward`). Reads the outputs of runFrom(net, x0, true)
// (forward.js), which keep each layer's input and max pooling's argmax. Gradients are
// Float64Arrays; an op never writes into the gradient it is given.
// tests/app/browser/test_backward_browser.py checks it against torch.

// A 3x3 conv's weights for its backward pass: channels swapped, each kernel turned by 180
// degrees (kept on the record: made once per network)
function flipped3(rec, wt, C) {
  if (rec._w9back) return rec._w9back;
  const O = rec.out, w9 = new Float64Array(O * C * 9);
  for (let o = 0; o < O; o++) {
    for (let c = 0; c < C; c++) {
      for (let t = 0; t < 9; t++) w9[(c * O + o) * 9 + 8 - t] = wt[(o * C + c) * 9 + t];
    }
  }
  rec._w9back = w9;
  return w9;
}

function convBack(g, C, H, W, rec, wt, OH, OW) {
  const O = rec.out, k = rec.kernel, s = rec.stride || 1, p = rec.padding || 0;
  const d = rec.dilation || 1;
  const G = rec.groups || 1, Cg = C / G, Og = O / G;
  if (k === H && k === W && p === 0 && G === 1) { // the kernel covers the map (a dot product)
    const n = C * k * k, gx = new Float64Array(n);
    for (let o = 0; o < O; o++) {
      const v = g[o];
      if (v !== 0) for (let i = 0, r = o * n; i < n; i++) gx[i] += wt[r + i] * v;
    }
    return gx;
  }
  const q = 2 * d - p; // a 3x3 kernel of stride 1: the gradient is the output's gradient, padded
  if (k === 3 && s === 1 && G === 1 && q >= 0) { // by q, under the turned kernel (taps3)
    const gp = padded(g, O, OH, OW, q, Float64Array);
    return taps3(gp, O, OH + 2 * q, OW + 2 * q, flipped3(rec, wt, C), C, d, null,
      new Float64Array(C * H * W), H, W, 0, 0, H, W);
  }
  const gx = new Float64Array(C * H * W);
  for (let o = 0; o < O; o++) {
    const go = o * OH * OW;
    const c0 = Math.floor(o / Og) * Cg;
    for (let c = 0; c < Cg; c++) {
      const xc = (c0 + c) * H * W;
      for (let ky = 0; ky < k; ky++) {
        const dy = ky * d - p;
        const y0 = Math.max(0, Math.floor((s - 1 - dy) / s)), y1 = Math.min(OH - 1, Math.floor((H - 1 - dy) / s));
        for (let kx = 0; kx < k; kx++) {
          const wv = wt[((o * Cg + c) * k + ky) * k + kx];
          if (wv === 0) continue;
          const dx = kx * d - p;
          const x0 = Math.max(0, Math.floor((s - 1 - dx) / s)), x1 = Math.min(OW - 1, Math.floor((W - 1 - dx) / s));
          for (let y = y0; y <= y1; y++) {
            const ri = xc + (y * s + dy) * W + dx, ro = go + y * OW;
            if (s === 1) {
              for (let xx = x0; xx <= x1; xx++) gx[ri + xx] += wv * g[ro + xx];
            } else {
              for (let xx = x0; xx <= x1; xx++) gx[ri + xx * s] += wv * g[ro + xx];
            }
          }
        }
      }
    }
  }
  return gx;
}

function avgpoolBack(g, C, H, W, rec, OH, OW) {
  const k = rec.kernel, s = rec.stride || k, p = rec.padding || 0;
  const gx = new Float64Array(C * H * W);
  for (let c = 0; c < C; c++) {
    const xc = c * H * W;
    for (let oy = 0; oy < OH; oy++) {
      const hs = oy * s - p, he = Math.min(hs + k, H + p);
      const ya = Math.max(hs, 0), yb = Math.min(he, H);
      for (let ox = 0; ox < OW; ox++) {
        const ws = ox * s - p, we = Math.min(ws + k, W + p);
        const xa = Math.max(ws, 0), xb = Math.min(we, W);
        const n = rec.count_include_pad === false ? (yb - ya) * (xb - xa) : (he - hs) * (we - ws);
        const v = g[(c * OH + oy) * OW + ox] / n;
        if (v === 0) continue;
        for (let yy = ya; yy < yb; yy++) {
          const r = xc + yy * W;
          for (let xx = xa; xx < xb; xx++) gx[r + xx] += v;
        }
      }
    }
  }
  return gx;
}

// the gradient sent back to where each output took its max (max pooling, global max pooling)
function scatterBack(g, arg, n) {
  const gx = new Float64Array(n);
  for (let j = 0; j < g.length; j++) if (arg[j] >= 0) gx[arg[j]] += g[j];
  return gx;
}

// Elementwise layers: the gradient times the local slope at input X (output Y), one loop each
// (no call per element).
function reluBack(g, x, a) { // a: the slope below zero (ReLU 0, leaky ReLU its own)
  const gx = new Float64Array(g.length);
  for (let i = 0; i < g.length; i++) gx[i] = x[i] > 0 ? g[i] : g[i] * a;
  return gx;
}

// One op per layer type: (g, s, w) -> the gradient into the layer's input (a join: the list of
// its inputs' gradients), for G the gradient at its output and S its kept forward step
// ({rec, input, data, C, H, W, shape, arg}).
const BACKWARD_OPS = {
  conv: (g, s, w) => convBack(g, s.C, s.H, s.W, s.rec, w[s.rec.name + ".weight"], s.shape[1], s.shape[2]),
  bn: (g, s) => {
    const gx = new Float64Array(g.length), n = s.H * s.W, a = s.rec._scale;
    for (let c = 0; c < s.C; c++) for (let i = c * n, e = i + n; i < e; i++) gx[i] = g[i] * a[c];
    return gx;
  },
  relu: (g, s) => reluBack(g, s.input, 0),
  tanh: (g, s) => {
    const y = s.data, gx = new Float64Array(g.length);
    for (let i = 0; i < g.length; i++) gx[i] = g[i] * (1 - y[i] * y[i]);
    return gx;
  },
  sigmoid: (g, s) => {
    const y = s.data, gx = new Float64Array(g.length);
    for (let i = 0; i < g.length; i++) gx[i] = g[i] * (y[i] * (1 - y[i]));
    return gx;
  },
  leakyrelu: (g, s) => reluBack(g, s.input, s.rec.negative_slope ?? 0.01),
  prelu: (g, s, w) => { // one shared slope, or one per channel (a vector's: per feature)
    const a = w[s.rec.name + ".weight"], x = s.input, gx = new Float64Array(g.length);
    const n = a.length > 1 ? s.H * s.W : g.length;
    for (let i = 0; i < g.length; i++) gx[i] = x[i] > 0 ? g[i] : g[i] * a[a.length > 1 ? Math.floor(i / n) : 0];
    return gx;
  },
  elu: (g, s) => {
    const x = s.input, gx = new Float64Array(g.length);
    for (let i = 0; i < g.length; i++) gx[i] = x[i] > 0 ? g[i] : g[i] * Math.exp(x[i]);
    return gx;
  },
  dropout: (g) => g,
  maxpool: (g, s) => scatterBack(g, s.arg, s.C * s.H * s.W),
  avgpool: (g, s) => avgpoolBack(g, s.C, s.H, s.W, s.rec, s.shape[1], s.shape[2]),
  gap: (g, s) => {
    const n = s.H * s.W, gx = new Float64Array(s.C * n);
    for (let c = 0; c < s.C; c++) gx.fill(g[c] / n, c * n, (c + 1) * n);
    return gx;
  },
  gmp: (g, s) => scatterBack(g, s.arg, s.C * s.H * s.W),
  flatten: (g) => g,
  linear: (g, s, w) => {
    const wt = w[s.rec.name + ".weight"], O = s.rec.out, I = s.rec.in;
    const gx = new Float64Array(I);
    for (let o = 0; o < O; o++) {
      const v = g[o];
      if (v === 0) continue;
      for (let i = 0, r = o * I; i < I; i++) gx[i] += wt[r + i] * v;
    }
    return gx;
  },
  add: (g, s) => s.input.map(() => g),
  concat: (g, s) => {
    let at = 0;
    return s.input.map((u) => { const part = g.slice(at, at + u.length); at += u.length; return part; });
  },
};

function backOp(s) {
  const name = s.rec.backward || s.rec.type;
  if (!Object.hasOwn(BACKWARD_OPS, name)) throw new Error(`layer ${s.rec.name}: no backward op ${name}`);
  return BACKWARD_OPS[name];
}

// The names of the layers step I reads ("input": the image), in order.
function readsOf(steps, i) {
  return steps[i].rec.inputs || [i > 0 ? steps[i - 1].name : "input"];
}

function addInto(grads, name, g) {
  const prev = grads.get(name);
  if (!prev) { grads.set(name, g); return; }
  const sum = new Float64Array(prev.length);
  for (let i = 0; i < sum.length; i++) sum[i] = prev[i] + g[i];
  grads.set(name, sum);
}

// The gradient of output TARGET of the last layer with respect to the scaled input (784), or to
// the output of layer STOP when named. STEPS: runFrom(net, x0, true). GUIDED: Guided Backprop
// (the gradient into every layer whose row's guided rule is "positive" clamped at zero, as
// Captum hooks ReLU).
function backwardNet(net, steps, target, { stop = null, guided = false } = {}) {
  const last = steps[steps.length - 1];
  const seed = new Float64Array(last.data.length);
  seed[target] = 1;
  const grads = new Map([[last.name, seed]]);
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = steps[i];
    if (s.name === stop) return grads.get(stop) || new Float64Array(s.data.length);
    const g = grads.get(s.name);
    if (!g) continue; // no path from this layer to the target
    grads.delete(s.name);
    let gin = backOp(s)(g, s, net.w);
    if (guided && s.rec.guided === "positive") { // gin is the activation's own new array
      for (let j = 0; j < gin.length; j++) if (!(gin[j] > 0)) gin[j] = 0;
    }
    const parts = s.rec.join ? gin : [gin];
    readsOf(steps, i).forEach((n, j) => addInto(grads, n, parts[j]));
  }
  if (stop !== null) throw new Error(`no layer named ${stop}`);
  return grads.get("input") || new Float64Array(PIXELS);
}

const DL_EPS = 1e-10; // Captum DeepLift's eps: below it a difference of inputs counts as none

// DeepLift's multipliers (Captum's rules, per row's `deeplift`) of output TARGET with respect to
// the scaled input, for STEPS (the input's forward) against REF (the baseline's). Both halves run
// back together as in Captum's batch of input and baseline: "rescale" multiplies by dOut/dIn
// (float32 differences; where |dIn| < eps, the plain gradient), "maxpool" is Captum's max
// pooling rule (its fallback takes the input half's plain gradient for both halves, as Captum's
// grad_input[0] does for one digit), "gradient" is each half's plain gradient. As in Captum, a
// rule's "gradient at the output" is the one autograd delivered there before the next layer's
// rule replaced it (raw), while what flows on is the replaced one (mod): Captum's hook on a
// layer's output runs before the next layer's hook on the same tensor.
function deepliftNet(net, steps, ref, target) {
  const n = steps.length;
  const seed = new Float64Array(steps[n - 1].data.length);
  seed[target] = 1;
  const last = steps[n - 1].name;
  // per half (i: input, r: baseline), the gradient that flows (mod) and the raw one
  const G = { im: new Map([[last, seed]]), ir: new Map([[last, seed]]),
    rm: new Map([[last, seed]]), rr: new Map([[last, seed]]) };
  const f = Math.fround;
  for (let i = n - 1; i >= 0; i--) {
    const s = steps[i], r = ref[i];
    const g = G.im.get(s.name), gRaw = G.ir.get(s.name), h = G.rm.get(s.name), hRaw = G.rr.get(s.name);
    if (!g) continue;
    for (const m of Object.values(G)) m.delete(s.name);
    const op = backOp(s);
    const plainI = op(g, s, net.w), plainR = op(h, r, net.w); // autograd's, from what flows
    let a = plainI, b = plainR;
    const rule = s.rec.deeplift || "gradient";
    if (rule === "rescale") {
      a = Float64Array.from(plainI); b = Float64Array.from(plainR);
      const xi = s.input, xr = r.input, yi = s.data, yr = r.data;
      for (let j = 0; j < a.length; j++) {
        const dIn = f(xi[j] - xr[j]);
        if (Math.abs(dIn) < DL_EPS) continue;
        const dOut = f(yi[j] - yr[j]);
        a[j] = (gRaw[j] * dOut) / dIn;
        b[j] = (hRaw[j] * dOut) / dIn;
      }
    } else if (rule === "maxpool") {
      const size = s.C * s.H * s.W;
      const un = new Float64Array(size), unr = new Float64Array(size);
      for (let j = 0; j < g.length; j++) { // max_unpool: each output sets its argmax, in order
        const top = Math.max(s.data[j], r.data[j]);
        un[s.arg[j]] = gRaw[j] * f(top - r.data[j]);
        unr[r.arg[j]] = hRaw[j] * f(s.data[j] - top);
      }
      a = new Float64Array(size); b = new Float64Array(size);
      for (let j = 0; j < size; j++) {
        const dIn = f(s.input[j] - r.input[j]);
        const v = Math.abs(dIn) < DL_EPS ? plainI[j] : (un[j] + unr[j]) / dIn;
        a[j] = v; b[j] = v;
      }
    }
    const split = (v) => (s.rec.join ? v : [v]);
    const [pa, pb, qa, qb] = [split(a), split(b), split(plainI), split(plainR)];
    readsOf(steps, i).forEach((nm, j) => {
      addInto(G.im, nm, pa[j]); addInto(G.rm, nm, pb[j]);
      addInto(G.ir, nm, qa[j]); addInto(G.rr, nm, qb[j]);
    });
  }
  return G.im.get("input") || new Float64Array(PIXELS);
}
