"""The tour's figures carry the numbers they claim to show."""

import numpy as np

from viz.pictures import tourfigs
from viz.pictures.style import ORANGE


def test_conv_window_outlines_the_kernel_in_padding_coordinates():
    fig = tourfigs.conv_window(np.zeros((1, 28, 28)), 0, 5, 3, padding=1)
    assert fig.data[0].z.shape == (30, 30)
    window = fig.layout.shapes[-1]
    assert (window.x0, window.x1, window.y0, window.y1) == (3.5, 6.5, -1.5, 1.5)


def test_conv_arithmetic_and_channel_mix_hold_the_values():
    patch, kernel = np.arange(9.0).reshape(3, 3), np.ones((3, 3))
    fig = tourfigs.conv_arithmetic(patch, kernel, patch * kernel)
    assert [np.asarray(t.z).tolist() for t in fig.data] == [
        patch.tolist(), kernel.tolist(), patch.tolist()]
    w = np.arange(8.0 * 16).reshape(8, 16, 1, 1)
    fig = tourfigs.channel_mix(np.arange(16.0), w, np.arange(8.0))
    assert np.asarray(fig.data[0].z).tolist() == [[float(i)] for i in range(16)]  # in: a column
    assert np.asarray(fig.data[1].z).tolist() == w[:, :, 0, 0].T.tolist()  # row = input channel
    assert np.asarray(fig.data[2].z).tolist() == [list(np.arange(8.0))]  # out: under its column


def test_history_and_relu_pair():
    fig = tourfigs.history({"epoch": [1, 2], "loss": [0.9, 0.3], "val_accuracy": [0.9, 0.95]})
    assert list(fig.data[0].y) == [0.9, 0.3] and list(fig.data[1].y) == [0.9, 0.95]
    pre = np.array([[-1.0, 2.0], [0.5, -3.0]])
    fig = tourfigs.relu_pair(pre, np.maximum(pre, 0), "bn1", "relu1")
    assert fig.data[1].zmin == 0 and float(np.asarray(fig.data[1].z).min()) == 0


def test_join_fields_draws_the_join_under_its_branches_with_their_sizes() -> None:
    image = np.zeros((28, 28), np.uint8)
    boxes = [("b (branch)", (8, 20, 8, 20), False), ("s (branch)", (11, 17, 11, 17), False),
             ("j (join)", (8, 20, 8, 20), True)]
    fig = tourfigs.join_fields(image, boxes)
    rects = [s for s in fig.layout.shapes if s.type == "rect"][1:]  # after the image's border
    assert [(r.x0, r.x1, r.y0, r.y1) for r in rects] == [
        (7.5, 20.5, 7.5, 20.5), (7.5, 20.5, 7.5, 20.5), (10.5, 17.5, 10.5, 17.5)]
    assert rects[0].line.color == ORANGE and rects[0].line.width == 5
    assert rects[1].line.dash == "dash" and rects[2].line.dash == "dot"
    assert [t.name for t in fig.data[1:]] == ["j (join): 13x13", "b (branch): 13x13",
                                              "s (branch): 7x7"]
    # a field running past the image widens the picture into the (grey) padding
    wide = tourfigs.join_fields(image, [("j", (-3, 9, -3, 9), True)])
    assert wide.data[0].x[0] == -3 and np.isnan(wide.data[0].z[0][0])
