// The drawing pad: a square canvas of PAD x PAD pixels where the viewer draws a digit with the
// mouse, a pen or a finger (black pen discs on white, no blending), read back as grayscale for
// the MNIST preprocessing port (preprocess.js).

const PAD = 240; // drawing pad pixels (the server's drawing canvas size)
const BRUSH = 9; // pen radius in pad pixels (an 18-pixel stroke)
// The pads' pixels by component key, kept for the page's life: Streamlit may mount the
// component afresh (a new element, e.g. when the drawing becomes the page's input and the page
// around it changes); the new pad shows the same strokes as the input it made.
const PADS = (window.__cnnPads = window.__cnnPads || new Map());

class DrawingPad {
  constructor(canvas, name) {
    this.cv = canvas;
    this.name = name || "pad";
    this.mask = new Uint8Array(PAD * PAD);
    this.image = null; // ImageData, made by clear()
    this.pen = null; // the pen's last point while it is down
    const kept = PADS.get(this.name);
    if (kept) { // the same objects: later strokes keep the store up to date
      this.mask = kept.mask;
      this.image = kept.image;
      this.cv.getContext("2d", { willReadFrequently: true }).putImageData(this.image, 0, 0);
    }
    this.describe();
  }

  // Whether anything is drawn.
  inked() { return this.mask.some((v) => v > 0); }

  // The pad's text alternative, following what it shows: empty, or where the ink is (and
  // ``reading``, e.g. the network's prediction, when given).
  describe(reading) {
    let label = "Drawing pad: empty. Draw a digit with the mouse, a pen or a finger.";
    if (this.image && this.inked()) {
      let y0 = PAD, y1 = -1, x0 = PAD, x1 = -1;
      for (let i = 0; i < PAD * PAD; i++) {
        if (!this.mask[i]) continue;
        const y = (i / PAD) | 0, x = i % PAD;
        if (y < y0) y0 = y; if (y > y1) y1 = y; if (x < x0) x0 = x; if (x > x1) x1 = x;
      }
      label = `Drawing pad, ${PAD}x${PAD}: your digit, ink over rows ${y0} to ${y1}, ` +
        `columns ${x0} to ${x1}` + (reading ? `; ${reading}` : "") + ".";
    }
    this.cv.setAttribute("aria-label", label);
    return label;
  }

  // Follow the pointer: onStroke(ev) after each press or move while the pen is down (Chromium
  // delivers moves once per frame, coalesced), onRelease() when it is lifted.
  wire(onStroke, onRelease) {
    const cv = this.cv;
    cv.addEventListener("pointerdown", (ev) => {
      cv.setPointerCapture(ev.pointerId);
      this.pen = this.point(ev);
      this.stamp(this.pen, this.pen);
      onStroke(ev);
    });
    cv.addEventListener("pointermove", (ev) => {
      if (!this.pen) return;
      const evs = ev.getCoalescedEvents ? ev.getCoalescedEvents() : [ev];
      for (const c of evs.length ? evs : [ev]) {
        const p = this.point(c);
        this.stamp(this.pen, p);
        this.pen = p;
      }
      onStroke(ev);
    });
    const up = () => {
      if (!this.pen) return;
      this.pen = null;
      onRelease();
    };
    cv.addEventListener("pointerup", up);
    cv.addEventListener("pointercancel", up);
  }

  clear() {
    this.mask.fill(0);
    const ctx = this.cv.getContext("2d", { willReadFrequently: true });
    this.image = new ImageData(PAD, PAD);
    this.image.data.fill(255);
    ctx.putImageData(this.image, 0, 0);
    PADS.set(this.name, { mask: this.mask, image: this.image });
    this.describe();
  }

  point(ev) { // the drawing area inside the border, at whatever size the page gives it
    const r = this.cv.getBoundingClientRect();
    const w = this.cv.clientWidth || r.width, h = this.cv.clientHeight || r.height;
    const left = r.left + this.cv.clientLeft, top = r.top + this.cv.clientTop;
    return [((ev.clientX - left) / w) * PAD, ((ev.clientY - top) / h) * PAD];
  }

  stamp(a, b) { // pen discs along the segment a-b: pure black or white pixels, no blending
    if (!this.image) this.clear();
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    const steps = Math.max(1, Math.ceil(len));
    let x0 = PAD, y0 = PAD, x1 = -1, y1 = -1;
    for (let i = 0; i <= steps; i++) {
      const cx = a[0] + ((b[0] - a[0]) * i) / steps, cy = a[1] + ((b[1] - a[1]) * i) / steps;
      const ya = Math.max(0, Math.floor(cy - BRUSH)), yb = Math.min(PAD - 1, Math.ceil(cy + BRUSH));
      const xa = Math.max(0, Math.floor(cx - BRUSH)), xb = Math.min(PAD - 1, Math.ceil(cx + BRUSH));
      for (let y = ya; y <= yb; y++) {
        for (let x = xa; x <= xb; x++) {
          const dx = x + 0.5 - cx, dy = y + 0.5 - cy;
          if (dx * dx + dy * dy <= BRUSH * BRUSH && !this.mask[y * PAD + x]) {
            this.mask[y * PAD + x] = 1;
            const j = (y * PAD + x) * 4;
            this.image.data[j] = 0; this.image.data[j + 1] = 0; this.image.data[j + 2] = 0;
          }
        }
      }
      x0 = Math.min(x0, xa); y0 = Math.min(y0, ya); x1 = Math.max(x1, xb); y1 = Math.max(y1, yb);
    }
    if (x1 >= x0) {
      this.cv.getContext("2d", { willReadFrequently: true }).putImageData(this.image, 0, 0, x0, y0, x1 - x0 + 1, y1 - y0 + 1);
    }
  }

  gray() { // as viz.inputs.preprocess.rgba_to_gray of the pad's opaque RGBA pixels
    const g = new Float64Array(PAD * PAD), d = this.image.data;
    for (let i = 0; i < PAD * PAD; i++) {
      g[i] = (d[i * 4] / 255) * 0.299 + (d[i * 4 + 1] / 255) * 0.587 + (d[i * 4 + 2] / 255) * 0.114;
    }
    return g;
  }

  // The pad's drawing as a 28x28 MNIST digit (preprocess.js), or null when nothing is drawn.
  digit() { return toMnist(this.gray(), PAD, PAD); }
}
