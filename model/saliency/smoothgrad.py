"""SmoothGrad (Smilkov et al., 2017): saliency averaged over noisy copies (Captum NoiseTunnel)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from model.saliency.base import DEFAULTS, Method, Options, as_map
from viz.preprocess import STD

SAMPLES = 16
NOISE = 0.15  # as a share of the pixel range


def smoothgrad(model: nn.Module, x: torch.Tensor, target: int, opts: Options = DEFAULTS,
               seed: int = 0) -> np.ndarray:
    from captum.attr import NoiseTunnel, Saliency
    torch.manual_seed(seed)  # only affects this call's noise; results are reproducible
    stdev = NOISE * float(1.0 / STD)
    return as_map(NoiseTunnel(Saliency(model)).attribute(
        x, nt_type="smoothgrad", nt_samples=SAMPLES, nt_samples_batch_size=SAMPLES,
        stdevs=stdev, target=target, abs=False))


METHOD = Method("smoothgrad", "SmoothGrad",
                "Saliency averaged over noisy copies of the input (NoiseTunnel): less speckle, "
                "same idea.", smoothgrad)
