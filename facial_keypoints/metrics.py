"""Keypoint error measures. Inputs are normalised keypoints ``(N, 30)``; NaN in ``y_true`` means
"missing" and is left out of every figure.

* RMSE in pixels: Kaggle's score, ``sqrt(mean((48 * (pred - true))^2))`` over present values.
* Per-keypoint RMSE in pixels, over the x and y of each keypoint.
* NME: per face, the mean distance between predicted and true keypoints divided by the distance
  between the two eye centres, averaged over faces. Scale-free, so comparable across photo sizes.
* Mean offset in pixels: the mean signed error in x and in y. Near zero for an unbiased model; a
  model trained on labels that disagree (e.g. left/right definitions that are not mirror images,
  with mirrored training faces) lands between them and shows it here.
* "argmax accuracy": the share of rows where ``argmax(y_true) == argmax(y_pred)``, which is what
  Keras' ``'acc'`` computed for the original project. It says little about keypoints and is kept
  only to line up with the original's table.
"""

import numpy as np

from .keypoints import HALF, KEYPOINT_NAMES, LEFT_EYE, RIGHT_EYE, as_points


def rmse_px(y_true, y_pred):
    """Root mean squared error in crop pixels over all present coordinates."""
    diff = _diff(y_true, y_pred)
    return float(np.sqrt(np.nanmean(diff**2)) * HALF)


def per_keypoint_rmse_px(y_true, y_pred):
    """``{keypoint name: RMSE in crop pixels}`` over the x and y of each keypoint."""
    diff = as_points(_diff(y_true, y_pred))
    with np.errstate(invalid="ignore"):
        values = np.sqrt(np.nanmean(diff.reshape(-1, len(KEYPOINT_NAMES), 2) ** 2, axis=(0, 2)))
    return {name: float(v * HALF) for name, v in zip(KEYPOINT_NAMES, values)}


def mean_offset_px(y_true, y_pred):
    """``(x, y)``: the mean signed error (prediction - truth) in crop pixels over present values."""
    diff = as_points(_diff(y_true, y_pred)).reshape(-1, 2)
    return tuple(float(v * HALF) for v in np.nanmean(diff, axis=0))


def nme(y_true, y_pred):
    """Mean keypoint distance over eye-centre distance, averaged over faces with both eyes."""
    true, pred = as_points(np.asarray(y_true, np.float64)), as_points(np.asarray(y_pred, np.float64))
    return float(np.nanmean(nme_per_face(true, pred)))


def nme_per_face(true_points, pred_points):
    """``(N,)`` NME of each face from ``(N, 15, 2)`` points in any one unit; NaN if eyes missing."""
    true_points, pred_points = np.asarray(true_points), np.asarray(pred_points)
    eye_distance = np.linalg.norm(true_points[:, LEFT_EYE] - true_points[:, RIGHT_EYE], axis=1)
    distances = np.linalg.norm(pred_points - true_points, axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nanmean(distances, axis=1) / eye_distance


def argmax_accuracy(y_true, y_pred):
    """The original's Keras "accuracy": share of complete rows with the same argmax index."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    complete = ~np.isnan(y_true).any(axis=1)
    return float(np.mean(np.argmax(y_true[complete], 1) == np.argmax(y_pred[complete], 1)))


def report(y_true, y_pred):
    """All figures as one JSON-ready dict."""
    return {
        "n": int(len(y_true)),
        "rmse_px": rmse_px(y_true, y_pred),
        "per_keypoint_rmse_px": per_keypoint_rmse_px(y_true, y_pred),
        "nme": nme(y_true, y_pred),
        "mean_offset_px": mean_offset_px(y_true, y_pred),
        "argmax_acc": argmax_accuracy(y_true, y_pred),
    }


def _diff(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"keypoint arrays differ in shape: {y_true.shape} vs {y_pred.shape}")
    return y_pred - y_true
