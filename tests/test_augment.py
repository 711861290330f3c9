"""Augmentation moves keypoints exactly as it moves the pixels, and swaps left/right on a flip."""

import numpy as np

from conftest import synthetic_faces
from facial_keypoints.augment import affine_matrix, augment_batch, flip_horizontal, warp
from facial_keypoints.keypoints import KEYPOINT_INDEX, as_points, flip_points, to_normalised


def _faces(n=4, seed=0):
    images, keypoints = synthetic_faces(n, seed)
    return (images[..., None] / 255.0).astype(np.float32), to_normalised(keypoints)


def _brightness_at(image, points_px):
    """Mean brightness of the 3x3 patch around each point (crop pixels, rounded)."""
    image = image.reshape(96, 96)
    values = []
    for x, y in np.round(points_px).astype(int):
        if 1 <= x < 95 and 1 <= y < 95:
            values.append(image[y - 1:y + 2, x - 1:x + 2].mean())
    return np.array(values)


def test_flip_twice_is_identity():
    images, keypoints = _faces()
    once = flip_horizontal(images, keypoints)
    twice = flip_horizontal(*once)
    np.testing.assert_array_equal(twice[0], images)
    np.testing.assert_allclose(twice[1], keypoints, atol=1e-6)
    assert not np.allclose(once[1], keypoints)


def test_flip_swaps_left_and_right_and_keypoints_follow_pixels():
    images, keypoints = _faces()
    flipped_images, flipped = flip_horizontal(images, keypoints)
    points = as_points(flipped) * 48 + 48
    left, right = KEYPOINT_INDEX["left_eye_center"], KEYPOINT_INDEX["right_eye_center"]
    # The subject's left eye stays on the image's right after a flip, with the new labels.
    assert (points[:, left, 0] > points[:, right, 0]).all()
    for image, p in zip(flipped_images, points):
        assert _brightness_at(image, p).min() > 0.9  # every keypoint sits on its bright dot


def test_flip_points_helper_is_its_own_inverse():
    points = np.random.default_rng(1).uniform(0, 95, (3, 15, 2))
    np.testing.assert_allclose(flip_points(flip_points(points)), points, atol=1e-4)


def test_rotation_scale_shift_move_keypoints_with_pixels():
    images, keypoints = _faces()
    points = as_points(keypoints) * 48 + 48
    matrix = affine_matrix(rotation_deg=12, scale=1.08, shift_xy=(3, -2))
    for image, p in zip(images, points):
        warped, moved = warp(image, p, matrix)
        assert _brightness_at(warped, moved).min() > 0.5
        # ...and the dots really moved: the old positions are mostly dark now.
        assert _brightness_at(warped, p).mean() < 0.6


def test_random_batch_keeps_labels_on_the_dots_and_nan_stays_nan():
    images, keypoints = _faces(16, seed=2)
    keypoints[3, 4:6] = np.nan
    rng = np.random.default_rng(0)
    out_images, out_keypoints = augment_batch(images, keypoints, rng)
    assert out_images.shape == images.shape and out_images.dtype == np.float32
    assert np.isnan(out_keypoints).sum() == 2
    assert 0 <= out_images.min() and out_images.max() <= 1
    for image, p in zip(out_images, as_points(out_keypoints) * 48 + 48):
        present = ~np.isnan(p).any(axis=1)
        patch = _brightness_at(image, p[present])
        assert np.median(patch) > np.median(image) + 0.2


def test_alignment_turns_each_face_upright_onto_the_average_face():
    from facial_keypoints.augment import align_batch, alignments
    from facial_keypoints.crops import MEAN_KEYPOINTS, apply
    from facial_keypoints.keypoints import as_flat, to_pixels

    # Two faces: the average face turned by 25 degrees and shrunk, and one with only the eye
    # centres and nose tip known (the rest NaN, as in most of Kaggle's rows).
    turn = affine_matrix(rotation_deg=25, scale=0.85, shift_xy=(4, -3))
    turned = apply(turn, MEAN_KEYPOINTS)
    sparse = turned.copy()
    sparse[[2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14]] = np.nan
    keypoints = as_flat(to_normalised(np.stack([turned, sparse])))
    images = np.random.default_rng(0).random((2, 96, 96, 1)).astype(np.float32)
    _, aligned = align_batch(images, keypoints, alignments(keypoints))
    points = to_pixels(as_points(aligned))
    np.testing.assert_allclose(points[0], MEAN_KEYPOINTS, atol=1e-3)
    present = np.isfinite(points[1]).all(axis=1)
    np.testing.assert_allclose(points[1][present], MEAN_KEYPOINTS[present], atol=1e-3)
    assert present.sum() == 3  # missing keypoints stay missing


def test_occlusion_covers_one_grey_rectangle_and_blur_smooths_neither_moves_the_keypoints():
    from dataclasses import replace

    from facial_keypoints.augment import Augmentation

    images = np.random.default_rng(3).random((6, 96, 96, 1)).astype(np.float32)
    keypoints = _faces(6)[1]
    still = Augmentation(flip=0, rotation=0, scale=0, shift=0, brightness=0, contrast=0)
    plain, plain_points = augment_batch(images, keypoints, np.random.default_rng(0), still)
    np.testing.assert_allclose(plain, images, atol=1e-6)
    covered, covered_points = augment_batch(images, keypoints, np.random.default_rng(0),
                                            replace(still, occlusion=1.0))
    blurred, blurred_points = augment_batch(images, keypoints, np.random.default_rng(0),
                                            replace(still, blur=1.0))
    for points in (covered_points, blurred_points):
        np.testing.assert_array_equal(points, plain_points)
    for before, after in zip(plain[..., 0], covered[..., 0]):
        rows, cols = np.nonzero(before != after)
        box = after[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        assert len(np.unique(box)) == 1  # one grey level fills the whole rectangle
        assert all(14 <= side <= 39 for side in box.shape)
        assert (before != after).sum() == box.size  # and nothing outside it changed
    # Neighbouring pixels of noise differ less once blurred.
    assert np.abs(np.diff(blurred, axis=2)).mean() < 0.5 * np.abs(np.diff(plain, axis=2)).mean()
