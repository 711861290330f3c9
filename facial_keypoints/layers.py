"""The project's own Keras layer: the soft-argmax that turns heatmaps into keypoints.

:mod:`.architectures` imports it, which registers it with Keras, so saved models that use it
load.
"""

import keras
import numpy as np
from keras import ops

from .keypoints import IMAGE_SIZE


def soft_argmax_grid(height, width):
    """``(height * width, 2)`` normalised (x, y) centres of the cells of a heatmap that covers
    the 96x96 crop, row-major: cell (i, j) spans crop pixels ``[j*s, (j+1)*s)`` with ``s = 96/W``.
    The soft-argmax's keypoints are these centres, weighted by the heatmap's softmax."""
    def centres(cells):
        step = IMAGE_SIZE / cells
        return ((np.arange(cells) + 0.5) * step - 0.5 - IMAGE_SIZE / 2) / (IMAGE_SIZE / 2)

    xs, ys = np.meshgrid(centres(width), centres(height))
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype("float32")


@keras.saving.register_keras_serializable(package="facial_keypoints")
class SoftArgmax(keras.layers.Layer):
    """Heatmaps ``(N, H, W, K)`` -> ``(N, 2K)`` normalised keypoints ``x0, y0, x1, ...``.

    Each of the K maps goes through a softmax over its H*W cells, and the keypoint is the
    probability-weighted mean of the cell centres (normalised crop coordinates, see
    :func:`soft_argmax_grid`). Unlike a dense head this keeps the network
    translation-equivariant: a face that moves by a pixel moves every heatmap by a pixel, which
    is what lets it learn from a few thousand faces.
    """

    def call(self, heatmaps):
        # The grid is a constant made here, from the static heatmap size, and not a tensor kept
        # on the layer: exported to ONNX, a kept tensor becomes a second graph input.
        grid = ops.convert_to_tensor(soft_argmax_grid(heatmaps.shape[1], heatmaps.shape[2]))
        shape = ops.shape(heatmaps)
        logits = ops.transpose(ops.reshape(heatmaps, (shape[0], -1, shape[3])), (0, 2, 1))
        points = ops.matmul(ops.softmax(logits, axis=-1), grid)  # (N, K, 2)
        return ops.reshape(points, (shape[0], -1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * input_shape[3])
