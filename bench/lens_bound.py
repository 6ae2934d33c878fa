"""What the lens's size bound keeps out of the browser, measured (by hand).

    .venv/bin/python bench/lens_bound.py [--runs 9] [--json bench/results/lens_bound.json]

For every shipped checkpoint and every other zoo architecture (random weights, seed 0): the
lens payload's weight text (``viz.browser.lens.weight_text``), its multiply-adds per digit, and
the time of one whole forward pass of the browser's own code (``ui/components/js/decode.js`` and
``forward.js``, the same V8 engine as Chromium) run by node on one digit, median of ``--runs``
(one run for networks over the bound: they take seconds), against the bounds
``viz.limits.LENS_WEIGHT_CHARS`` and ``LENS_MACS_PER_STROKE``. The pen stroke's target is 50 ms
(``bench/lens_latency.py``); the whole stroke adds drawing the maps and remaking the digit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

JS = ROOT / "ui" / "components" / "js"
DRIVER = """
const fs = require("fs");
const payload = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const runs = parseInt(process.argv[3], 10);
const pixels = JSON.parse(fs.readFileSync(process.argv[4], "utf8"));
const net = decodeNet(payload);
const times = [];
let pred = -1;
for (let i = 0; i < runs; i++) {
  const t = process.hrtime.bigint();
  const outs = runNet(net, pixels);
  times.push(Number(process.hrtime.bigint() - t) / 1e6);
  const last = outs[outs.length - 1].data;
  pred = last.indexOf(Math.max(...last));
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({ms: times[Math.floor(times.length / 2)], pred}));
"""


def _networks():
    """(name, numpy net) for the shipped checkpoints, then the other zoo architectures."""
    import torch

    from model.architectures import ARCHITECTURES
    from model.files.export import numpy_net
    from model.store import shipped_checkpoints
    from model.zoo import build
    from viz.network import npforward
    shipped = shipped_checkpoints()
    for name, path in shipped.items():
        yield name, npforward.load(path)
    for name in ARCHITECTURES:
        if name not in shipped:
            torch.manual_seed(0)
            yield f"untrained:{name}", numpy_net(build(name).eval(), {"arch": name})


def measure(runs: int) -> list[dict]:
    import numpy as np

    from viz.browser import lens
    from viz.network import npforward
    with np.load(ROOT / "checkpoints" / "samples.npz") as d:
        image = d["images"][0]
    source = "\n".join((JS / f).read_text() for f in ("constants.js", "decode.js", "forward.js"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "run.js"
        script.write_text(source + DRIVER)
        pixels = Path(tmp) / "pixels.json"
        pixels.write_text(json.dumps(image.reshape(-1).tolist()))
        for name, net in _networks():
            p = lens.payload(net)
            row = {"network": name, "weight_text": p["weight_text"], "macs": p["macs"],
                   "live": bool(p["supported"]), "too_big": bool(p["too_big"])}
            if not p["too_big"] and not p["supported"]:
                row["reason"] = p["reason"]
            elif p["layers"] and all("shape" in r for r in p["layers"]):
                # over the bound the payload has no weights: encode them here to time it anyway
                full = p if not p["too_big"] else {**p, "weights": {
                    k: lens._encode(v) for k, v in net.tensors.items()
                    if np.issubdtype(np.asarray(v).dtype, np.floating)}}
                path = Path(tmp) / "net.json"
                path.write_text(json.dumps(full))
                n = 1 if p["too_big"] else runs
                r = subprocess.run(["node", "--max-old-space-size=4096", str(script), str(path),
                                    str(n), str(pixels)], capture_output=True, text=True,
                                   timeout=600, env={**os.environ})
                if r.returncode:
                    row["error"] = r.stderr.strip().splitlines()[-1][:200]
                else:
                    out = json.loads(r.stdout.strip().splitlines()[-1])
                    row["js_forward_ms"] = round(out["ms"], 1)
                    want = int(np.argmax(list(npforward.forward(net, image).values())[-1]))
                    row["same_prediction_as_numpy"] = out["pred"] == want
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    from viz.limits import LENS_MACS_PER_STROKE, LENS_WEIGHT_CHARS
    ap = argparse.ArgumentParser(prog="bench/lens_bound.py")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    rows = measure(max(1, a.runs))
    print(f"\nbounds: {LENS_WEIGHT_CHARS:,} characters of weights, "
          f"{LENS_MACS_PER_STROKE:,} MACs per digit")
    print(f"{'network':28} {'weights (MB)':>12} {'MMACs':>9} {'JS forward ms':>14}  live")
    for r in rows:
        print(f"{r['network']:28} {r['weight_text'] / 1e6:12.2f} {r['macs'] / 1e6:9.2f} "
              f"{r.get('js_forward_ms', float('nan')):14.1f}  "
              f"{'yes' if r['live'] else 'no (too big)' if r['too_big'] else 'no'}")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({"max_weight_text": LENS_WEIGHT_CHARS,
                                      "max_macs": LENS_MACS_PER_STROKE, "runs": a.runs,
                                      "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
