"""Matplotlib figures for notebooks: faces with keypoints, loss curves, per-keypoint error."""

import matplotlib.pyplot as plt
import numpy as np

from .keypoints import IMAGE_SIZE, KEYPOINT_NAMES, as_points, to_pixels


def plot_data(img, keypoints, ax=None, color="c", truth=None):
    """Draw one face and its keypoints (the original project's ``plot_data``).

    ``img``: ``(96, 96)`` or ``(96, 96, 1)`` grey in [0, 1]. ``keypoints``: ``(30,)`` or
    ``(15, 2)`` normalised coordinates; NaN points are skipped. ``truth``: optional true keypoints,
    drawn as red crosses beside the prediction.
    """
    ax = ax if ax is not None else plt.gca()
    ax.imshow(np.asarray(img).reshape(IMAGE_SIZE, IMAGE_SIZE), cmap="gray", vmin=0, vmax=1)
    points = to_pixels(as_points(np.asarray(keypoints).reshape(-1)))
    ax.scatter(points[:, 0], points[:, 1], marker="o", c=color, s=12)
    if truth is not None:
        true_points = to_pixels(as_points(np.asarray(truth).reshape(-1)))
        ax.scatter(true_points[:, 0], true_points[:, 1], marker="x", c="r", s=12)
    ax.set_axis_off()
    return ax


def plot_grid(images, keypoints, truth=None, columns=6, size=2.0, titles=None):
    """A grid of faces with their keypoints; returns the figure."""
    rows = int(np.ceil(len(images) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * size), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(images):
            ax.set_axis_off()
            continue
        plot_data(images[i], keypoints[i], ax, truth=None if truth is None else truth[i])
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def plot_history(history, ax=None, pixels=True):
    """Training and validation loss per epoch from ``train()``'s history (list of dicts).

    With ``pixels`` the y axis shows the progress-bar RMSE in crop pixels instead of the loss
    (``batch_rmse_px``; histories written before that name was chosen call it ``rmse_px``).
    """
    ax = ax if ax is not None else plt.gca()
    pixel_keys = [k for k in ("batch_rmse_px", "rmse_px") if k in history[0]]
    key = pixel_keys[0] if pixels and pixel_keys else "loss"
    epochs = [row["epoch"] for row in history]
    ax.plot(epochs, [row[key] for row in history], label=f"train {key}")
    ax.plot(epochs, [row[f"val_{key}"] for row in history], label=f"validation {key}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss" if key == "loss" else "RMSE (pixels of the 96x96 crop)")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def plot_per_keypoint(errors, ax=None, label=None):
    """Horizontal bars of per-keypoint RMSE in pixels (``{name: px}``, as from metrics)."""
    ax = ax if ax is not None else plt.gca()
    names = list(KEYPOINT_NAMES)
    ax.barh(names, [errors[n] for n in names], label=label)
    ax.invert_yaxis()
    ax.set_xlabel("RMSE (pixels of the 96x96 crop)")
    return ax
