"""The browser's backward pass (ui/components/js/backward.js) against torch, layer type by option.

Every network of the browser's forward test (one row per layer type, every option: conv padding,
stride, dilation, groups; pooling padding, stride, ceil_mode, count_include_pad; BatchNorm with
random statistics; every activation; global pooling; flatten; linear; the joins) runs on a real
digit and on random pixels, for the predicted class and another: the gradient of the class
score with respect to the input pixels, from ``attributeNet(net, "saliency", ...)`` (forward.js
keeping what backward.js needs, in Chromium), must match torch's autograd within 1e-4 of its
largest value. Guided Backprop and DeepLift, whose rules differ by layer type (the entries'
``guided`` and ``deeplift``), are checked against the server's (Captum's) maps on the digit.
Every entry's backward op must be in backward.js's BACKWARD_OPS.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.app.browser.test_forward_browser import CASES, _images, _model

pytestmark = [pytest.mark.browser]

TOL = 1e-4  # of the largest |value| of the map

def _torch_gradient(model, image: np.ndarray, target: int) -> np.ndarray:
    import torch

    from model.insight.activations import as_input
    x = as_input(image).requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x)[0, target], x)
    return grad[0, 0].numpy().astype(np.float64)


def _off(got: list[float], want: np.ndarray) -> float:
    scale = float(np.abs(want).max())
    return float(np.abs(np.asarray(got).reshape(want.shape) - want).max()) / max(scale, 1e-12)


@pytest.mark.parametrize("case", list(CASES))
def test_gradients_agree_with_autograd(attribute_page, case: str) -> None:
    import torch

    from model import saliency
    from model.files.export import numpy_net
    from model.insight.activations import as_input
    from viz.browser import lens as vlens

    layers = CASES[case]
    model = _model(layers, seed=len(case))
    payload = vlens.payload(numpy_net(model, {"arch": case}))
    assert payload["supported"], payload["reason"]
    images = _images()
    with torch.no_grad():
        preds = [int(model(as_input(im))[0].argmax()) for im in images]
    other = [(p + 3) % 10 for p in preds]
    jobs = [["saliency", None], ["saliency", "other"], ["guided", None], ["deeplift", None]]
    per_image = [[[m, o if t == "other" else t] for m, t in jobs] for o in other]
    got = [attribute_page.evaluate("([p, ims, jobs]) => window.attributeMaps(p, ims, jobs)",
                         [payload, [im.reshape(-1).tolist()], js])[0]
           for im, js in zip(images, per_image)]
    for which, image, pred, oth, maps in zip(("digit", "noise"), images, preds, other, got):
        for target, js in ((pred, maps[0]), (oth, maps[1])):
            want = _torch_gradient(model, image, target)
            assert np.abs(want).max() > 0 or which == "noise", f"{case}: a zero gradient"
            err = _off(js, want)
            assert err <= TOL, f"{case} ({which}, class {target}): gradient off by {err:.2e}"
        if which == "digit":
            x = as_input(image)
            for method, js in (("guided", maps[2]), ("deeplift", maps[3])):
                want = saliency.attribute(method, model, x, pred).astype(np.float64)
                err = _off(js, want)
                assert err <= TOL, f"{case}: {method} off the server's by {err:.2e}"


def test_every_entry_has_its_backward_op(attribute_page) -> None:
    from viz.network.layertypes import LAYER_TYPE_LIST
    ops = set(attribute_page.evaluate("() => window.backwardTypes"))
    missing = {t.name: t.browser_backward for t in LAYER_TYPE_LIST if t.browser_backward not in ops}
    assert not missing, f"entries whose backward op backward.js lacks: {missing}"
    assert ops == {t.browser_backward for t in LAYER_TYPE_LIST}, "backward ops of no entry"


@pytest.mark.parametrize("seed", [0, 1, 7, 2**31 + 5, 2**32 - 1])
def test_smoothgrad_noise_is_the_same_in_python_and_javascript(attribute_page, seed: int) -> None:
    from viz.inputs.noise import normals
    count = 16 * 784 + 1  # SmoothGrad's draw for one digit, and an odd one over
    js = np.asarray(attribute_page.evaluate("([s, n]) => window.normalsOf(s, n)", [seed, count]))
    py = normals(seed, count)
    assert js.shape == py.shape and np.array_equal(js, py), (
        f"seed {seed}: {int((js != py).sum())} numbers differ")


def test_occlusion_runs_in_a_web_worker_made_of_the_same_files(attribute_page) -> None:
    """attributionWorker (attribute.js) runs the map off the main thread: the same numbers."""
    from model.files.export import numpy_net
    from ui.components import worker_source
    from viz.browser import lens as vlens
    case = "linear-stack"
    payload = vlens.payload(numpy_net(_model(CASES[case], seed=len(case)), {"arch": case}))
    pixels = _images()[0].reshape(-1).tolist()
    got = attribute_page.evaluate("""async ([src, p, px]) => {
        const w = attributionWorker(src);
        const inWorker = Array.from(await w.run(p, "occlusion", px, {}));
        const again = Array.from(await w.run(p, "saliency", px, { target: 2 }));
        let refused = null;
        try { await w.run(p, "nothing", px, {}); } catch (e) { refused = e.message; }
        w.close();
        const net = decodeNet(p);
        return { inWorker, again, refused, direct: Array.from(attributeNet(net, "occlusion", px, {})),
                 grad: Array.from(attributeNet(net, "saliency", px, { target: 2 })) };
    }""", [worker_source(), payload, pixels])
    assert np.abs(np.asarray(got["direct"])).max() > 0
    assert got["inWorker"] == got["direct"] and got["again"] == got["grad"]
    assert "unknown method nothing" in got["refused"]


def test_a_pool_splits_the_slow_methods_into_shares_that_add_up_to_the_map(attribute_page) -> None:
    """attributionPool: Integrated Gradients' steps, SmoothGrad's samples and Occlusion's windows
    computed in three workers at once add up to the one-thread map; other methods go whole."""
    from model.files.export import numpy_net
    from ui.components import worker_source
    from viz.browser import lens as vlens
    case = "linear-stack"
    payload = vlens.payload(numpy_net(_model(CASES[case], seed=len(case)), {"arch": case}))
    pixels = _images()[1].reshape(-1).tolist()
    got = attribute_page.evaluate("""async ([src, p, px]) => {
        const pool = attributionPool(src, 3), net = decodeNet(p), out = { size: pool.size };
        for (const m of ["ig", "smoothgrad", "occlusion", "saliency"]) {
          out[m] = [Array.from(await pool.run(p, m, px, { seed: 3 })),
                    Array.from(attributeNet(net, m, px, { seed: 3 }))];
        }
        const part = Array.from(attributeNet(net, "ig", px, { share: [1, 3] }));
        out.partDiffers = part.some((v, i) => v !== out.ig[1][i]);
        out.refused = [];
        for (const share of [[3, 3], [0, 0], [0.5, 2], 2]) {
          try { attributeNet(net, "ig", px, { share }); } catch (e) { out.refused.push(e.message); }
        }
        pool.close();
        return out;
    }""", [worker_source(), payload, pixels])
    assert got["size"] == 3
    for method in ("ig", "smoothgrad", "occlusion", "saliency"):
        pooled, whole = np.asarray(got[method][0]), np.asarray(got[method][1])
        scale = np.abs(whole).max()
        assert scale > 0, method
        assert np.abs(pooled - whole).max() <= 1e-6 * scale, method
    assert got["partDiffers"]  # one share alone is not the map
    assert len(got["refused"]) == 4 and all("share must be [i, n]" in m for m in got["refused"])
