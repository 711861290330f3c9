"""Face detectors: one interface for YuNet and Haar, faces at any angle, none on textures."""

import os

import cv2
import numpy as np
import pytest

from facial_keypoints import detectors

# Grace Hopper's pupils in matplotlib's grace_hopper.jpg (512x600), read off the photo by eye.
HOPPER_LEFT_EYE, HOPPER_RIGHT_EYE = (302, 186), (220, 189)


def hopper():
    import matplotlib

    return cv2.imread(os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg"))


def contains(box, point):
    x, y, w, h = box
    return x < point[0] < x + w and y < point[1] < y + h


@pytest.mark.parametrize("name", ["yunet", "haar"])
def test_both_detectors_find_grace_hopper_through_one_interface(name):
    detector = detectors.load_detector(name)
    for picture in (hopper(), cv2.cvtColor(hopper(), cv2.COLOR_BGR2GRAY),
                    cv2.cvtColor(hopper(), cv2.COLOR_BGR2BGRA)):
        found = detector.detect(picture)
        assert len(found) == 1
        face = found[0]
        assert isinstance(face, detectors.Face) and 0 < face.score <= 1
        assert contains(face.box, HOPPER_LEFT_EYE) and contains(face.box, HOPPER_RIGHT_EYE)
        assert 150 < face.box[2] < 300 and abs(face.angle) < 10
        if name == "yunet":  # five landmarks: the subject's right eye first (image left)
            # within a quarter of the eye distance
            assert np.hypot(*(face.landmarks[0] - HOPPER_RIGHT_EYE)) < 20
            assert np.hypot(*(face.landmarks[1] - HOPPER_LEFT_EYE)) < 20
        else:
            assert face.landmarks is None and face.score == 1


def test_yunet_in_onnx_runtime_finds_what_opencvs_own_yunet_finds():
    # The same network run by OpenCV's cv2.FaceDetectorYN, which decodes and suppresses the raw
    # outputs itself: every face, box, landmark and score agree, weak hits included.
    detector = detectors.YuNetDetector()
    photo = hopper()
    group = np.hstack([photo, cv2.flip(photo, 1), cv2.rotate(photo, cv2.ROTATE_180)])
    for picture in (cv2.resize(photo, (160, 192)), cv2.resize(group, (480, 192)),
                    np.full((96, 128, 3), 127, np.uint8)):
        height, width = picture.shape[:2]
        opencv = cv2.FaceDetectorYN.create(str(detectors.YUNET_PATH), "", (width, height),
                                           detector.candidate_score, detector.nms_threshold, 5000)
        expected = opencv.detect(picture)[1]
        expected = np.zeros((0, 15)) if expected is None else expected
        found = detector._run(picture, 1.0)
        assert len(found) == len(expected)
        rows = np.array([[*f.box, *f.landmarks.ravel(), f.score] for f in found]).reshape(-1, 15)
        rows, expected = rows[np.argsort(-rows[:, 14])], expected[np.argsort(-expected[:, 14])]
        np.testing.assert_allclose(rows, expected, atol=1e-3)
    assert len(detector._run(cv2.resize(group, (480, 192)), 1.0)) >= 3


def test_pictures_looked_at_in_one_call_give_what_each_gives_alone():
    detector = detectors.YuNetDetector()
    face = cv2.resize(hopper()[40:460, 100:430], (128, 128))
    pictures = [face, cv2.flip(face, 1), cv2.rotate(face, cv2.ROTATE_90_CLOCKWISE),
                np.full((128, 128, 3), 127, np.uint8), cv2.resize(face, (64, 64)).repeat(2, 0)
                .repeat(2, 1)]
    together = detector._detect_each(pictures)
    alone = [detector.detect_upright(picture, None, detector.candidate_score)
             for picture in pictures]
    assert [len(faces) for faces in together] == [len(faces) for faces in alone]
    assert len(together[0]) == 1 and len(together[3]) == 0
    for mine, theirs in zip(together, alone):
        for a, b in zip(mine, theirs):
            np.testing.assert_allclose([*a.box, a.score], [*b.box, b.score], atol=1e-3)
            np.testing.assert_allclose(a.landmarks, b.landmarks, atol=1e-3)


def test_unknown_detector_and_missing_or_broken_files_are_named(tmp_path):
    with pytest.raises(ValueError, match="mtcnn"):
        detectors.load_detector("mtcnn")
    with pytest.raises(FileNotFoundError, match="nothing.onnx"):
        detectors.YuNetDetector(tmp_path / "nothing.onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a network")
    with pytest.raises(ValueError, match="broken.onnx"):
        detectors.YuNetDetector(broken)
    with pytest.raises(FileNotFoundError, match="no_such_cascade.xml"):
        detectors.HaarDetector(tmp_path / "no_such_cascade.xml")
    cascade = tmp_path / "broken.xml"
    cascade.write_text("<opencv_storage>not a cascade</opencv_storage>")
    with pytest.raises(ValueError, match="broken.xml"):
        detectors.HaarDetector(cascade)


@pytest.mark.parametrize("rotation, angle", [(cv2.ROTATE_90_CLOCKWISE, 90), (cv2.ROTATE_180, 180),
                                             (cv2.ROTATE_90_COUNTERCLOCKWISE, -90)])
def test_a_turned_face_is_found_with_its_angle(rotation, angle):
    found = detectors.YuNetDetector().detect(cv2.rotate(hopper(), rotation))
    assert len(found) == 1
    turned_angle = (found[0].angle - angle + 180) % 360 - 180
    assert abs(turned_angle) < 10


def test_a_face_at_45_degrees_is_found_by_the_upright_check():
    photo = hopper()
    h, w = photo.shape[:2]
    turned = cv2.warpAffine(photo, cv2.getRotationMatrix2D((w / 2, h / 2), -45, 1.0), (w, h),
                            borderMode=cv2.BORDER_REPLICATE)
    found = detectors.YuNetDetector().detect(turned)
    assert len(found) == 1 and 25 < found[0].angle < 65  # landmarks are rough at 45 degrees


def test_the_diagonal_copies_are_searched_only_when_the_photo_seems_turned():
    detector = detectors.YuNetDetector()
    searched = []
    candidates = detector._candidates

    def recording(image, angle, side, copies=None):
        searched.append(angle)
        return candidates(image, angle, side, copies)

    detector._candidates = recording
    assert len(detector.detect(hopper())) == 1 and searched == [0, 90, 180, 270]
    searched.clear()
    photo = hopper()
    h, w = photo.shape[:2]
    turned = cv2.warpAffine(photo, cv2.getRotationMatrix2D((w / 2, h / 2), 45, 1.0), (w, h),
                            borderMode=cv2.BORDER_REPLICATE)
    found = detector.detect(turned)
    assert searched == [0, 90, 180, 270, 45, 135, 225, 315]  # a face 45 degrees off every axis
    assert len(found) == 1 and -65 < found[0].angle < -25  # found once, not once per copy
    searched.clear()
    assert detector.detect(textures()[0]) == [] and 45 in searched  # nothing found: look harder


def test_a_face_at_45_degrees_beside_upright_ones_is_found():
    # Found faces all upright, but a strong hit its check could not confirm: the diagonal copies
    # are searched, and find the face turned by 45 degrees.
    head = hopper()[40:460, 100:430]
    picture = np.full((420, 1400, 3), (180, 200, 210), np.uint8)
    for i, angle in enumerate((0, 45, 90, 180)):
        h, w = head.shape[:2]
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 0.9)
        matrix[:, 2] += np.array((175 + 350 * i, 210)) - (w / 2, h / 2)
        mask = cv2.warpAffine(np.full((h, w), 255, np.uint8), matrix, (1400, 420))
        picture[mask > 0] = cv2.warpAffine(head, matrix, (1400, 420))[mask > 0]
    found = detectors.YuNetDetector().detect(picture)
    assert [round(face.angle / 45) * 45 % 360 for face in found] == [0, 315, 270, 180]
    # without that rule the face at 45 degrees is missed
    assert len(detectors.YuNetDetector(diagonal_score=1.1).detect(picture)) == 3


def test_a_candidate_is_checked_turned_the_first_sure_look_winning_else_the_best():
    detector = detectors.YuNetDetector(check_turns=(0, 45, -45))
    candidate = detectors.Face((100, 100, 96, 96), 0.3, crops_landmarks(), 0.0, 96)
    calls = []

    def looks_scoring(scores):
        def detect_near(image, transforms, margin, pixels):
            # the picture turns counter-clockwise on screen by the check's turn
            turns = [round(-np.degrees(np.arctan2(t[1, 0], t[0, 0]))) for t in transforms]
            calls.append(turns)
            return [detectors.Face((0, 0, 1, 1), scores[turn]) for turn in turns]
        return detect_near

    detector.detect_near = looks_scoring({0: 0.4, 45: 0.9, -45: 0.95})
    assert [f.score for f in detector._check(None, [candidate, candidate])] == [0.9, 0.9]
    assert calls == [[0, 45, -45] * 2]  # every look at every candidate in one call
    detector.check_turns = (0, 30)
    detector.detect_near = looks_scoring({0: 0.4, 30: 0.3})
    assert detector._check(None, [candidate])[0].score == 0.4  # no sure look: the best
    # a face leaning 45 degrees may score 0.7-0.9 in the first picture: the other turns are
    # looked at, and the better look kept
    detector.check_turns = (0, 45, -45)
    detector.detect_near = looks_scoring({0: 0.75, 45: 0.85, -45: 0.5})
    assert detector._check(None, [candidate])[0].score == 0.85


def test_faces_below_the_sure_score_are_checked_and_the_rest_kept_as_found():
    detector = detectors.YuNetDetector(sure_score=0.9)
    upright = crops_landmarks()
    found = [detectors.Face((100, 100, 96, 96), score, upright, 0.0, 96) for score in (0.95, 0.8)]
    detector.detect_upright = lambda image, side, min_score: found
    pairs = detector._candidates(np.zeros((400, 400, 3), np.uint8), 0, None)
    assert [sure for _, sure in pairs] == [True, False]
    detector.sure_score = None  # the min_score, 0.7
    assert [sure for _, sure in detector._candidates(np.zeros((400, 400, 3), np.uint8), 0, None)] \
        == [True, True]


def crops_landmarks():
    from facial_keypoints.crops import LANDMARK_TEMPLATE

    return LANDMARK_TEMPLATE.astype(np.float64) + 100


def test_a_large_photo_is_searched_on_a_small_copy_and_boxes_map_back():
    photo = cv2.resize(hopper(), None, fx=5, fy=5, interpolation=cv2.INTER_CUBIC)  # 2560x3000
    small = detectors.YuNetDetector().detect(hopper())[0]
    big = detectors.YuNetDetector().detect(photo)
    assert len(big) == 1
    np.testing.assert_allclose(big[0].box, np.multiply(small.box, 5), atol=0.08 * 5 * small.box[2])
    np.testing.assert_allclose(big[0].landmarks, (small.landmarks + 0.5) * 5 - 0.5,
                               atol=0.06 * 5 * small.box[2])


def test_a_face_filling_the_photo_is_still_found():
    close_up = cv2.resize(hopper()[90:360, 130:400], (900, 900), interpolation=cv2.INTER_CUBIC)
    found = detectors.YuNetDetector().detect(close_up)
    assert len(found) == 1 and found[0].box[2] > 450


def textures():
    """Pictures with no face: noise at several scales, stripes, a brick-like grid."""
    rng = np.random.default_rng(3)
    cloudy = sum(cv2.resize(rng.uniform(0, 255, (s, s)), (640, 480), interpolation=cv2.INTER_CUBIC)
                 for s in (4, 16, 64)) / 3
    yy, xx = np.mgrid[0:480, 0:640]
    stripes = 127 + 100 * np.sin(xx / 7.0) * np.cos(yy / 11.0)
    bricks = np.where(((yy // 30) % 2 == 0) ^ ((xx // 60) % 2 == 0), 170, 90)
    bricks = bricks + rng.normal(0, 20, bricks.shape)
    return [np.clip(p, 0, 255).astype(np.uint8) for p in (cloudy, stripes, bricks)]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_no_face_on_a_texture(index):
    assert detectors.YuNetDetector().detect(textures()[index]) == []


def test_merge_keeps_the_best_of_overlapping_boxes():
    a = detectors.Face((0, 0, 10, 10), 0.9)
    b = detectors.Face((1, 1, 10, 10), 0.95)
    c = detectors.Face((50, 50, 10, 10), 0.8)
    assert detectors.merge_duplicates([a, b, c]) == [b, c]
    assert detectors.iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
