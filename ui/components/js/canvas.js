// Drawing helpers shared by the browser components (after constants.js): colour tables, the
// receptive-field arithmetic, the input with a unit's field and its hatched padding, number
// formatting, the cell under the pointer.

function lut(stops) { // 256 x RGB, linear between evenly spaced stops (as plotly)
  const rgb = stops.map((s) => [1, 3, 5].map((i) => parseInt(s.slice(i, i + 2), 16)));
  const out = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * (rgb.length - 1);
    const j = Math.min(rgb.length - 2, Math.floor(t));
    const f = t - j;
    for (let k = 0; k < 3; k++) out[i * 3 + k] = Math.round(rgb[j][k] * (1 - f) + rgb[j + 1][k] * f);
  }
  return out;
}
const LUTS = Object.fromEntries(Object.entries(STOPS).map(([k, v]) => [k, lut(v)]));

// ------------------------------------------------------------------------------------------
// Receptive fields (the engine's table: unit u reads pixels u*S - P .. u*S - P + r - 1)
// ------------------------------------------------------------------------------------------

function unitBounds(rec, y, x) {
  const rf = rec.rf;
  if (!rf || rf.global) return [0, LAST, 0, LAST];
  const y0 = y * rf.S[0] - rf.P[0], x0 = x * rf.S[1] - rf.P[1];
  return [y0, y0 + rf.r[0] - 1, x0, x0 + rf.r[1] - 1];
}

function layerExtent(rec) { // input-pixel range the input canvas shows for this layer
  const rf = rec.rf;
  if (!rf || rf.global || !rf.size) return [0, LAST];
  const [a] = unitBounds(rec, 0, 0);
  const [, b] = unitBounds(rec, rf.size[0] - 1, rf.size[1] - 1);
  const [, , c] = unitBounds(rec, 0, 0);
  const [, , , d] = unitBounds(rec, rf.size[0] - 1, rf.size[1] - 1);
  return [Math.min(0, a, c), Math.max(LAST, b, d)];
}

function fmt(v) {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3);
}

let HATCH = null;
function hatch() {
  if (HATCH) return HATCH;
  HATCH = document.createElement("canvas");
  HATCH.width = 8; HATCH.height = 8;
  const c = HATCH.getContext("2d", { willReadFrequently: true });
  c.fillStyle = rgba(ACCENT_RGB, 0.18);
  c.fillRect(0, 0, 8, 8);
  c.strokeStyle = rgba(ACCENT_RGB, 0.9);
  c.lineWidth = 2;
  c.beginPath(); c.moveTo(-2, 10); c.lineTo(10, -2); c.moveTo(-2, 2); c.lineTo(2, -2);
  c.moveTo(6, 10); c.lineTo(10, 6); c.stroke();
  return HATCH;
}


// The 28x28 input as a small canvas (white ink on black, or grey ink on white under a signed
// overlay), blended with an overlay of levels (0..LEVELS, or -LEVELS..LEVELS when signed) exactly as
// viz/pictures/raster.py's field_picture blends them.
function inputTile(pixels, overlay, signed) {
  const img = new ImageData(SIDE, SIDE);
  const rd = LUTS.rdbu;
  for (let i = 0; i < PIXELS; i++) {
    const v = pixels[i] / 255;
    let r, g, b;
    if (overlay && signed) { r = g = b = (1 - 0.45 * v) * 255; } else {
      r = g = b = v * (overlay ? 0.85 : 1) * 255;
    }
    if (overlay) {
      const t = overlay[i] / LEVELS;
      let a, cr, cg, cb;
      if (signed) {
        const k = 3 * Math.round(((Math.max(-1, Math.min(1, t)) + 1) / 2) * 255);
        cr = rd[k]; cg = rd[k + 1]; cb = rd[k + 2];
        a = Math.pow(Math.min(1, Math.abs(t)), SIGNED_GAMMA);
      } else {
        [cr, cg, cb] = YELLOW;
        a = Math.pow(Math.max(0, Math.min(1, t)), SENSITIVITY_GAMMA);
      }
      r = r * (1 - a) + cr * a; g = g * (1 - a) + cg * a; b = b * (1 - a) + cb * a;
    }
    img.data[i * 4] = r; img.data[i * 4 + 1] = g; img.data[i * 4 + 2] = b; img.data[i * 4 + 3] = 255;
  }
  const cv = document.createElement("canvas");
  cv.width = SIDE; cv.height = SIDE;
  cv.getContext("2d").putImageData(img, 0, 0);
  return cv;
}

// Draw the input on a square canvas that shows input pixels lo..hi (outside 0..LAST: the zero
// padding, grey), with a unit's field b = [y0, y1, x0, x1] outlined in orange and the part of it
// in the padding hatched. opts: overlay and signed (see inputTile), dim (darken what the unit
// does not see). The tile is kept on the canvas while pixels and overlay stay the same arrays.
function drawField(cv, pixels, [lo, hi], b, opts = {}) {
  const ctx = cv.getContext("2d");
  const side = cv.width;
  const n = hi - lo + 1, k = side / n, o = -lo * k;
  const key = cv._tileKey;
  if (!key || key.pixels !== pixels || key.overlay !== opts.overlay || key.signed !== !!opts.signed) {
    cv._tile = inputTile(pixels, opts.overlay, !!opts.signed);
    cv._tileKey = { pixels, overlay: opts.overlay, signed: !!opts.signed };
  }
  ctx.fillStyle = PAD_GREY;
  ctx.fillRect(0, 0, side, side);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(cv._tile, o, o, SIDE * k, SIDE * k);
  ctx.strokeStyle = BORDER_GREY;
  ctx.lineWidth = 1;
  ctx.strokeRect(o - 0.5, o - 0.5, SIDE * k + 1, SIDE * k + 1);
  if (!b) return;
  const rx = (b[2] - lo) * k, ry = (b[0] - lo) * k;
  const rw = (b[3] - b[2] + 1) * k, rh = (b[1] - b[0] + 1) * k;
  if (opts.dim) { // dim what the unit does not see
    ctx.fillStyle = "rgba(20,20,30,0.55)";
    ctx.beginPath();
    ctx.rect(0, 0, side, side);
    ctx.rect(rx, ry, rw, rh);
    ctx.fill("evenodd");
  }
  // the part of the field in the zero padding, hatched
  ctx.save();
  ctx.beginPath();
  ctx.rect(rx, ry, rw, rh);
  ctx.clip();
  ctx.beginPath();
  ctx.rect(0, 0, side, side);
  ctx.rect(o, o, SIDE * k, SIDE * k);
  ctx.fillStyle = ctx.createPattern(hatch(), "repeat");
  ctx.fill("evenodd");
  ctx.restore();
  ctx.lineWidth = 3;
  ctx.strokeStyle = ORANGE;
  ctx.strokeRect(rx + 1.5, ry + 1.5, rw - 3, rh - 3);
}

// Share of a field (r x r pixels) that lies in the zero padding, 0..1.
function paddingShare(b) {
  const inside = Math.max(0, Math.min(b[1], LAST) - Math.max(b[0], 0) + 1) *
    Math.max(0, Math.min(b[3], LAST) - Math.max(b[2], 0) + 1);
  return 1 - inside / ((b[1] - b[0] + 1) * (b[3] - b[2] + 1));
}

// The cell {y, x} of an h x w grid drawn over element el under the pointer event ev, or null
// when the pointer is outside it.
function cellAt(ev, el, h, w) {
  const box = el.getBoundingClientRect();
  const x = Math.floor(((ev.clientX - box.left) / box.width) * w);
  const y = Math.floor(((ev.clientY - box.top) / box.height) * h);
  return x >= 0 && y >= 0 && x < w && y < h ? { y, x } : null;
}

// ------------------------------------------------------------------------------------------
// Text alternatives: what a canvas shows, in words, redone whenever it is redrawn
// ------------------------------------------------------------------------------------------

// The largest (or, with low, the smallest) of n numbers of data from offset off, with its
// row and column in a map w wide: {i, y, x, v}.
function extreme(data, n, w, off = 0, low = false) {
  let best = off;
  for (let i = off + 1; i < off + n; i++) {
    if (low ? data[i] < data[best] : data[i] > data[best]) best = i;
  }
  const i = best - off;
  return { i, y: Math.floor(i / w), x: i % w, v: data[best] };
}

// "Channel 5 of relu5, 28x28; strongest unit row 21, col 12, value 4.42" for channel c of a
// layer's output data (C x h x w, row-major; off: where the channel starts in data).
function mapLabel(layer, c, h, w, data, off = c * h * w) {
  const s = extreme(data, h * w, w, off);
  return `Channel ${c} of ${layer}, ${h}x${w}; strongest unit row ${s.y}, col ${s.x}, ` +
    `value ${fmt(s.v)}`;
}

// "most for at row 7, col 14, against at row 20, col 3" of a signed 28x28 map (or only the
// largest of an unsigned one): where a picture over the input is strongest.
function strongestPixels(a, signed) {
  const at = (p) => `row ${p.y}, col ${p.x}`;
  const hi = extreme(a, PIXELS, SIDE), lo = extreme(a, PIXELS, SIDE, 0, true);
  if (hi.v === lo.v) return "the same value everywhere";
  if (!signed) return `strongest at ${at(hi)}`;
  const parts = [];
  if (hi.v > 0) parts.push(`strongest for at ${at(hi)}`);
  if (lo.v < 0) parts.push(`against at ${at(lo)}`);
  return parts.join(", ");
}
