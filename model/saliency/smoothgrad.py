"""SmoothGrad (Smilkov et al., 2017): saliency averaged over noisy copies of the input.

The definition of Captum's ``NoiseTunnel(Saliency)`` (the same sums for the same noise; tested
against it), with the noise drawn from ``viz.inputs.noise``, the generator the browser's
attribute.js implements too: one seed gives one map on the server and in the browser. Every
digit gets the same :data:`SAMPLES` noise images of its seed (a digit's map is the one it gets
alone), the call never touches torch's global random state, and the noisy copies are cut into
batches that fit the memory budget (:func:`model.insight.activations.batch_images`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from model.saliency.base import DEFAULTS, Method, Options, images_per_batch
from viz.inputs.noise import normals
from viz.inputs.preprocess import STD
from viz.network.layers import batches

SAMPLES = 16
NOISE = 0.15  # as a share of the pixel range


def noise(seed: int, shape: tuple[int, ...] = (1, 28, 28)) -> torch.Tensor:
    """The :data:`SAMPLES` noise images of ``seed``, (SAMPLES, *shape) float32: normal numbers
    of ``viz.inputs.noise`` times the standard deviation (:data:`NOISE` of the pixel range, in
    MNIST's scaling), rounded to float32 as the browser rounds them."""
    stdev = NOISE * float(1.0 / STD)
    count = SAMPLES * int(np.prod(shape))
    return torch.from_numpy((normals(seed, count) * stdev).astype(np.float32)).view(SAMPLES,
                                                                                   *shape)


def smoothgrad(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor,
               opts: Options = DEFAULTS, seed: int | None = None) -> np.ndarray:
    """Mean gradient of the target score over :data:`SAMPLES` noisy copies of each input
    (:func:`noise` of ``seed``, else ``opts.seed``); ``x`` (N, 1, 28, 28)."""
    n = len(x)
    eps = noise(opts.seed if seed is None else seed, tuple(x.shape[1:]))
    noisy = x.detach().repeat_interleave(SAMPLES, dim=0) + eps.repeat(n, *[1] * (x.dim() - 1))
    targets = torch.as_tensor(target, dtype=torch.long).reshape(-1).expand(n)
    targets = targets.repeat_interleave(SAMPLES)
    grads = torch.empty_like(noisy)
    for part in batches(len(noisy), images_per_batch(model, opts)):
        inp = noisy[part].clone().requires_grad_(True)
        with torch.enable_grad():
            scores = model(inp)[torch.arange(len(inp)), targets[part]]
            (grads[part],) = torch.autograd.grad(torch.unbind(scores), inp)
    mean = grads.view(n, SAMPLES, *x.shape[1:]).sum(dim=1) * 1 / SAMPLES
    maps = mean[:, 0].numpy().astype(np.float32)
    return maps[0] if n == 1 else maps


METHOD = Method("smoothgrad", "SmoothGrad",
                "Saliency averaged over noisy copies of the input (NoiseTunnel): the same idea, "
                "usually with less speckle.", smoothgrad, own_batches=True)
