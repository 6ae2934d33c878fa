// The lens payload (viz/browser/lens.py) decoded: base64 float32 weights to typed arrays, eval-mode
// BatchNorm folded into a scale and shift per channel. Shared by whatever runs the network
// (forward.js).

function decodeF32(entry) {
  const bin = atob(entry.b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

function decodeNet(payload) {
  const w = {};
  for (const [k, v] of Object.entries(payload.weights)) w[k] = decodeF32(v);
  const net = { ...payload, w };
  delete net.weights;
  for (const rec of net.layers) {
    if (rec.type === "bn") { // eval-mode BatchNorm as scale and shift
      const g = w[rec.name + ".weight"], b = w[rec.name + ".bias"];
      const m = w[rec.name + ".running_mean"], v = w[rec.name + ".running_var"];
      const n = m.length;
      rec._scale = new Float32Array(n);
      rec._shift = new Float32Array(n);
      for (let c = 0; c < n; c++) {
        const s = g[c] / Math.sqrt(v[c] + net.bn_eps);
        rec._scale[c] = s;
        rec._shift[c] = b[c] - m[c] * s;
      }
    }
  }
  return net;
}
