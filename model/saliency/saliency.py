"""Saliency (Simonyan et al., 2014): the gradient of the class score."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from model.saliency.base import DEFAULTS, Method, Options, as_map


def saliency(model: nn.Module, x: torch.Tensor, target: int, opts: Options = DEFAULTS
             ) -> np.ndarray:
    from captum.attr import Saliency
    return as_map(Saliency(model).attribute(x, target=target, abs=False))


METHOD = Method("saliency", "Saliency",
                "The gradient of the class score: how much each pixel's small change moves it.",
                saliency)
