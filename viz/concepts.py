"""The guided tour: the seed project's eight concepts and five design rules, in our words.

Each concept names the live visual the app pairs it with; the numeric helpers here (a convolution
step, a 1x1 channel mix, ReLU before/after) are plain functions the app draws and the tests check
against torch. Streamlit-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Concept:
    key: str
    title: str
    text: str
    visual: str  # what the app shows beside the text


CONCEPTS: tuple[Concept, ...] = (
    Concept(
        "convolution", "Convolution",
        "A convolution slides a small grid of weights (the kernel) over the image. At each "
        "position it multiplies the pixels under the kernel by the weights and adds the products "
        "(plus a bias): one number of the output. Because the same weights are used everywhere, "
        "the layer finds the same pattern wherever it appears.",
        "A 3x3 window on the input, the nine products and their sum, which is exactly the value "
        "of the feature map at that position."),
    Concept(
        "filters", "Filters and kernels",
        "A kernel is one 2-D grid of weights; a filter is the stack of kernels, one per input "
        "channel, that produces one output channel. A layer with 16 filters makes 16 feature "
        "maps. The weights are learned: nobody designs them by hand.",
        "The learned filters of the chosen layer."),
    Concept(
        "epochs", "Epochs",
        "An epoch is one pass over every training image. Each step looks at a small batch, "
        "measures the error (the loss) and nudges every weight to reduce it. Accuracy on images "
        "held out from training shows whether the network learns or only memorises.",
        "Loss and validation accuracy per epoch, from the model's own training record."),
    Concept(
        "1x1", "1x1 convolution",
        "A 1x1 convolution looks at one pixel position at a time and mixes the channels there: "
        "each output channel is a weighted sum of the input channels at the same pixel. It "
        "changes the number of channels cheaply and does not grow the receptive field.",
        "At one pixel: the input channel values, the 1x1 weight matrix, and the output values."),
    Concept(
        "3x3", "3x3 convolution",
        "A 3x3 kernel is the smallest that sees a pixel's neighbours on every side. Two stacked "
        "3x3 layers see a 5x5 patch with 18 weights per channel pair instead of 25, with a "
        "non-linearity in between; three see 7x7 with 27 instead of 49.",
        "The receptive field growing by 2 input pixels per 3x3 layer (times the effective stride)."),
    Concept(
        "feature-maps", "Feature maps",
        "A feature map is the output of one filter over the whole image: bright where the "
        "filter's pattern is present. Early maps respond to edges and strokes, deeper ones to "
        "larger parts of digits.",
        "All feature maps of the chosen layer for the current input."),
    Concept(
        "activation", "Activation function",
        "Without a non-linearity, any stack of convolutions collapses into a single linear map. "
        "ReLU keeps positive values and sets negative ones to zero: cheap, and it lets a deep "
        "network build complicated decisions out of simple pieces.",
        "One feature map before ReLU (negative values in one colour) and after (they are gone)."),
    Concept(
        "receptive-field", "Receptive field",
        "The receptive field of a unit is the patch of the input it can possibly see. It grows "
        "by (kernel - 1) x (effective stride) at every layer; pooling multiplies the stride, so "
        "later layers grow faster. Within it, the unit is most sensitive near the centre: the "
        "effective receptive field is smaller than the theoretical one.",
        "The chosen unit's exact region on the input, and its sensitivity map inside it."),
)

RULES: tuple[tuple[str, str], ...] = (
    ("Pad early", "Small images lose their border fast: a 3x3 conv without padding shrinks "
     "28x28 to 26x26. Padding the early layers keeps the edges of the digit in play."),
    ("Widen gradually", "Increase the channels step by step (8, 10, 12, ...) so every layer "
     "builds on the last instead of jumping to hundreds of filters at once."),
    ("1x1 to cut", "After five or six layers, a 1x1 convolution cuts the channels, keeping the "
     "useful combinations and dropping the cost of everything after it."),
    ("Pool after the 1x1", "Max-pool right after that 1x1, never next to the input (edges are "
     "not yet found) nor next to the output (nothing is left to pool)."),
    ("Big final kernel", "A final 14x14 kernel sees the whole 14x14 map and gives the 10 class "
     "scores; several 3x3 layers reach the same receptive field with fewer weights."),
)


def conv_step(image: np.ndarray, kernel: np.ndarray, y: int, x: int, padding: int = 1,
              bias: float = 0.0) -> tuple[np.ndarray, np.ndarray, float]:
    """The patch under a kernel centred on output (y, x), the products, and their sum + bias.

    ``image`` is (H, W), ``kernel`` (k, k); the patch includes zeros from ``padding``. The sum is
    what a stride-1 cross-correlation (what deep learning calls convolution) outputs at (y, x).
    """
    k = kernel.shape[0]
    if kernel.shape != (k, k):
        raise ValueError(f"kernel must be square, got {kernel.shape}")
    padded = np.pad(image.astype(np.float64), padding)
    out_h, out_w = padded.shape[0] - k + 1, padded.shape[1] - k + 1
    if not (0 <= y < out_h and 0 <= x < out_w):
        raise ValueError(f"position ({y}, {x}) is outside the {out_h}x{out_w} output")
    patch = padded[y:y + k, x:x + k]
    products = patch * kernel
    return patch, products, float(products.sum() + bias)


def channel_mix(activations: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, y: int,
                x: int) -> tuple[np.ndarray, np.ndarray]:
    """A 1x1 convolution at one pixel: (input channel vector, output channel vector).

    ``activations`` is (C_in, H, W); ``weight`` is (C_out, C_in) or (C_out, C_in, 1, 1).
    """
    w = weight.reshape(weight.shape[0], -1)
    if w.shape[1] != activations.shape[0]:
        raise ValueError(f"weight expects {w.shape[1]} channels, activations have "
                         f"{activations.shape[0]}")
    v = activations[:, y, x].astype(np.float64)
    out = w @ v + (0.0 if bias is None else bias)
    return v, out


def relu_split(feature_map: np.ndarray) -> dict[str, float]:
    """How much of a pre-activation map ReLU removes: share of negative values, and extremes."""
    fm = np.asarray(feature_map, dtype=np.float64)
    return {"negative_share": float((fm < 0).mean()), "min": float(fm.min()),
            "max": float(fm.max())}
