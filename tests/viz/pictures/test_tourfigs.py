"""The tour's figures carry the numbers they claim to show."""

import numpy as np

from viz.pictures import tourfigs


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
