// MNIST preprocessing: a faithful port of viz/inputs/preprocess.py (to_mnist) and of Pillow's
// Lanczos resize (8-bit, fixed point), so a drawing gives the same 28x28 digit here as on the
// server.

function roundHalfEven(v) {
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
function resizeLanczos(src, w, h, nw, nh) {
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

// Grayscale in [0, 1] (1 = white), w x h -> Uint8Array(PIXELS), or null when no digit is found.
function toMnist(gray, w, h) {
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
      if (ink[y * w + x] > INK_THRESHOLD) {
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
      crop[y * cw + x] = v > INK_THRESHOLD * 0.5 ? Math.trunc(v * 255) : 0;
    }
  }
  const scale = BOX / Math.max(ch, cw);
  const nh = Math.max(1, roundHalfEven(ch * scale)), nw = Math.max(1, roundHalfEven(cw * scale));
  const small = resizeLanczos(crop, cw, ch, nw, nh);
  const frame = new Float64Array(PIXELS);
  const top = Math.floor((SIDE - nh) / 2), left = Math.floor((SIDE - nw) / 2);
  for (let y = 0; y < nh; y++) for (let x = 0; x < nw; x++) frame[(top + y) * SIDE + left + x] = small[y * nw + x];
  let total = 0, sy = 0, sx = 0;
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const v = frame[y * SIDE + x];
      total += v; sy += y * v; sx += x * v;
    }
  }
  if (total <= 0) return null;
  const dy = roundHalfEven(CENTRE - sy / total), dx = roundHalfEven(CENTRE - sx / total);
  const out = new Uint8Array(PIXELS);
  let mx = 0;
  for (let i = 0; i < PIXELS; i++) mx = Math.max(mx, frame[i]);
  mx = Math.max(mx, 1e-9);
  for (let y = 0; y < SIDE; y++) {
    const sy2 = y - dy;
    if (sy2 < 0 || sy2 >= SIDE) continue;
    for (let x = 0; x < SIDE; x++) {
      const sx2 = x - dx;
      if (sx2 < 0 || sx2 >= SIDE) continue;
      const v = (frame[sy2 * SIDE + sx2] / mx) * 255;
      out[y * SIDE + x] = roundHalfEven(Math.min(255, Math.max(0, v)));
    }
  }
  return out;
}
