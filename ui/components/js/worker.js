// The attribution worker's message handler (runs inside a Web Worker, after constants.js,
// decode.js, forward.js, backward.js and attribute.js): {id, netId, net (the payload, the first
// time), method, pixels, opts} -> {id, method, map (Float32Array), ms} or {id, error}.

const WORKER_NETS = new Map();

self.onmessage = (ev) => {
  const { id, netId, net, method, pixels, opts } = ev.data;
  const t0 = performance.now();
  try {
    if (net && !WORKER_NETS.has(netId)) WORKER_NETS.set(netId, decodeNet(net));
    const n = WORKER_NETS.get(netId);
    if (!n) throw new Error(`the worker has no network ${netId}`);
    const map = attributeNet(n, method, pixels, opts || {});
    self.postMessage({ id, method, map, ms: performance.now() - t0 }, [map.buffer]);
  } catch (err) {
    self.postMessage({ id, method, error: String(err && err.message ? err.message : err) });
  }
};
