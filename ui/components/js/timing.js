// Timing hooks for the tests and benchmarks: each component publishes an object on window
// (window.cnnLens, window.cnnUnitField, window.cnnSaliency) with
//   lastUpdateMs  from the input event's time stamp to its canvases drawn;
//   lastWorkMs    the component's own part (its handler starting -> drawn), without the time the
//                 event waited for the browser's main thread;
//   lastFrameMs   from the event to the next animation frame (when the browser shows it);
//   updates, frames  counts of both.

// The hooks object window[name], made on first use with the fields of extra.
function hooks(name, extra = {}) {
  window[name] = window[name] ||
    { lastUpdateMs: null, lastWorkMs: null, lastFrameMs: null, updates: 0, frames: 0, ...extra };
  return window[name];
}

// Record one update of window[name]: t0 the event's time, start when the handler started.
function recordUpdate(name, t0, start) {
  const api = hooks(name);
  const now = performance.now();
  api.lastUpdateMs = now - t0;
  api.lastWorkMs = now - (start === undefined ? t0 : start);
  requestAnimationFrame(() => { api.lastFrameMs = performance.now() - t0; api.frames += 1; });
  api.updates += 1;
}

// Run fn now, for the event ev (or none), and record the update in window[name].
function timed(name, ev, fn) {
  const t0 = ev && ev.timeStamp ? ev.timeStamp : performance.now();
  const start = performance.now();
  fn();
  recordUpdate(name, t0, start);
}
