"""SmoothGrad (Smilkov et al., 2017): saliency averaged over noisy copies of the input.

What Captum's ``NoiseTunnel(Saliency)`` computes (the same noise and the same numbers for the
same seed), with the noise drawn from a generator of the call's own, so concurrent sessions never
share or reseed torch's global random state, and the noisy copies cut into batches that fit the
memory budget (:func:`model.insight.activations.batch_images`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from model.saliency.base import DEFAULTS, Method, Options, images_per_batch
from viz.inputs.preprocess import STD
from viz.network.layers import batches

SAMPLES = 16
NOISE = 0.15  # as a share of the pixel range


def smoothgrad(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor,
               opts: Options = DEFAULTS, seed: int = 0) -> np.ndarray:
    """Mean gradient of the target score over :data:`SAMPLES` noisy copies of each input
    (noise of standard deviation :data:`NOISE` of the pixel range); ``x`` (N, 1, 28, 28)."""
    gen = torch.Generator().manual_seed(seed)
    stdev = NOISE * float(1.0 / STD)
    n = len(x)
    noise = torch.randn((n * SAMPLES, *x.shape[1:]), generator=gen) * stdev  # digit-major
    noisy = x.detach().repeat_interleave(SAMPLES, dim=0) + noise
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
