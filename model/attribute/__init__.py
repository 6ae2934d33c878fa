"""Attribution maps of a checkpoint for digits in a .npy file, as the server computes them; one
JSON line per image.

    python -m model.attribute CKPT --method M --images FILE.npy [--layer L] [--target T]
                              [--seed S]

FILE.npy holds uint8 images, N x 28 x 28 (read without pickles, at most
``viz.limits.ATTRIBUTE_IMAGES``). Each line is ``{"index", "target", "map"}``: the class explained
(``--target``, else the image's predicted digit) and the 784 values of ``model.saliency.attribute``
(row-major). The layer (Grad-CAM's maps, Occlusion's window and step, as the Saliency view sets
them) defaults to the one the explorer opens on (``viz.network.layers.default_layer``); the seed is
SmoothGrad's noise (0). The browser's ``attributeNet`` (ui/components/js/attribute.js) computes the
same maps. A refused file or option prints ``error: MESSAGE`` on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from model.files.checkpoint import CheckpointError, read_network
from model.predict import load_images
from viz.limits import ATTRIBUTE_IMAGES
from viz.network.card import CardError
from viz.network.layers import default_layer, describe


def maps(net, images: np.ndarray, method: str, layer: str | None = None,
         target: int | None = None, seed: int = 0):
    """Yield ``(target, map (28, 28))`` per image of ``images`` (uint8 N x 28 x 28) for ``net``
    (a NumpyNet read from a checkpoint). Raises ``ValueError`` for an unknown method, layer or
    target, or Grad-CAM on a layer without feature maps."""
    import torch

    from model import saliency
    from model.files.checkpoint import torch_model
    from model.insight.activations import as_input
    from model.saliency.occlusion import defaults
    if method not in saliency.METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(saliency.METHODS)}")
    table = {info.name: info for info in describe(net.layers)}
    layer = layer if layer is not None else default_layer(list(table))
    if layer not in table:
        raise ValueError(f"no layer named {layer!r}; the network has {', '.join(table)}")
    if target is not None and not 0 <= target < 10:
        raise ValueError(f"target class must be 0..9, got {target}")
    window, stride = defaults(table[layer].r, table[layer].stride)
    model = torch_model(net)
    for image in images:
        x = as_input(image)
        with torch.no_grad():
            t = int(model(x)[0].argmax()) if target is None else target
        yield t, saliency.attribute(method, model, x, t, layer=layer, window=window,
                                    stride=stride, seed=seed)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.attribute",
                                description=__doc__.split("\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("--method", required=True, help="saliency, ig, smoothgrad, guided, deeplift, "
                                                    "occlusion or gradcam")
    p.add_argument("--images", required=True, help="a .npy file of uint8 N x 28 x 28 digits")
    p.add_argument("--layer", help="Grad-CAM's and Occlusion's layer (default: the explorer's)")
    p.add_argument("--target", type=int, help="the class explained (default: the prediction)")
    p.add_argument("--seed", type=int, default=0, help="SmoothGrad's noise (default 0)")
    a = p.parse_args(argv)
    try:
        path = Path(a.checkpoint)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such checkpoint file.")
        net = read_network(path.read_bytes(), path.name)
        images = load_images(a.images)
        if len(images) > ATTRIBUTE_IMAGES:
            raise ValueError(f"{a.images}: {len(images):,} images; at most "
                             f"{ATTRIBUTE_IMAGES:,} get maps in one run.")
        for i, (t, m) in enumerate(maps(net, images, a.method, a.layer, a.target, a.seed)):
            print(json.dumps({"index": i, "target": t,
                              "map": [float(v) for v in np.asarray(m, np.float32).reshape(-1)]}),
                  flush=True)
    except (CardError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
