// The lesson's attribution worker: runs attributeNet (attribute.js, after constants.js, decode.js,
// forward.js and backward.js, which the lesson writer puts before this file in the worker's
// source) off the page's thread, so a method that takes seconds (Occlusion, Integrated
// Gradients) never freezes the page. A message {id, netId, payload (the first time a network
// is sent), method, pixels, opts} is answered {id, map} or {id, error}.

const WORKER_NETS = new Map(); // payload id -> decoded net

onmessage = (e) => {
  const { id, netId, payload, method, pixels, opts } = e.data;
  try {
    if (payload && !WORKER_NETS.has(netId)) WORKER_NETS.set(netId, decodeNet(payload));
    const net = WORKER_NETS.get(netId);
    if (!net) throw new Error("the worker was sent no network");
    const map = Float32Array.from(attributeNet(net, method, pixels, opts));
    postMessage({ id, map }, [map.buffer]);
  } catch (err) {
    postMessage({ id, error: err.message });
  }
};
