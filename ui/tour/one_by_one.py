"""Step 4: the 1x1 convolution, mixing channels at one pixel."""

from __future__ import annotations

import streamlit as st

from ui import cache, common
from ui.tour.helpers import agreement, keep_int
from ui.tour.registry import tour_step
from viz.network import npforward
from viz.pictures import tourfigs
from viz.teaching import concepts


@tour_step('1x1', '1x1 convolution', needs_input=True,
      text=('A 1x1 convolution looks at one pixel position at a time and mixes the '
            'channels there: each output channel is a weighted sum of the input channels '
            'at the same pixel. It changes the number of channels cheaply and does not '
            'grow the receptive field.'),
      visual=('At one pixel: the input channel values, the 1x1 weight matrix, and the '
              'output values.'))
def show_1x1(ctx, layers, acts) -> None:
    rec = concepts.one_by_one(layers)
    if rec is None:
        st.info(f"The {ctx.arch} network has no 1x1 convolution. Pick **seed** in the sidebar "
                f"to see one mixing channels.")
        return
    name = rec["name"]
    if rec.get("stride", 1) != 1 or rec.get("padding", 0) != 0:
        st.info(f"{name} is a 1x1 conv with stride or padding; this step shows plain ones only.")
        return
    prev = concepts.previous_name(layers, name)
    inp = acts[prev] if prev else npforward.normalise(ctx.image, cache.numpy_net(ctx.key).card)
    out = acts[name]
    h, w = out.shape[1:]
    keep_int("tour.mix.y", 0, h - 1, h // 2)
    keep_int("tour.mix.x", 0, w - 1, w // 2)
    if h > 1:
        cols = st.columns(2)
        y = cols[0].slider("Pixel row", 0, h - 1, key="tour.mix.y")
        x = cols[1].slider("Pixel column", 0, w - 1, key="tour.mix.x")
    else:
        y = x = 0
    weight = cache.conv_weight(ctx.key, name)
    bias = cache.conv_bias(ctx.key, name)
    vec, mixed = concepts.channel_mix(inp, weight, bias, y, x)
    common.plot(tourfigs.channel_mix(vec, weight, mixed, height=460), key="tour.mix.fig")
    st.caption(f"At pixel ({y}, {x}): each of {name}'s {rec['out']} outputs (bottom) is its "
               f"weight column multiplied by the {rec['in']} values of {prev or 'the input'} "
               f"(left) and summed"
               + (" plus a bias" if bias is not None else "")
               + f". {rec['in']} channels become {rec['out']}; nothing from neighbouring pixels "
               f"is used.")
    agreement(mixed, out[:, y, x], f"{rec['out']} values as {name}")
    if concepts.head(layers) is rec:
        st.caption("Here the 1x1 conv is the output layer, after a global pool.")
