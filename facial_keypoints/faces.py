"""From a photo to the keypoints of every face in it: detect, crop, predict, map back.

The path, one step per module::

    photo (BGR, BGRA or grey, any size, any angle)
      -> faces: box, score, 5 landmarks, angle   detectors.YuNetDetector.detect()   photo pixels
      -> crop transforms (upright, training-framed) crops.from_landmarks()
      -> 96x96 crops in [0, 1]                    crops.crop_faces()
      -> normalised keypoints                     predictor.predict()     one call for all faces
      -> photo-pixel keypoints                    crops.normalised_to_photo()
      -> (refine) crop again around them and predict again        crops.from_keypoints()
         (flip_average) with each crop's mirror image in the same call, averaged

:func:`find_keypoints` does all of it.
"""

import cv2
import numpy as np

from . import crops
from .detectors import distinct, eye_angle, load_detector
from .errors import InputError
from .keypoints import LEFT_EYE, RIGHT_EYE
from .predictor import load_predictor
from .timing import timed

# A face whose keypoints land farther than this from the detector's own landmarks (mean distance
# over the eyes, nose tip and mouth corners, in eye distances) is one the keypoint model doubts:
# it is dropped. On AFW (`python benchmarks/afw.py --doubt`, shipped model) this drops none of the
# 337 annotated faces found and 12 of the 176 other boxes: knees, hands, faces seen from behind or
# hidden. (A model trained on Haar's upright crops dropped 42 of 156: a model trained on aligned
# crops follows the landmarks more closely wherever they are. 0.4 would drop 36 of them, and 2
# annotated faces.)
MAX_DOUBT = 0.5

# YuNet's landmarks of a face turned 30 to 60 degrees from every copy it searched lean towards the
# copy's axis, so its crop is cut turned the wrong way and the doubt above is measured against
# the wrong points. A face whose keypoints turn it more than this many degrees from the
# detector's angle is looked at again, upright as its keypoints say
# (:meth:`~.detectors.FaceDetector.detect_near`); the face found there replaces it (landmarks,
# crop, keypoints), and found nothing there, it is dropped.
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


def predict_keypoints(gray, transforms, predictor=None, refine=False, timings=None,
                      flip_average=False):
    """Keypoints of the faces cut by ``transforms`` (crop transforms, :mod:`.crops`).

    Returns ``(points, transforms)``: float32 ``(N, 15, 2)`` photo pixels (x, y), and the
    transforms of the crops they came from. All faces go to the model in one call. With
    ``refine=True`` each face is cut again, upright and framed from its first keypoints
    (:func:`~.crops.from_keypoints`), and predicted again (a second call); a face whose second crop
    would be more than twice or less than half the first's size keeps its first result.
    ``flip_average``: the last look also sees each crop mirrored, in the same call, and averages
    the two less the model's mirror bias (:meth:`~.predictor.OnnxPredictor.predict`; a model
    without one looks once; with ``refine``, a face whose second crop is refused keeps its
    first, single look). ``timings``: a dict or None; the seconds spent cropping and in the
    model are added to its ``"crop"`` and ``"keypoints"`` entries.
    """
    predictor = predictor or default_predictor()
    transforms = [np.asarray(t, np.float64) for t in transforms]
    if not transforms:
        return np.zeros((0, 15, 2), np.float32), transforms
    points = _predict(gray, transforms, predictor, timings, flip_average and not refine)
    if refine:
        second = [crops.from_keypoints(p) for p in points]
        keep = [0.5 <= crops.scale_of(new) / crops.scale_of(old) <= 2
                for new, old in zip(second, transforms)]
        if any(keep):
            better = _predict(gray, [t for t, k in zip(second, keep) if k], predictor, timings,
                              flip_average)
            index = np.flatnonzero(keep)
            points[index] = better
            for i in index:
                transforms[i] = second[i]
    return points, transforms


def _predict(gray, transforms, predictor, timings, flip_average=False):
    with timed(timings, "crop"):
        batch = crops.crop_faces(gray, transforms)
    with timed(timings, "keypoints"):
        if flip_average and getattr(predictor, "flip_offset", None) is not None:
            normalised = predictor.predict(batch, flip_average=True)
        else:
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
    return eye_angle(np.asarray(keypoints, np.float64)[[RIGHT_EYE, LEFT_EYE]])


def _disagrees(face, keypoints):
    """Whether the keypoints turn ``face`` more than :data:`RECHECK_ANGLE` from the angle its
    detector's landmarks gave (never for a face without landmarks)."""
    if face.landmarks is None:
        return False
    turn = (keypoint_angle(keypoints) - face.angle + 180.0) % 360.0 - 180.0
    return abs(turn) > RECHECK_ANGLE


def find_keypoints(image, predictor=None, detector=None, refine=True, min_score=None,
                   flip_average=False):
    """Every face in a photo and its 15 keypoints.

    :param image: BGR, BGRA or grey array of any size (as ``cv2.imread`` returns it).
    :param predictor: from :func:`~.predictor.load_predictor`; default the shipped
        model (its 8-bit twin ``models/keypoints.int8.onnx``), loaded once.
    :param detector: a :class:`~.detectors.FaceDetector`; default YuNet, searching the photo
        upright and turned by 90, 180 and 270 degrees.
    :param refine: (default on) cut each face a second time, upright and framed from its first
        keypoints, and predict again (see :func:`predict_keypoints`).
    :param min_score: drop faces the detector scores lower (0..1; default: the detector's own).
    :param flip_average: the last look at each face also sees it mirrored and averages the
        two, less the model's mirror bias (a model that holds none looks once). Off by default:
        for the shipped model it puts more AFW faces under 0.10 but raises the mean error
        (``models/README.md``, "The mirror look").
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
    gray = to_gray(image)
    points, _ = predict_keypoints(gray, [f.transform() for f in faces], predictor, refine=refine,
                                  flip_average=flip_average)
    # A face the keypoints turn otherwise than the detector did is looked at again, upright as
    # the keypoints say; what that look finds replaces it and is predicted again, in one call.
    disagreeing = [i for i, (f, p) in enumerate(zip(faces, points)) if _disagrees(f, p)]
    looks = dict(zip(disagreeing, detector.detect_near(
        detector.prepare(image), [crops.from_keypoints(points[i]) for i in disagreeing],
        0.5, 160)))
    seen = [i for i, face in looks.items() if face is not None]
    if seen:
        faces = [looks.get(i) or face for i, face in enumerate(faces)]
        points[seen], _ = predict_keypoints(gray, [faces[i].transform() for i in seen],
                                            predictor, refine=refine, flip_average=flip_average)
    # Kept: faces whose second look, if they had one, found a face, and whose keypoints the model
    # does not doubt (a face without landmarks has a NaN doubt, which is not above the limit).
    kept = [i for i, (face, p) in enumerate(zip(faces, points))
            if looks.get(i, face) is not None and not doubt(p, face.landmarks) > MAX_DOUBT]
    # Two second looks may land on the same face: it is kept once, as the detector keeps it.
    kept = [kept[k] for k in sorted(distinct([faces[i] for i in kept]))]
    results = []
    for i in kept:
        face, p = faces[i], points[i]
        results.append({"box": tuple(round(float(v), 1) for v in face.box),
                        "score": round(float(face.score), 4),
                        "angle": round(keypoint_angle(p), 1),
                        "keypoints": p})
    return results
