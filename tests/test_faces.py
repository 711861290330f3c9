"""The whole photo -> keypoints path: one model call for all faces, at any angle."""

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from facial_keypoints import crops, faces
from facial_keypoints.keypoints import LEFT_EYE, RIGHT_EYE, to_normalised

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "models" / "keypoints.onnx"
HOPPER_LEFT_EYE, HOPPER_RIGHT_EYE = np.array((302, 186)), np.array((220, 189))


def hopper():
    import matplotlib

    return cv2.imread(os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg"))


class MeanFacePredictor:
    """Predicts the average training face for every crop, and counts its calls."""

    def __init__(self):
        self.calls = []

    def predict(self, batch):
        self.calls.append(len(batch))
        return np.repeat(to_normalised(crops.MEAN_KEYPOINTS)[None], len(batch), axis=0)


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
        assert result["keypoints"].shape == (15, 2) and 0.7 <= result["score"] <= 1
        assert abs(result["angle"]) < 10
    predictor.calls.clear()
    refined = faces.find_keypoints(photo, predictor, refine=True)
    assert predictor.calls == [2, 2]
    for first, second in zip(found, refined):
        assert np.abs(first["keypoints"] - second["keypoints"]).max() < 0.02 * first["box"][2]
    # min_score: a threshold above every face's score leaves none (and calls no model).
    predictor.calls.clear()
    assert faces.find_keypoints(photo, predictor, min_score=1.01) == []
    assert predictor.calls == [0] or predictor.calls == []


def test_no_faces_means_no_model_call():
    predictor = MeanFacePredictor()
    assert faces.find_keypoints(np.full((120, 160), 90, np.uint8), predictor) == []
    assert predictor.calls == []


def test_doubt_measures_keypoints_against_the_landmarks():
    transform = crops.from_box((0, 0, 96, 96))
    points = crops.to_photo(crops.MEAN_KEYPOINTS, transform)
    assert faces.doubt(points, crops.LANDMARK_TEMPLATE) < 0.1
    assert faces.doubt(points, crops.LANDMARK_TEMPLATE + [30, 0]) > 0.8
    assert np.isnan(faces.doubt(points, None))


class LeaningDetector:
    """Finds one face whose landmarks lean by 60 degrees (as YuNet's do for a face turned between
    its copies); a second look finds it upright, or nothing."""

    def __init__(self, found_again):
        from facial_keypoints.detectors import Face, eye_angle

        upright = crops.LANDMARK_TEMPLATE.astype(np.float64) + 100
        turn = cv2.getRotationMatrix2D(tuple(upright.mean(0)), 60, 1.0)
        leaning = crops.apply(turn, upright)
        self.face = Face((100, 100, 96, 96), 0.9, leaning, eye_angle(leaning), 96)
        self.again = Face((100, 100, 96, 96), 0.8, upright, eye_angle(upright), 96)
        self.found_again, self.looks = found_again, []

    def detect(self, image):
        return [self.face]

    def prepare(self, image):
        return image

    def detect_near(self, image, transforms, margin, pixels):
        self.looks += transforms
        return [self.again if self.found_again else None for _ in transforms]


class TurnedThenUprightPredictor(MeanFacePredictor):
    """First call: the face turned by -60 degrees in its crop (the crop was cut along leaning
    landmarks, so the face itself is upright in the photo); later calls: the average face."""

    def predict(self, batch):
        points = super().predict(batch)
        if len(self.calls) > 1:
            return points
        centre = (crops.IMAGE_SIZE - 1) / 2
        turn = cv2.getRotationMatrix2D((centre, centre), -60, 1.0)
        return np.stack([to_normalised(crops.apply(turn, crops.MEAN_KEYPOINTS))] * len(batch))


def test_a_face_turned_otherwise_than_the_detector_said_is_looked_at_again():
    photo = np.full((300, 300), 90, np.uint8)
    predictor = TurnedThenUprightPredictor()
    detector = LeaningDetector(found_again=True)
    found = faces.find_keypoints(photo, predictor, detector, refine=False)
    assert len(detector.looks) == 1 and predictor.calls == [1, 1]  # predicted again
    assert abs(crops.angle_of(detector.looks[0])) < 1  # looked upright, as the keypoints say
    assert len(found) == 1 and found[0]["score"] == 0.8  # the second look's face
    assert faces.doubt(found[0]["keypoints"], detector.again.landmarks) < 0.1
    # Measured against the leaning landmarks, the same keypoints would have been dropped.
    assert faces.doubt(found[0]["keypoints"], detector.face.landmarks) > faces.MAX_DOUBT
    nothing_there = LeaningDetector(found_again=False)
    assert faces.find_keypoints(photo, TurnedThenUprightPredictor(), nothing_there,
                                refine=False) == []
    assert len(nothing_there.looks) == 1


class TwiceLeaningDetector(LeaningDetector):
    """Two leaning faces side by side whose second looks both find the same upright face."""

    def detect(self, image):
        return [self.face, self.face.moved(np.array([[1, 0, 12], [0, 1, 0]], np.float64))]


def test_two_second_looks_that_find_the_same_face_return_it_once():
    detector = TwiceLeaningDetector(found_again=True)
    found = faces.find_keypoints(np.full((300, 300), 90, np.uint8), TurnedThenUprightPredictor(),
                                 detector, refine=False)
    assert len(detector.looks) == 2
    assert len(found) == 1 and found[0]["score"] == 0.8


needs_model = pytest.mark.skipif(not SHIPPED.exists(), reason=f"no shipped model at {SHIPPED}")


@needs_model
@pytest.mark.parametrize("rotation", [None, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180])
def test_keypoints_land_on_the_turned_features(rotation):
    from facial_keypoints.predictor import load_predictor

    photo, eyes = hopper(), np.array([HOPPER_LEFT_EYE, HOPPER_RIGHT_EYE], np.float64)
    if rotation is not None:
        h, w = photo.shape[:2]
        photo = cv2.rotate(photo, rotation)
        x, y = eyes.T
        eyes = (np.stack([h - 1 - y, x], 1) if rotation == cv2.ROTATE_90_CLOCKWISE
                else np.stack([w - 1 - x, h - 1 - y], 1))
    found = faces.find_keypoints(photo, load_predictor(SHIPPED))
    assert len(found) == 1
    assert_eyes_land(found[0]["keypoints"], eyes)


@needs_model
@pytest.mark.parametrize("angle", [35, -50])
def test_keypoints_land_on_features_turned_between_the_copies(angle):
    from facial_keypoints.predictor import load_predictor

    photo = hopper()
    h, w = photo.shape[:2]
    turn = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    side = int(np.hypot(h, w)) + 1
    turn[:, 2] += ((side - w) / 2, (side - h) / 2)
    photo = cv2.warpAffine(photo, turn, (side, side))
    eyes = crops.apply(turn, np.array([HOPPER_LEFT_EYE, HOPPER_RIGHT_EYE], np.float64))
    found = faces.find_keypoints(photo, load_predictor(SHIPPED))
    assert len(found) == 1 and abs(found[0]["angle"] + angle) < 8
    assert_eyes_land(found[0]["keypoints"], eyes)


@needs_model
def test_the_mirror_look_sees_each_face_mirrored_in_the_same_call_when_asked():
    from facial_keypoints.export import int8_path
    from facial_keypoints.predictor import OnnxPredictor

    class Spy(OnnxPredictor):
        calls = []

        def predict(self, crops, flip_average=False):
            self.calls.append((len(crops), flip_average))
            return super().predict(crops, flip_average)

    spy = Spy(int8_path(SHIPPED))
    assert spy.flip_offset is not None  # the shipped twin holds its mirror bias
    once = faces.find_keypoints(hopper(), spy)  # the default: each look sees the face once
    assert spy.calls == [(1, False), (1, False)]
    spy.calls.clear()
    mirrored = faces.find_keypoints(hopper(), spy, flip_average=True)
    assert spy.calls == [(1, False), (1, True)]  # the first look once, the refined one twice
    eyes = np.array([HOPPER_LEFT_EYE, HOPPER_RIGHT_EYE], np.float64)
    assert_eyes_land(mirrored[0]["keypoints"], eyes)
    moved = np.hypot(*(mirrored[0]["keypoints"] - once[0]["keypoints"]).T)
    eye_distance = np.hypot(*(eyes[0] - eyes[1]))
    assert 0 < moved.mean() < 0.05 * eye_distance  # a second opinion, not another face


def assert_eyes_land(points, eyes):
    eye_distance = np.hypot(*(eyes[0] - eyes[1]))
    assert np.hypot(*(points[LEFT_EYE] - eyes[0])) < 0.15 * eye_distance
    assert np.hypot(*(points[RIGHT_EYE] - eyes[1])) < 0.15 * eye_distance
