"""The guided tour: the seed project's eight concepts and five design rules, in our words.

Each concept names the live visual the app pairs it with; the numeric helpers here (a convolution
step, a 1x1 channel mix, ReLU before/after) are plain functions the app draws and the tests check
against torch. Streamlit-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from viz.network.layers import FIELD_CHANGERS, INPUT_SHAPE, SHAPE_KEEPERS, describe

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
              bias: float = 0.0, stride: int = 1) -> tuple[np.ndarray, np.ndarray, float]:
    """The patch under a kernel for output (y, x), the products, and their sum + bias.

    ``image`` is (H, W), ``kernel`` (k, k); the patch includes zeros from ``padding``. The sum is
    what a cross-correlation (what deep learning calls convolution) outputs at (y, x).
    """
    k = kernel.shape[0]
    if kernel.shape != (k, k):
        raise ValueError(f"kernel must be square, got {kernel.shape}")
    padded = np.pad(image.astype(np.float64), padding)
    out_h = (padded.shape[0] - k) // stride + 1
    out_w = (padded.shape[1] - k) // stride + 1
    if not (0 <= y < out_h and 0 <= x < out_w):
        raise ValueError(f"position ({y}, {x}) is outside the {out_h}x{out_w} output")
    patch = padded[y * stride:y * stride + k, x * stride:x * stride + k]
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


# ---------------------------------------------------------------------------------------------
# Reading a network's layer records (model/zoo.py) for the tour
# ---------------------------------------------------------------------------------------------

INPUT_SIZE = INPUT_SHAPE[-1]


def map_sizes(layers: list[dict]) -> dict[str, int | None]:
    """Side of each layer's output map (None once the map is flattened into a vector).

    The rule checks also read broken networks (a kernel larger than its map): the layers from
    the first impossible one on get None.
    """
    n = len(layers)
    while n > 0:
        try:
            infos = describe(layers[:n])
            break
        except ValueError:
            n -= 1
    else:
        infos = []
    sizes = {info.name: (info.size if len(info.shape) == 3 else None) for info in infos}
    return {rec["name"]: sizes.get(rec["name"]) for rec in layers}


def input_size(layers: list[dict], name: str) -> int | None:
    """Side of the map that layer ``name`` reads (None after a broken layer, see map_sizes)."""
    sizes = map_sizes(layers)
    prev: int | None = INPUT_SIZE
    for rec in layers:
        if rec["name"] == name:
            return prev
        prev = sizes[rec["name"]]
    raise ValueError(f"no layer named {name!r}")


def head(layers: list[dict]) -> dict | None:
    """The layer that outputs the class scores: the last conv or linear layer."""
    return next((r for r in reversed(layers) if r.get("type") in ("conv", "linear")), None)


def first_conv(layers: list[dict]) -> dict | None:
    return next((r for r in layers if r.get("type") == "conv"), None)


def one_by_one(layers: list[dict]) -> dict | None:
    """The first 1x1 conv that works on a map (not the class head after a global pool)."""
    last = head(layers)
    candidates = [r for r in layers if r.get("type") == "conv" and r["kernel"] == 1]
    spatial = [r for r in candidates if r is not last and (input_size(layers, r["name"]) or 0) > 1]
    return (spatial or candidates or [None])[0]


def previous_name(layers: list[dict], name: str) -> str | None:
    """The layer whose output ``name`` reads (None: it reads the input image)."""
    names = [r["name"] for r in layers]
    i = names.index(name)
    return names[i - 1] if i > 0 else None


def relu_pairs(layers: list[dict]) -> list[tuple[str, str]]:
    """(layer feeding a ReLU, the ReLU) for every ReLU that does not read the input."""
    pairs = []
    for i, rec in enumerate(layers):
        if rec.get("type") == "relu" and i > 0:
            pairs.append((layers[i - 1]["name"], rec["name"]))
    return pairs


def stacked_3x3(n: int) -> tuple[int, int, int]:
    """n stacked 3x3 convs (stride 1): (field side, weights per channel pair, weights of one
    kernel with the same field)."""
    side = 2 * n + 1
    return side, 9 * n, side * side


@dataclass(frozen=True)
class GrowthStep:
    """How one layer changes the receptive field: r_out = r_in + (k - 1) * S_in."""

    name: str
    kind: str
    kernel: int
    stride_in: int  # effective stride of the map the layer reads
    r_in: int
    r_out: int
    stride_out: int

    @property
    def added(self) -> int:
        return self.r_out - self.r_in


def growth_steps(layers: list[dict]) -> list[GrowthStep]:
    """The theoretical field, layer by layer, for the layers with a kernel (convs and pools).

    The numbers are the receptive-field engine's (``viz.network.layers.describe``). Stops at the first
    global layer (global pooling, flatten, linear): from there on every unit sees the whole
    input.
    """
    steps: list[GrowthStep] = []
    seen: dict[str, tuple[int, int]] = {"input": (1, 1)}  # the input: one pixel, one apart
    for info in describe(layers):
        if info.is_global:
            break
        # what the layer reads (in a graph, not always the layer before it)
        r, s = seen[info.inputs[0]] if info.inputs else (1, 1)
        if info.type in FIELD_CHANGERS:
            steps.append(GrowthStep(info.name, info.type, int(info.kernel or 1), s, r, info.r,
                                    int(info.stride or 1)))
        seen[info.name] = (info.r, int(info.stride or 1))
    return steps


def history_series(card: dict) -> dict[str, list[float]] | None:
    """{"epoch", "loss", "val_accuracy"} lists from a model card's training record, or None."""
    history = card.get("history") if isinstance(card, dict) else None
    if not isinstance(history, list) or not history:
        return None
    out: dict[str, list[float]] = {"epoch": [], "loss": [], "val_accuracy": []}
    for i, entry in enumerate(history):
        if not isinstance(entry, dict):
            return None
        out["epoch"].append(float(entry.get("epoch", i + 1)))
        for name in ("loss", "val_accuracy"):
            value = entry.get(name)
            out[name].append(float(value) if isinstance(value, (int, float)) else float("nan"))
    return out


# ---------------------------------------------------------------------------------------------
# The five design rules, checked against a network's layer records
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RuleCheck:
    title: str
    text: str  # the rule, in our words (RULES)
    followed: bool
    detail: str  # how this network follows it or not, with its own layer names


def _convs(layers: list[dict]) -> list[dict]:
    return [r for r in layers if r.get("type") == "conv"]


def _pools(layers: list[dict]) -> list[dict]:
    return [r for r in layers if r.get("type") in ("maxpool", "avgpool")]


def _rule_pad(layers: list[dict]) -> tuple[bool, str]:
    names = [r["name"] for r in layers]
    pools = _pools(layers)
    end = names.index(pools[0]["name"]) if pools else len(layers)
    early = [r for r in _convs(layers[:end]) if r["kernel"] > 1]
    if not pools:
        early = early[:2]
    if not early:
        return False, "no conv with a kernel larger than 1 comes before the first pool"
    unpadded = [r for r in early
                if 2 * r.get("padding", 0) != r.get("dilation", 1) * (r["kernel"] - 1)]
    where = "before the pool" if pools else "first"
    if not unpadded:
        return True, (f"the {len(early)} convs {where} ({', '.join(r['name'] for r in early)}) "
                      f"are padded and keep the {INPUT_SIZE}x{INPUT_SIZE} size")
    sizes = map_sizes(layers)
    last = early[-1]["name"]
    return False, (f"{', '.join(r['name'] for r in unpadded)} "
                   f"{'is' if len(unpadded) == 1 else 'are'} not padded to keep the size: the "
                   f"map shrinks from {INPUT_SIZE}x{INPUT_SIZE} to {sizes[last]}x{sizes[last]} "
                   f"by {last}")


def _rule_widen(layers: list[dict]) -> tuple[bool, str]:
    last = head(layers)
    convs = [r for r in _convs(layers)[1:] if r is not last and r["kernel"] > 1]
    jumps = [r for r in convs if r["out"] < r["in"] or r["out"] > 2 * r["in"]]
    chain = [_convs(layers)[0]["out"]] if _convs(layers) else []
    chain += [r["out"] for r in _convs(layers)[1:] if r is not last]
    widths = " → ".join(str(c) for c in chain)
    if not convs:
        return False, "too few convs to widen"
    if not jumps:
        return True, (f"channels {widths}: every conv (but the 1x1 cut) keeps or raises the "
                      f"width, and none more than doubles it")
    return False, (f"channels {widths}: "
                   + ", ".join(f"{r['name']} goes from {r['in']} to {r['out']}" for r in jumps)
                   + " (a drop, or more than double)")


def _rule_cut(layers: list[dict]) -> tuple[bool, str]:
    last = head(layers)
    convs = _convs(layers)
    for i, r in enumerate(convs):
        if r is last or r["kernel"] != 1 or r["out"] >= r["in"]:
            continue
        if i >= 5:
            return True, (f"{r['name']} is a 1x1 conv after {i} convs and cuts the channels "
                          f"from {r['in']} to {r['out']}")
        return False, (f"{r['name']} cuts the channels from {r['in']} to {r['out']} with a 1x1 "
                       f"conv, but after only {i} conv{'s' if i != 1 else ''} (the rule says "
                       f"five or six)")
    return False, "this network has no 1x1 conv that cuts the channels"


def _rule_pool(layers: list[dict]) -> tuple[bool, str]:
    pools = _pools(layers)
    if not pools:
        return False, "this network does not pool"
    names = [r["name"] for r in layers]
    for pool in pools:
        i = names.index(pool["name"]) - 1
        while i >= 0 and layers[i].get("type") in SHAPE_KEEPERS:
            i -= 1
        before = layers[i] if i >= 0 else None
        if before is None or before.get("type") != "conv" or before["kernel"] != 1:
            what = "the input" if before is None else f"{before['name']} ({before.get('type')}" + (
                f" {before['kernel']}x{before['kernel']})" if before.get("type") == "conv" else ")")
            return False, f"{pool['name']} comes after {what}, not after a 1x1 conv"
        if before is head(layers):
            return False, f"{pool['name']} comes right before the output"
    listed = ", ".join(p["name"] for p in pools)
    return True, f"{listed} comes right after the 1x1 cut, with convs before and after it"


def _rule_final(layers: list[dict]) -> tuple[bool, str]:
    last = head(layers)
    if last is None:
        return False, "the network has no conv or linear output layer"
    if last.get("type") == "linear":
        return False, f"the output layer {last['name']} is a dense (linear) layer, not a kernel"
    n = input_size(layers, last["name"])
    k = last["kernel"]
    if n == 1:
        return False, (f"the output layer {last['name']} is a {k}x{k} conv on a 1x1 map: a global "
                       f"pool before it already averaged the map")
    if k == n and k > 3:
        return True, f"the output layer {last['name']} is a {k}x{k} kernel on the {n}x{n} map"
    small = [r for r in _convs(layers) if r["kernel"] == 3 and input_size(layers, r["name"])
             and 2 * r.get("padding", 0) < r["kernel"] - 1
             and (input_size(layers, r["name"]) or 0) <= 14]
    tail = f"; {len(small)} unpadded 3x3 convs before it reach the field instead" if small else ""
    return False, f"the output layer {last['name']} is a {k}x{k} conv on a {n}x{n} map{tail}"


_CHECKS = (_rule_pad, _rule_widen, _rule_cut, _rule_pool, _rule_final)


def check_rules(layers: list[dict]) -> list[RuleCheck]:
    """The five design rules (RULES, in order) checked against a network's layer records."""
    out = []
    for (title, text), check in zip(RULES, _CHECKS, strict=True):
        followed, detail = check(layers)
        out.append(RuleCheck(title, text, followed, detail))
    return out


@dataclass(frozen=True)
class ConvDemo:
    """One output value of a network's first conv, worked out by hand."""

    patch: np.ndarray  # normalised input under the kernel (zero padding included)
    kernel: np.ndarray
    products: np.ndarray
    bias: float
    total: float  # sum of products + bias


def conv_demo(normalised: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, channel: int,
              y: int, x: int, padding: int, stride: int = 1) -> ConvDemo:
    """Output (channel, y, x) of a 1-input-channel conv: ``normalised`` is (H, W) or (1, H, W),
    ``weight`` (C_out, 1, k, k)."""
    img = np.asarray(normalised)
    if img.ndim == 3:
        img = img[0]
    if weight.shape[1] != 1:
        raise ValueError(f"the first conv should read 1 channel, this one reads {weight.shape[1]}")
    kernel = np.asarray(weight[channel, 0], dtype=np.float64)
    b = 0.0 if bias is None else float(bias[channel])
    patch, products, total = conv_step(img, kernel, y, x, padding=padding, bias=b, stride=stride)
    return ConvDemo(patch, kernel, products, b, total)


def rules_table(layers: list[dict]) -> list[dict[str, str]]:
    """What the rule checks read, one row per layer (BatchNorm, ReLU and dropout left out)."""
    sizes = map_sizes(layers)
    rows = []
    for rec in layers:
        kind = rec.get("type")
        if kind in SHAPE_KEEPERS:
            continue
        k = rec.get("kernel")
        what = f"{k}x{k} {'conv' if kind == 'conv' else kind}" if k else kind
        if kind == "conv":
            what += f", pad {rec.get('padding', 0)}"
        size = sizes[rec["name"]]
        rows.append({
            "layer": rec["name"], "kernel": what,
            "channels": f"{rec['in']} → {rec['out']}" if "in" in rec else "",
            "map": f"{size}x{size}" if size else "vector",
        })
    return rows
