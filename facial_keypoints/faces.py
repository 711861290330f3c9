"""From a photo to the keypoints of every face in it: detect, crop, predict, map back.

The path, one step per module::

    photo (BGR, BGRA or grey, any size, any angle)
      -> faces: box, score, 5 landmarks, angle   detectors.YuNetDetector.detect()   photo pixels
      -> crop transforms (upright, training-framed) crops.from_landmarks()
      -> 96x96 crops in [0, 1]                    crops.crop_faces()
      -> normalised keypoints                     predictor.predict()     one call for all faces
      -> photo-pixel keypoints                    crops.normalised_to_photo()
      -> (refine) crop again around them and predict again        crops.from_keypoints()

:func:`find_keypoints` does all of it.
"""

import cv2
import numpy as np

from . import crops
from .detectors import load_detector
from .errors import InputError
from .keypoints import LEFT_EYE, RIGHT_EYE
from .predictor import load_predictor
from .timing import timed

# A face whose keypoints land farther than this from the detector's own landmarks (mean distance
# over the eyes, nose tip and mouth corners, in eye distances) is one the keypoint model doubts:
# it is dropped. On AFW (`python benchmarks/afw.py --doubt`) this drops 1 of the 336 annotated
# faces found and 39 of the 156 other boxes: knees, hands, faces seen from behind or hidden.
MAX_DOUBT = 0.5

# YuNet's landmarks of a face turned 30 to 60 degrees from every copy it searched lean towards the
# copy's axis, so the doubt above would be measured against the wrong points. A face whose
# keypoints turn it more than this many degrees from the detector's angle is looked at again,
# upright as its keypoints say (:meth:`~.detectors.FaceDetector.detect_near`), and measured
# against the landmarks found there; found nothing there, it is dropped. Added alone, it raised
# AFW's success@0.10 (`python benchmarks/afw.py --turned 0 30 -30 45 60`) from 0.71 to 0.77-0.80
# on photos turned by +-30 degrees, from 0.38 to 0.47-0.48 at +-45 and from 0.52-0.53 to
# 0.62-0.66 at +-60, and changed upright photos by one face (0.938 -> 0.941).
RECHECK_ANGLE = 10.0

# Kaggle keypoints that match YuNet's five landmarks, in YuNet's order.
_LANDMARK_KEYPOINTS = [1, 0, 10, 12, 11]  # right eye, left eye, nose tip, right / left mouth corner

_defaults = {}


def default_detector():
    """The package's YuNet detector, loaded on first use and kept."""
    if "detector" not in _defaults:
        _defaults["detector"] = load_detector("yunet")
    return _defaults["detector"]


def default_predictor():
    """The shipped model (:func:`~.predictor.load_predictor`'s default), loaded on first use and
    kept."""
    if "predictor" not in _defaults:
        _defaults["predictor"] = load_predictor()
    return _defaults["predictor"]


def to_gray(image):
    """A BGR, BGRA or grey image (uint8, uint16, or float in [0, 1]) -> grey uint8 ``(H, W)``.

    Colour images are assumed to be in OpenCV's BGR order (``cv2.imread``), as the training
    data was converted with ``cv2.COLOR_BGR2GRAY``.
    """
    image = as_uint8(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    raise InputError(f"expected a grey (H, W), BGR (H, W, 3) or BGRA (H, W, 4) image, "
                     f"got shape {image.shape}")


def as_uint8(image):
    """uint8 as it is; uint16 scaled from 0..65535; float scaled from [0, 1] -> uint8."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    if np.issubdtype(image.dtype, np.floating):
        image = image * 255.0 + 0.5
    elif image.dtype == np.uint16:
        image = image / 257.0 + 0.5
    return np.clip(image, 0, 255).astype(np.uint8)


def detect_faces(image, detector=None):
    """The faces of a photo (BGR, BGRA or grey): a list of :class:`~.detectors.Face` (box, score,
    landmarks, angle; photo pixels), left to right. ``detector``: default YuNet at any angle."""
    return (detector or default_detector()).detect(as_uint8(image))


def predict_keypoints(gray, transforms, predictor=None, refine=False, timings=None):
    """Keypoints of the faces cut by ``transforms`` (crop transforms, :mod:`.crops`).

    Returns ``(points, transforms)``: float32 ``(N, 15, 2)`` photo pixels (x, y), and the
    transforms of the crops they came from. All faces go to the model in one call. With
    ``refine=True`` each face is cut again, upright and framed from its first keypoints
    (:func:`~.crops.from_keypoints`), and predicted again (a second call); a face whose second crop
    would be more than twice or less than half the first's size keeps its first result.
    ``timings``: a dict or None; the seconds spent cropping and in the model are added to its
    ``"crop"`` and ``"keypoints"`` entries.
    """
    predictor = predictor or default_predictor()
    transforms = [np.asarray(t, np.float64) for t in transforms]
    if not transforms:
        return np.zeros((0, 15, 2), np.float32), transforms
    points = _predict(gray, transforms, predictor, timings)
    if refine:
        second = [crops.from_keypoints(p) for p in points]
        keep = [0.5 <= crops.scale_of(new) / crops.scale_of(old) <= 2
                for new, old in zip(second, transforms)]
        if any(keep):
            better = _predict(gray, [t for t, k in zip(second, keep) if k], predictor, timings)
            index = np.flatnonzero(keep)
            points[index] = better
            for i in index:
                transforms[i] = second[i]
    return points, transforms


def _predict(gray, transforms, predictor, timings):
    with timed(timings, "crop"):
        batch = crops.crop_faces(gray, transforms)
    with timed(timings, "keypoints"):
        normalised = predictor.predict(batch)
        points = np.stack([crops.normalised_to_photo(p, t) for p, t in zip(normalised, transforms)])
    return points.astype(np.float32)


def doubt(keypoints, landmarks):
    """How far the model's keypoints are from the detector's landmarks: mean distance over the
    eyes, nose tip and mouth corners, in eye distances (photo pixels both). NaN without
    landmarks."""
    if landmarks is None:
        return float("nan")
    ours = np.asarray(keypoints, np.float64)[_LANDMARK_KEYPOINTS]
    eye_distance = max(np.linalg.norm(ours[1] - ours[0]), 1e-6)
    return float(np.linalg.norm(ours - np.asarray(landmarks), axis=1).mean() / eye_distance)


def keypoint_angle(keypoints):
    """Degrees a face is turned clockwise on screen, from its eye centres (photo pixels)."""
    eyes = np.asarray(keypoints[LEFT_EYE], np.float64) - keypoints[RIGHT_EYE]
    return float(np.degrees(np.arctan2(eyes[1], eyes[0])))


def _doubt_of(face, keypoints, transform, look_again):
    """:func:`doubt` against the detector's landmarks, or against the landmarks of a second look
    (``look_again(transform)``, a :class:`~.detectors.Face` or None) when the keypoints disagree
    with the detector's angle (:data:`RECHECK_ANGLE`); infinite when that look finds no face."""
    if face.landmarks is None:
        return float("nan")
    turn = (keypoint_angle(keypoints) - face.angle + 180.0) % 360.0 - 180.0
    if abs(turn) <= RECHECK_ANGLE:
        return doubt(keypoints, face.landmarks)
    again = look_again(transform)
    return float("inf") if again is None else doubt(keypoints, again.landmarks)


def find_keypoints(image, predictor=None, detector=None, refine=True, min_score=None):
    """Every face in a photo and its 15 keypoints.

    :param image: BGR, BGRA or grey array of any size (as ``cv2.imread`` returns it).
    :param predictor: from :func:`~.predictor.load_predictor`; default the shipped
        ``models/keypoints.onnx``, loaded once.
    :param detector: a :class:`~.detectors.FaceDetector`; default YuNet, searching the photo
        upright and turned by 90, 180 and 270 degrees.
    :param refine: (default on) cut each face a second time, upright and framed from its first
        keypoints, and predict again (see :func:`predict_keypoints`).
    :param min_score: drop faces the detector scores lower (0..1; default: the detector's own).
    :return: a list, left to right, of ``{"box": (x, y, w, h), "score": float, "angle": float,
        "keypoints": (15, 2) float32}``: box and keypoints in photo pixels, keypoints (x, y) in
        Kaggle order (:data:`~.keypoints.KEYPOINT_NAMES`), angle in degrees clockwise on screen.
        Faces whose keypoints disagree with the detector's landmarks (:data:`MAX_DOUBT`) are
        left out; a face the keypoints turn otherwise than the detector did is looked at again
        first (:data:`RECHECK_ANGLE`).
    """
    image = as_uint8(image)
    detector = detector or default_detector()
    faces = detect_faces(image, detector)
    if min_score is not None:
        faces = [f for f in faces if f.score >= min_score]
    points, transforms = predict_keypoints(to_gray(image), [f.transform() for f in faces],
                                           predictor, refine=refine)
    prepared = []  # the detector's own copy of the photo, made only if a face needs a second look

    def look_again(transform):
        if not prepared:
            prepared.append(detector.prepare(image))
        return detector.detect_near(prepared[0], transform, 0.5, 160)

    results = []
    for face, p, transform in zip(faces, points, transforms):
        if _doubt_of(face, p, transform, look_again) > MAX_DOUBT:
            continue
        results.append({"box": tuple(round(float(v), 1) for v in face.box),
                        "score": round(float(face.score), 4),
                        "angle": round(keypoint_angle(p), 1),
                        "keypoints": p})
    return results
