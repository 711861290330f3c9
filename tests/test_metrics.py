"""Metrics on hand-made cases where the answer is known from the definition."""

import numpy as np

from facial_keypoints import metrics


def _truth(n=3):
    rng = np.random.default_rng(0)
    return rng.uniform(-0.5, 0.5, (n, 30)).astype(np.float64)


def test_rmse_in_pixels_and_nan_is_skipped():
    truth = _truth()
    pred = truth + 1 / 48  # one pixel off on every coordinate
    assert np.isclose(metrics.rmse_px(truth, pred), 1.0)
    truth[0, :4] = np.nan
    pred[1, :] = truth[1, :]  # row 1 perfect: 30 of 86 present values have zero error
    assert np.isclose(metrics.rmse_px(truth, pred), np.sqrt(56 / 86))


def test_per_keypoint_rmse_names_every_keypoint():
    truth = _truth()
    pred = truth.copy()
    pred[:, 20] += 3 / 48  # nose_tip_x off by 3 px, nose_tip_y exact
    errors = metrics.per_keypoint_rmse_px(truth, pred)
    assert len(errors) == 15
    assert np.isclose(errors["nose_tip"], np.sqrt(9 / 2))
    assert errors["left_eye_center"] == 0


def test_nme_divides_by_eye_distance():
    truth = np.zeros((1, 30))
    truth[0, 0], truth[0, 2] = 0.25, -0.25  # eye centres 0.5 apart
    pred = truth.copy()
    pred[0, 1::2] += 0.05  # every point 0.05 lower
    assert np.isclose(metrics.nme(truth, pred), 0.1)


def test_argmax_accuracy_is_keras_categorical_accuracy():
    truth = np.zeros((2, 30)); truth[0, 3] = 1; truth[1, 7] = 1
    pred = np.zeros((2, 30)); pred[0, 3] = 0.5; pred[1, 8] = 0.5
    assert metrics.argmax_accuracy(truth, pred) == 0.5


def test_mean_offset_is_the_signed_error_per_axis_over_present_values():
    truth = _truth()
    pred = truth.copy()
    pred[:, 0::2] -= 1 / 48  # every x one pixel to the left
    pred[0, 1::2] += 3 / 48  # the first face's y three pixels lower
    truth[1, 1::2] = np.nan  # the second face's y missing: left out
    x, y = metrics.mean_offset_px(truth, pred)
    assert np.isclose(x, -1.0) and np.isclose(y, 3 * 15 / 30)
    # a spread with no bias averages out, unlike the RMSE
    pred = truth + np.array([[2.0], [0.0], [-2.0]]) / 48  # one face 2 px off, one -2 px
    assert np.allclose(metrics.mean_offset_px(truth, pred), 0, atol=1e-9)
