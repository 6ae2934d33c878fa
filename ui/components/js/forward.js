// The network's forward pass on 28x28 pixels, layer by layer, as torch computes it in eval mode
// (conv with stride, padding and dilation; max / average pooling with padding, stride and
// ceil_mode; BatchNorm; ReLU, tanh, sigmoid, leaky ReLU, PReLU, ELU; dropout; global average
// and max pooling; flatten; linear; the joins add and concat of a graph network, whose records
// name their inputs). Reads a net decoded by
// decode.js; tests/app/browser/test_forward_browser.py checks it against numpy and torch.

// A 3x3 kernel of stride 1 over XP (CIN maps of PH x PW, zero-padded so every tap is inside):
// output (y, x) of map o, for y, x within the box from (Y0, X0) of BH x BW, is the bias plus the
// sum over c of the nine taps W9[(o * CIN + c) * 9 + ky * 3 + kx] * XP[c][y + ky*d][x + kx*d],
// written into OUT (maps of OH x OW). Nine multiply-adds per load and store of the sum: the lens's
// common conv (and its backward pass, backward.js) at about twice the speed of the general loop.
function taps3(xp, CIN, PH, PW, w9, COUT, d, bias, out, OH, OW, Y0, X0, BH, BW) {
  const n = BH * BW, acc = new Float64Array(n), acc2 = new Float64Array(n);
  const e1 = d, e2 = 2 * d, r1 = d * PW, r2 = 2 * d * PW;
  for (let o = 0; o < COUT; o += 2) { // two output maps per pass over the input: each load twice used
    const two = o + 1 < COUT;
    acc.fill(bias ? bias[o] : 0);
    acc2.fill(bias && two ? bias[o + 1] : 0);
    for (let c = 0; c < CIN; c++) {
      const wb = (o * CIN + c) * 9, vb = two ? ((o + 1) * CIN + c) * 9 : wb;
      const w0 = w9[wb], w1 = w9[wb + 1], w2 = w9[wb + 2], w3 = w9[wb + 3], w4 = w9[wb + 4];
      const w5 = w9[wb + 5], w6 = w9[wb + 6], w7 = w9[wb + 7], w8 = w9[wb + 8];
      const v0 = w9[vb], v1 = w9[vb + 1], v2 = w9[vb + 2], v3 = w9[vb + 3], v4 = w9[vb + 4];
      const v5 = w9[vb + 5], v6 = w9[vb + 6], v7 = w9[vb + 7], v8 = w9[vb + 8];
      const xc = c * PH * PW + Y0 * PW + X0;
      for (let y = 0; y < BH; y++) {
        const a = y * BW;
        let i = xc + y * PW;
        for (let x = 0; x < BW; x++, i++) {
          const t0 = xp[i], t1 = xp[i + e1], t2 = xp[i + e2];
          const t3 = xp[i + r1], t4 = xp[i + r1 + e1], t5 = xp[i + r1 + e2];
          const t6 = xp[i + r2], t7 = xp[i + r2 + e1], t8 = xp[i + r2 + e2];
          acc[a + x] += w0 * t0 + w1 * t1 + w2 * t2 + w3 * t3 + w4 * t4 + w5 * t5 + w6 * t6 + w7 * t7 + w8 * t8;
          acc2[a + x] += v0 * t0 + v1 * t1 + v2 * t2 + v3 * t3 + v4 * t4 + v5 * t5 + v6 * t6 + v7 * t7 + v8 * t8;
        }
      }
    }
    for (let y = 0; y < BH; y++) {
      const r = o * OH * OW + (Y0 + y) * OW + X0, a = y * BW;
      for (let x = 0; x < BW; x++) out[r + x] = acc[a + x];
      if (two) for (let x = 0; x < BW; x++) out[r + OH * OW + x] = acc2[a + x];
    }
  }
  return out;
}

// X (C maps of H x W) with Q zeros around each map
function padded(x, C, H, W, q, Type = Float32Array) {
  if (q === 0) return x;
  const PH = H + 2 * q, PW = W + 2 * q, xp = new Type(C * PH * PW);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) xp.set(x.subarray((c * H + y) * W, (c * H + y + 1) * W), (c * PH + y + q) * PW + q);
  }
  return xp;
}

// BOX (optional, [y0, y1, x0, x1] inclusive): only those outputs, written into INTO (the rest of
// INTO is left as it is; each output's sum runs in the same order as without a box)
function conv(x, C, H, W, rec, wt, bias, OH, OW, box = null, into = null) {
  const O = rec.out, k = rec.kernel, s = rec.stride || 1, p = rec.padding || 0;
  const d = rec.dilation || 1;
  const G = rec.groups || 1, Cg = C / G, Og = O / G; // grouped: out o reads group floor(o / Og)
  const Y0 = box ? box[0] : 0, Y1 = box ? box[1] : OH - 1, X0 = box ? box[2] : 0, X1 = box ? box[3] : OW - 1;
  const BW = X1 - X0 + 1;
  const out = into || new Float32Array(O * OH * OW);
  if (k === H && k === W && p === 0 && G === 1) { // the kernel covers the map: a dot product
    const n = C * k * k;
    for (let o = 0; o < O; o++) {
      let v = bias ? bias[o] : 0;
      for (let i = 0, r = o * n; i < n; i++) v += wt[r + i] * x[i];
      out[o] = v;
    }
    return out;
  }
  if (k === 3 && s === 1 && G === 1) {
    return taps3(padded(x, C, H, W, p), C, H + 2 * p, W + 2 * p, wt, O, d, bias, out, OH, OW, Y0, X0,
      Y1 - Y0 + 1, BW);
  }
  const acc = new Float64Array((Y1 - Y0 + 1) * BW);
  for (let o = 0; o < O; o++) {
    acc.fill(bias ? bias[o] : 0);
    const c0 = Math.floor(o / Og) * Cg;
    for (let c = 0; c < Cg; c++) {
      const xc = (c0 + c) * H * W;
      for (let ky = 0; ky < k; ky++) {
        const dy = ky * d - p; // input row = y * s + dy
        const y0 = Math.max(Y0, Math.floor((s - 1 - dy) / s)), y1 = Math.min(Y1, Math.floor((H - 1 - dy) / s));
        for (let kx = 0; kx < k; kx++) {
          const wv = wt[((o * Cg + c) * k + ky) * k + kx];
          if (wv === 0) continue;
          const dx = kx * d - p;
          const x0 = Math.max(X0, Math.floor((s - 1 - dx) / s)), x1 = Math.min(X1, Math.floor((W - 1 - dx) / s));
          for (let y = y0; y <= y1; y++) {
            const ri = xc + (y * s + dy) * W + dx, ro = (y - Y0) * BW - X0;
            if (s === 1) {
              for (let xx = x0; xx <= x1; xx++) acc[ro + xx] += wv * x[ri + xx];
            } else {
              for (let xx = x0; xx <= x1; xx++) acc[ro + xx] += wv * x[ri + xx * s];
            }
          }
        }
      }
    }
    if (!box) out.set(acc, o * OH * OW);
    else {
      for (let y = Y0; y <= Y1; y++) {
        const r = o * OH * OW + y * OW, ra = (y - Y0) * BW - X0;
        for (let xx = X0; xx <= X1; xx++) out[r + xx] = acc[ra + xx];
      }
    }
  }
  return out;
}

// ARG (max pooling, optional): filled with the input index each output took its max from (the
// first of equal maxima, as torch picks it), for the backward pass (backward.js)
// BOX and INTO: as conv's
function pool(x, C, H, W, rec, OH, OW, isMax, arg, box = null, into = null) {
  const k = rec.kernel, s = rec.stride || k, p = rec.padding || 0;
  const out = into || new Float32Array(C * OH * OW);
  const Y0 = box ? box[0] : 0, Y1 = box ? box[1] : OH - 1, X0 = box ? box[2] : 0, X1 = box ? box[3] : OW - 1;
  const onlyImage = rec.count_include_pad === false; // average: torch counts the padding unless
  for (let c = 0; c < C; c++) {
    const xc = c * H * W;
    for (let oy = Y0; oy <= Y1; oy++) {
      const hs = oy * s - p, he = Math.min(hs + k, H + p);
      const ya = Math.max(hs, 0), yb = Math.min(he, H);
      for (let ox = X0; ox <= X1; ox++) {
        const ws = ox * s - p, we = Math.min(ws + k, W + p);
        const xa = Math.max(ws, 0), xb = Math.min(we, W);
        const j = (c * OH + oy) * OW + ox;
        if (isMax) {
          let v = -Infinity, at = -1;
          for (let yy = ya; yy < yb; yy++) {
            for (let i = xc + yy * W + xa, e = xc + yy * W + xb; i < e; i++) {
              const u = x[i];
              if (u > v || u !== u) { v = u; at = i; } // NaN wins, as in torch
            }
          }
          if (arg) arg[j] = at;
          out[j] = v;
        } else {
          let v = 0;
          for (let yy = ya; yy < yb; yy++) {
            for (let i = xc + yy * W + xa, e = xc + yy * W + xb; i < e; i++) v += x[i];
          }
          out[j] = v / (onlyImage ? (yb - ya) * (xb - xa) : (he - hs) * (we - ws));
        }
      }
    }
  }
  return out;
}

// One op per layer type, named by its entry's browser op (viz/network/layertypes.py; the browser's
// forward test checks that every entry's op is here): (x, C, H, W, rec, w, oshape, kept) -> the
// layer's output. KEPT (null, or an object when the backward pass will need it): max pooling
// puts its argmax there (kept.arg).
const LAYER_OPS = {
  conv: (x, C, H, W, rec, w, oshape) =>
    conv(x, C, H, W, rec, w[rec.name + ".weight"], w[rec.name + ".bias"], oshape[1], oshape[2]),
  bn: (x, C, H, W, rec) => {
    const y = new Float32Array(x.length);
    const n = H * W;
    for (let c = 0; c < C; c++) {
      const a = rec._scale[c], b = rec._shift[c];
      for (let i = c * n, e = i + n; i < e; i++) y[i] = x[i] * a + b;
    }
    return y;
  },
  relu: (x) => {
    const y = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) y[i] = x[i] > 0 ? x[i] : 0;
    return y;
  },
  tanh: (x) => Float32Array.from(x, Math.tanh),
  sigmoid: (x) => Float32Array.from(x, (u) => 0.5 + 0.5 * Math.tanh(0.5 * u)),
  leakyrelu: (x, C, H, W, rec) => {
    const a = rec.negative_slope ?? 0.01; // torch's default
    const y = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) y[i] = x[i] > 0 ? x[i] : x[i] * a;
    return y;
  },
  prelu: (x, C, H, W, rec, w) => { // a learned slope below zero: one shared, or one per channel
    const a = w[rec.name + ".weight"];
    const y = new Float32Array(x.length);
    const n = a.length > 1 ? H * W : x.length; // a vector's channels are its features (H = W = 1)
    for (let i = 0; i < x.length; i++) {
      const u = x[i];
      y[i] = u >= 0 ? u : u * a[a.length > 1 ? Math.floor(i / n) : 0];
    }
    return y;
  },
  elu: (x) => Float32Array.from(x, (u) => (u > 0 ? u : Math.expm1(u))), // alpha 1 (torch's default)
  dropout: (x) => x, // eval mode: dropout is the identity
  maxpool: (x, C, H, W, rec, w, oshape, kept) => {
    const arg = kept ? (kept.arg = new Int32Array(C * oshape[1] * oshape[2])) : null;
    return pool(x, C, H, W, rec, oshape[1], oshape[2], true, arg);
  },
  avgpool: (x, C, H, W, rec, w, oshape) => pool(x, C, H, W, rec, oshape[1], oshape[2], false),
  gap: (x, C, H, W) => {
    const y = new Float32Array(C);
    const n = H * W;
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let i = c * n, e = i + n; i < e; i++) s += x[i];
      y[c] = s / n;
    }
    return y;
  },
  gmp: (x, C, H, W, rec, w, oshape, kept) => {
    const y = new Float32Array(C);
    const arg = kept ? (kept.arg = new Int32Array(C)) : null;
    const n = H * W;
    for (let c = 0; c < C; c++) {
      let m = -Infinity, at = c * n;
      for (let i = c * n, e = i + n; i < e; i++) if (x[i] > m || Number.isNaN(x[i])) { m = x[i]; at = i; }
      y[c] = m;
      if (arg) arg[c] = at;
    }
    return y;
  },
  flatten: (x) => x, // keeps the order (C, H, W)
  linear: (x, C, H, W, rec, w) => {
    const wt = w[rec.name + ".weight"], b = w[rec.name + ".bias"];
    const O = rec.out, I = rec.in;
    const y = new Float32Array(O);
    for (let o = 0; o < O; o++) {
      let s = b ? b[o] : 0;
      const r = o * I;
      for (let i = 0; i < I; i++) s += wt[r + i] * x[i];
      y[o] = s;
    }
    return y;
  },
  // joins: x is the list of their inputs' outputs, in the record's order (C, H, W: the first's)
  add: (xs) => { // summed in order, each step rounded to float32 as torch does
    const y = Float32Array.from(xs[0]);
    for (let j = 1; j < xs.length; j++) {
      const u = xs[j];
      for (let i = 0; i < y.length; i++) y[i] += u[i];
    }
    return y;
  },
  concat: (xs) => { // channels stacked: (C, H, W) buffers one after another
    const y = new Float32Array(xs.reduce((n, u) => n + u.length, 0));
    let at = 0;
    for (const u of xs) { y.set(u, at); at += u.length; }
    return y;
  },
};

// Every layer's output for PIXELS (784) pixels (0-255): [{name, shape, data: Float32Array}].
// A layer reads the one before it, or the layers its record's inputs name ("input": the image).
function runNet(net, pixels) {
  const x0 = new Float32Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) x0[i] = (pixels[i] / 255 - net.mean) / net.std;
  return runFrom(net, x0, false);
}

// runNet from the scaled input X0 (Float32Array(784)). KEEP: each output also holds what the
// backward pass needs (backward.js): the input it read (`input`: an array, or the list of a
// join's), the layer's C, H, W and max pooling's argmax (`arg`).
function runFrom(net, x0, keep) {
  const made = new Map([["input", { shape: [1, SIDE, SIDE], data: x0 }]]);
  let previous = "input";
  const outs = [];
  for (const rec of net.layers) {
    const srcs = (rec.inputs || [previous]).map((n) => made.get(n));
    if (srcs.some((s) => !s)) throw new Error(`layer ${rec.name}: its inputs name a layer not before it`);
    const shape = srcs[0].shape;
    const [C, H, W] = shape.length === 3 ? shape : [shape[0], 1, 1];
    const oshape = rec.shape;
    const op = Object.hasOwn(LAYER_OPS, rec.type) ? LAYER_OPS[rec.type] : null;
    if (!op) throw new Error(`layer ${rec.name}: the lens cannot run a ${rec.type} layer`);
    // a join (the payload marks it: viz/browser/lens.py) reads the list of its inputs' outputs
    const input = rec.join ? srcs.map((s) => s.data) : srcs[0].data;
    const kept = keep ? { rec, input, C, H, W } : null;
    const x = op(input, C, H, W, rec, net.w, oshape, kept);
    const out = kept ? Object.assign(kept, { name: rec.name, shape: oshape, data: x })
      : { name: rec.name, shape: oshape, data: x, inShape: [C, H, W] };
    if (kept) out.inShape = [C, H, W];
    made.set(rec.name, out);
    previous = rec.name;
    outs.push(out);
  }
  return outs;
}

// The outputs a change of input rows a..b reaches in a conv or pooling layer: [lo, hi] of n.
function reached(a, b, k, s, p, d, n) {
  return [Math.max(0, Math.ceil((a + p - (k - 1) * d) / s)), Math.min(n - 1, Math.floor((b + p) / s))];
}

// The last layer's output for input X0 (scaled, 784) that differs from BASE's input only within
// BOX ([y0, y1, x0, x1], inclusive); BASE: runFrom(net, base input) (its outputs are reused). Each
// conv and pooling layer recomputes only the outputs the change reaches (the same numbers as a
// whole pass); the other layers run whole once the change reaches them. Occlusion's many passes.
function runChanged(net, base, x0, box) {
  const made = new Map([["input", { data: x0, box }]]);
  let previous = "input";
  for (let i = 0; i < net.layers.length; i++) {
    const rec = net.layers[i], b = base[i];
    const srcs = (rec.inputs || [previous]).map((n) => made.get(n));
    previous = rec.name;
    const boxes = srcs.map((s) => s.box).filter((v) => v !== null);
    if (!boxes.length) { made.set(rec.name, { data: b.data, box: null }); continue; }
    let changed = boxes.some((v) => v === "all") ? "all" : [
      Math.min(...boxes.map((v) => v[0])), Math.max(...boxes.map((v) => v[1])),
      Math.min(...boxes.map((v) => v[2])), Math.max(...boxes.map((v) => v[3]))];
    const shape = b.shape;
    const [C, H, W] = b.inShape;
    const field = changed !== "all" && (rec.type === "conv" || rec.type === "maxpool" || rec.type === "avgpool");
    if (field) {
      const conv_ = rec.type === "conv";
      const k = rec.kernel, s = rec.stride || (conv_ ? 1 : k), p = rec.padding || 0, d = conv_ ? rec.dilation || 1 : 1;
      const [y0, y1] = reached(changed[0], changed[1], k, s, p, d, shape[1]);
      const [xa, xb] = reached(changed[2], changed[3], k, s, p, d, shape[2]);
      if (y0 > y1 || xa > xb) { made.set(rec.name, { data: b.data, box: null }); continue; }
      const out = Float32Array.from(b.data), x = srcs[0].data, nb = [y0, y1, xa, xb];
      if (conv_) {
        conv(x, C, H, W, rec, net.w[rec.name + ".weight"], net.w[rec.name + ".bias"], shape[1], shape[2], nb, out);
      } else pool(x, C, H, W, rec, shape[1], shape[2], rec.type === "maxpool", null, nb, out);
      made.set(rec.name, { data: out, box: nb });
      continue;
    }
    const input = rec.join ? srcs.map((s) => s.data) : srcs[0].data;
    const y = LAYER_OPS[rec.type](input, C, H, W, rec, net.w, shape, null);
    if (!(changed !== "all" && (rec.rf && !rec.rf.global) && shape.length === 3)) changed = "all";
    made.set(rec.name, { data: y, box: changed });
  }
  return made.get(previous).data;
}

function softmax(v) {
  let m = -Infinity;
  for (const u of v) m = Math.max(m, u);
  const e = Array.from(v, (u) => Math.exp(u - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((u) => u / s);
}

// Which layers feed REC in a graph network, in words ("" when it reads the layer before it): a
// join names its branches; its field is the engine's, the largest of its aligned branches.
function feeds(net, rec) {
  if (!rec || !rec.inputs) return "";
  const i = net.layers.indexOf(rec);
  const names = rec.inputs.map((n) => (n === "input" ? "the input image" : n));
  if (rec.type === "add") return `adds ${names.join(" + ")} (its field: the largest of theirs, aligned)`;
  if (rec.type === "concat") {
    const parts = rec.inputs.map((n) => {
      const src = net.layers.find((r) => r.name === n);
      return n === "input" ? "the input image (1)" : `${n} (${src ? src.shape[0] : "?"})`;
    });
    return `stacks the channels of ${parts.join(" + ")}`;
  }
  const before = i > 0 ? net.layers[i - 1].name : "input";
  return rec.inputs.length === 1 && rec.inputs[0] === before ? "" : `reads ${names.join(", ")}`;
}
