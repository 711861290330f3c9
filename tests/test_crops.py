"""Crop transforms: the training recipe kept exactly, aligned crops at any angle, and the maths
between photo and crop pixels."""

import os

import cv2
import numpy as np
import pytest

from facial_keypoints import crops


def hopper_grey():
    import matplotlib

    photo = cv2.imread(os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg"))
    return cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)


def reference_crop(gray, box):
    """The training-data recipe, written independently: pad the whole photo with replicated
    edges, cut the square, resize with INTER_AREA, /255."""
    x, y, w, h = box
    pad = 2 * max(gray.shape) + w
    padded = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    patch = padded[y + pad:y + pad + h, x + pad:x + pad + w]
    return cv2.resize(patch, (96, 96), interpolation=cv2.INTER_AREA).astype(np.float32) / 255


@pytest.mark.parametrize("box", [(155, 105, 222, 222), (-40, -30, 150, 150), (400, 500, 200, 200),
                                 (-300, 100, 100, 100), (-50, -50, 700, 700), (10, 10, 48, 48)])
def test_an_upright_box_is_cut_exactly_like_the_training_crops(box):
    gray = hopper_grey()
    crop = crops.crop_face(gray, crops.from_box(box))
    assert crop.shape == (96, 96) and crop.dtype == np.float32
    np.testing.assert_array_equal(crop, reference_crop(gray, box))


def test_crop_pixels_of_a_box_map_to_photo_pixels_exactly():
    # In a 192-pixel box at x=10, crop pixel 0 covers photo pixels 10 and 11 (centre 10.5), crop
    # pixel 95 covers 200 and 201 (centre 200.5).
    transform = crops.from_box((10, 20, 192, 192))
    np.testing.assert_allclose(crops.to_photo([[0, 0], [95, 95], [47.5, 47.5]], transform),
                               [[10.5, 20.5], [200.5, 210.5], [105.5, 115.5]], atol=1e-9)


@pytest.mark.parametrize("angle", [0, 17, 90, -135, 180])
def test_photo_to_crop_to_photo_round_trip_is_exact(angle):
    rng = np.random.default_rng(0)
    points = rng.uniform(-50, 900, (60, 2))
    landmarks = crops.apply(cv2.getRotationMatrix2D((300, 200), angle, 2.7),
                            crops.LANDMARK_TEMPLATE) + [40, -15]
    for transform in (crops.from_landmarks(landmarks), crops.from_box((30, 40, 250, 250), angle),
                      crops.from_keypoints(crops.to_photo(crops.MEAN_KEYPOINTS,
                                                          crops.from_landmarks(landmarks)))):
        back = crops.to_photo(crops.to_crop(points, transform), transform)
        assert np.abs(back - points).max() < 0.05
        back = crops.normalised_to_photo(crops.photo_to_normalised(points, transform), transform)
        assert np.abs(back - points).max() < 0.05


def test_similarity_recovers_rotation_scale_and_shift():
    source = np.random.default_rng(1).uniform(0, 100, (15, 2))
    truth = cv2.getRotationMatrix2D((10, 20), 33, 0.4)
    truth[:, 2] += (5, -7)
    fitted = crops.similarity(source, crops.apply(truth, source))
    np.testing.assert_allclose(fitted, truth, atol=1e-9)
    # NaN rows (missing keypoints) are left out of the fit.
    with_missing = source.copy()
    with_missing[3] = np.nan
    np.testing.assert_allclose(crops.similarity(with_missing, crops.apply(truth, source)), truth,
                               atol=1e-9)


def test_an_aligned_crop_turns_the_face_upright():
    # Landmarks of a face turned 40 degrees clockwise on screen: the crop turns it back.
    turn = cv2.getRotationMatrix2D((48, 48), -40, 3.0)  # negative: clockwise on screen
    transform = crops.from_landmarks(crops.apply(turn, crops.LANDMARK_TEMPLATE))
    assert crops.angle_of(transform) == pytest.approx(40)
    assert crops.scale_of(transform) == pytest.approx(1 / 3)
    np.testing.assert_allclose(crops.to_crop(crops.apply(turn, crops.LANDMARK_TEMPLATE), transform),
                               crops.LANDMARK_TEMPLATE, atol=1e-4)


@pytest.mark.parametrize("blocks", [False, True])
@pytest.mark.parametrize("angle, scale", [(0, 0.7), (30, 0.7), (-75, 0.1), (180, 0.25),
                                          (10, 0.45), (0, 0.17)])
def test_a_bright_spot_lands_where_it_is_in_the_photo(angle, scale, blocks):
    # A 6x6 bright spot at photo (200.5, 260.5); the crop (turned, shrunk, partly outside the
    # photo) sees it somewhere; mapping the crop's brightness centroid back finds the spot.
    gray = np.zeros((400, 300), np.uint8)
    gray[258:264, 198:204] = 255
    centre = cv2.getRotationMatrix2D((47.5, 47.5), angle, 1.0)
    transform = crops.compose(centre, np.array([[scale, 0, 47.5 - scale * 215],
                                                [0, scale, 47.5 - scale * 250]]))
    crop = crops.warp(gray, transform, (96, 96), blocks=blocks).astype(np.float64)
    ys, xs = np.mgrid[0:96, 0:96]
    centroid = [(crop * xs).sum() / crop.sum(), (crop * ys).sum() / crop.sum()]
    error = np.hypot(*(crops.to_photo(centroid, transform) - [200.5, 260.5]))
    # a sixth of a crop pixel; shrunk by whole k x k blocks, up to half a block more
    block = max(2, round(2 / (3 * scale))) if blocks and scale < 0.5 else 0
    assert error < 0.15 / scale + block / 2
    if not blocks:  # the keypoint model's crops are these
        np.testing.assert_allclose(crops.crop_face(gray, transform) * 255, crop, atol=1)


def test_cut_repeats_the_edge_pixels_outside_the_photo():
    image = np.random.default_rng(0).integers(0, 255, (50, 60)).astype(np.uint8)
    for x, y, w, h in [(-10, -5, 30, 30), (40, 40, 40, 40), (-100, -100, 20, 20), (100, 10, 20, 20),
                       (0, 0, 60, 50), (-5, 60, 10, 10)]:
        rows, cols = np.clip(np.arange(y, y + h), 0, 49), np.clip(np.arange(x, x + w), 0, 59)
        np.testing.assert_array_equal(crops.cut(image, x, y, x + w, y + h),
                                      image[np.ix_(rows, cols)])


def test_face_box_is_the_square_the_crop_covers():
    box = crops.face_box(crops.from_box((10, 20, 192, 192)))
    np.testing.assert_allclose(box, (10, 20, 192, 192), atol=1e-9)
