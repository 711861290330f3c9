"""Face detection, crops exactly like the training data, and keypoints mapped back to the photo."""

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from facial_keypoints import faces
from facial_keypoints.keypoints import LEFT_EYE, RIGHT_EYE, to_normalised

ROOT = Path(__file__).resolve().parent.parent
TRAINED_MODEL = ROOT / "models" / "keypoints.keras"
# Grace Hopper's pupils in matplotlib's grace_hopper.jpg (512x600), read off the photo by eye.
HOPPER_LEFT_EYE, HOPPER_RIGHT_EYE = (302, 186), (220, 189)


def hopper():
    import matplotlib

    return cv2.imread(os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg"))


class MeanFacePredictor:
    """Predicts the average training face for every crop, and counts its calls."""

    def __init__(self):
        self.calls = []

    def predict(self, crops):
        self.calls.append(len(crops))
        return np.repeat(to_normalised(faces.MEAN_KEYPOINTS)[None], len(crops), axis=0)


def test_missing_cascade_raises_naming_the_path(tmp_path):
    missing = tmp_path / "no_such_cascade.xml"
    with pytest.raises(FileNotFoundError, match="no_such_cascade.xml"):
        faces.HaarDetector(missing)
    broken = tmp_path / "broken.xml"
    broken.write_text("<opencv_storage>not a cascade</opencv_storage>")
    with pytest.raises(ValueError, match="broken.xml"):
        faces.HaarDetector(broken)


def test_detects_grace_hopper_in_bgr_grey_and_bgra():
    photo = hopper()
    detector = faces.HaarDetector()
    boxes = faces.detect_faces(photo, detector)
    assert len(boxes) == 1
    x, y, w, h = boxes[0]
    assert w == h and 150 < w < 300
    for eye in (HOPPER_LEFT_EYE, HOPPER_RIGHT_EYE):
        assert x < eye[0] < x + w and y < eye[1] < y + h
    grey = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    assert faces.detect_faces(grey, detector) == boxes
    assert faces.detect_faces(cv2.cvtColor(photo, cv2.COLOR_BGR2BGRA), detector) == boxes


def test_detection_on_a_downscaled_copy_maps_boxes_back():
    photo = cv2.resize(hopper(), None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)  # 2048x2400
    full = faces.detect_faces(hopper(), faces.HaarDetector())[0]
    big = faces.detect_faces(photo, faces.HaarDetector(max_side=600))
    assert len(big) == 1
    assert np.allclose(big[0], np.multiply(full, 4), atol=0.1 * 4 * full[2])


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
def test_crop_matches_the_training_recipe(box):
    gray = cv2.cvtColor(hopper(), cv2.COLOR_BGR2GRAY)
    crop = faces.crop_face(gray, box)
    assert crop.shape == (96, 96) and crop.dtype == np.float32
    np.testing.assert_array_equal(crop, reference_crop(gray, box))


def test_crop_pixels_map_to_photo_pixels_exactly():
    # Pixel-centre convention: in a 192-pixel box at x=10, crop pixel 0 covers photo pixels 10
    # and 11 (centre 10.5), crop pixel 95 covers 200 and 201 (centre 200.5), and the crop's
    # centre 47.5 is the box's centre 10 + 95.5.
    box = (10, 20, 192, 192)
    np.testing.assert_allclose(faces.crop_to_photo([[0, 0], [95, 95], [47.5, 47.5]], box),
                               [[10.5, 20.5], [200.5, 210.5], [105.5, 115.5]])
    points = np.random.default_rng(0).uniform(-10, 100, (50, 2))
    for box in [(10, 20, 192, 192), (-37, -5, 61, 61), (300, 400, 500, 500)]:
        np.testing.assert_allclose(faces.photo_to_crop(faces.crop_to_photo(points, box), box),
                                   points, atol=1e-3)
        np.testing.assert_allclose(
            faces.normalised_to_photo(faces.photo_to_normalised(points, box), box), points,
            atol=1e-3)


@pytest.mark.parametrize("box", [(-20, 30, 192, 192), (20, -100, 192, 192), (30, 40, 96, 96)])
def test_a_bright_spot_lands_where_it_is_in_the_photo(box):
    # A 2x2 bright spot centred at photo (50.5, 60.5); the crop (of a box partly outside the
    # photo, too) sees it somewhere; mapping the crop's brightness centroid back finds the spot.
    gray = np.zeros((200, 160), np.uint8)
    gray[60:62, 50:52] = 255
    crop = faces.crop_face(gray, box)
    ys, xs = np.mgrid[0:96, 0:96]
    centroid = [(crop * xs).sum() / crop.sum(), (crop * ys).sum() / crop.sum()]
    np.testing.assert_allclose(faces.crop_to_photo(centroid, box), [50.5, 60.5], atol=1e-4)


def test_box_from_keypoints_recovers_the_crop_box():
    for box in [(100, 50, 200, 200), (-30, 10, 77, 77), (5, 5, 960, 960)]:
        points = faces.crop_to_photo(faces.MEAN_KEYPOINTS, box)
        assert np.allclose(faces.box_from_keypoints(points), box, atol=1)


def test_find_keypoints_batches_every_face_in_one_call():
    face = hopper()[60:420, 90:450]
    photo = np.full((400, 800, 3), 128, np.uint8)
    photo[20:380, 20:380] = face
    photo[20:380, 420:780] = face
    predictor = MeanFacePredictor()
    found = faces.find_keypoints(photo, predictor, refine=False)
    assert predictor.calls == [2]
    assert len(found) == 2 and found[0]["box"][0] < found[1]["box"][0]
    for result in found:
        assert result["keypoints"].shape == (15, 2)
        np.testing.assert_allclose(result["keypoints"],
                                   faces.crop_to_photo(faces.MEAN_KEYPOINTS, result["box"]),
                                   atol=1e-3)
    # The refinement pass: a second call, and still the same faces.
    predictor.calls.clear()
    refined = faces.find_keypoints(photo, predictor, refine=True)
    assert predictor.calls == [2, 2]
    for first, second in zip(found, refined):
        assert np.abs(first["keypoints"] - second["keypoints"]).max() < 0.02 * first["box"][2]


def test_no_faces_means_no_model_call():
    predictor = MeanFacePredictor()
    assert faces.find_keypoints(np.full((120, 160), 90, np.uint8), predictor) == []
    assert predictor.calls == []


@pytest.mark.skipif(not TRAINED_MODEL.exists(),
                    reason="no trained model at models/keypoints.keras yet (train one first)")
def test_trained_model_finds_grace_hoppers_eyes():
    from facial_keypoints.predictor import load_predictor

    found = faces.find_keypoints(hopper(), load_predictor(TRAINED_MODEL))
    assert len(found) == 1
    points = found[0]["keypoints"]
    eye_distance = np.hypot(*np.subtract(HOPPER_LEFT_EYE, HOPPER_RIGHT_EYE))
    assert np.hypot(*(points[LEFT_EYE] - HOPPER_LEFT_EYE)) < 0.25 * eye_distance
    assert np.hypot(*(points[RIGHT_EYE] - HOPPER_RIGHT_EYE)) < 0.25 * eye_distance
