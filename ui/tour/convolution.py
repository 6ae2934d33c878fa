"""Step 1: convolution, a kernel sliding over the image, computed by hand beside the network."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import cache, common
from ui.tour.helpers import agreement, keep_choice, keep_int
from ui.tour.registry import tour_step
from viz.network import npforward
from viz.pictures import tourfigs
from viz.teaching import concepts


@tour_step('convolution', 'Convolution', needs_input=True,
      text=('A convolution slides a small grid of weights (the kernel) over the image. At'
            ' each position it multiplies the pixels under the kernel by the weights and '
            'adds the products (plus a bias): one number of the output. Because the same '
            'weights are used everywhere, the layer finds the same pattern wherever it '
            'appears.'),
      visual=('A 3x3 window on the input, the nine products and their sum, which is '
              'exactly the value of the feature map at that position.'))
def show_convolution(ctx, layers, acts) -> None:
    rec = concepts.first_conv(layers)
    if rec is None:
        st.info(f"The {ctx.arch} network has no convolution.")
        return
    name, k = rec["name"], rec["kernel"]
    pad, stride = rec.get("padding", 0), rec.get("stride", 1)
    if rec.get("dilation", 1) != 1:
        st.info(f"{name} is a dilated convolution; this step shows plain ones only.")
        return
    out = acts[name]
    c_total, h, w = out.shape
    weight = cache.conv_weight(ctx.key, name)
    bias = cache.conv_bias(ctx.key, name)
    # Start where channel 0 responds most: on a stroke, not in the empty background.
    y0, x0 = (int(v) for v in np.unravel_index(int(np.argmax(np.abs(out[0]))), (h, w)))
    keep_int("tour.conv.y", 0, h - 1, y0)
    keep_int("tour.conv.x", 0, w - 1, x0)
    keep_choice("tour.conv.c", list(range(c_total)), 0)
    cols = st.columns([1, 2, 2])
    c = cols[0].selectbox("Filter (channel)", list(range(c_total)), key="tour.conv.c",
                          help=f"Which of {name}'s {c_total} filters slides over the image.")
    y = cols[1].slider("Output row", 0, h - 1, key="tour.conv.y")
    x = cols[2].slider("Output column", 0, w - 1, key="tour.conv.x")
    x_norm = npforward.normalise(ctx.image, cache.numpy_net(ctx.key).card)
    demo = concepts.conv_demo(x_norm, weight, bias, c, y, x, pad, stride)
    net = float(out[c, y, x])
    left, right = st.columns([1, 1], vertical_alignment="center")
    with left:
        common.plot(tourfigs.conv_window(x_norm, y, x, k, pad, stride, height=300),
                    key="tour.conv.window")
    with right:
        st.metric(f"By hand: {k * k} products summed" + (" + bias" if bias is not None else ""),
                  f"{demo.total:.4f}")
        st.metric(f"The network: {name} output", f"{net:.4f}",
                  help=f"Channel {c} of {name} at row {y}, column {x}, from the network's own "
                       f"forward pass.")
        agreement(demo.total, net, "number")
    common.plot(tourfigs.conv_arithmetic(demo.patch, demo.kernel, demo.products, height=230),
                key="tour.conv.arith")
    bias_txt = (f" The bias {demo.bias:.4f} is added to the sum." if bias is not None
                else f" {name} has no bias (BatchNorm follows it).")
    st.caption(f"The input as the network sees it (normalised), with the {k}x{k} window of "
               f"output ({y}, {x}) in orange"
               + (f"; the dotted square is the image, outside it {pad} pixel"
                  f"{'s' if pad > 1 else ''} of zero padding." if pad else
                  "; no padding: the window stays inside the image.")
               + f" Below: the patch under the window, {name}'s kernel {c}, and their products."
               + bias_txt)
