"""Grad-CAM (Selvaraju et al., 2017) on the chosen layer, upsampled to the input."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from model.insight.activations import private_copy
from model.saliency.base import DEFAULTS, Method, Options, as_map, module


def gradcam(model: nn.Module, x: torch.Tensor, target: int, opts: Options = DEFAULTS
            ) -> np.ndarray:
    """Grad-CAM on ``opts.layer``, upsampled by nearest neighbour (blocks of size S)."""
    from captum.attr import LayerGradCam
    layer = opts.layer or ""
    clone = private_copy(model)
    cam = LayerGradCam(clone, module(clone, layer)).attribute(
        x, target=target, relu_attributions=True)
    if cam.dim() != 4:
        raise ValueError(f"Grad-CAM needs a layer with feature maps; {layer!r} outputs a vector. "
                         f"Pick a conv, activation or pooling layer.")
    up = F.interpolate(cam.detach(), size=x.shape[-2:], mode="nearest")
    return as_map(up)


METHOD = Method("gradcam", "Grad-CAM",
                "Feature maps of the chosen layer weighted by their average gradient, ReLU'd and "
                "upsampled: blocky by exactly the layer's effective stride S.", gradcam,
                uses_layer=True, feature_maps=True)
