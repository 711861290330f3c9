"""Face detectors: where the faces of a photo are, at any angle.

Two detectors share one small interface (:class:`FaceDetector`):

* :class:`YuNetDetector` (the default): YuNet, a small CNN (MIT licence, 230 KB, run by ONNX
  Runtime and decoded as OpenCV's ``cv2.FaceDetectorYN`` does, faster than OpenCV runs it). Per
  face it gives a box, a score and five landmarks (eyes, nose tip, mouth corners), from which
  the face's angle and its aligned crop follow.
* :class:`HaarDetector`: OpenCV's Haar cascade, the original project's way. Boxes only, upright
  faces only, score 1.

``detector.detect(image)`` returns a list of :class:`Face`, each with its ``box`` (photo pixels,
``(x, y, w, h)``), ``score`` (0..1), ``landmarks`` (``(5, 2)`` photo pixels or None) and ``angle``
(degrees the face is turned clockwise on screen). How a search runs:

1. **Photo size.** Detection runs on a copy at most ``side`` pixels long (YuNet finds faces of
   about 10 to 300 pixels there), plus a copy a third that size for faces too large for the
   first; boxes are scaled back to the photo, which keeps its full resolution for the crops.
2. **Any angle.** With ``angles=(0, 90, 180, 270)`` the photo is also searched turned by 90, 180
   and 270 degrees (on copies at most ``turned_side`` long), and each face's landmarks give its
   own angle. The landmarks of a face turned 30 to 60 degrees from every copy lean towards the
   copy's axis, so the angle they give may be 20 to 40 degrees off: the check below also looks
   turned by +-45 degrees (``check_turns``), and :func:`~.faces.find_keypoints` looks again where
   the keypoints disagree with that angle. Where the photo seems turned (no face found, one more
   than ``diagonal_tilt`` degrees off every axis, or a strong hit that its check did not
   confirm), copies turned by 45, 135, 225 and 315 degrees (``diagonal_angles``) are searched
   too: they find the faces near 45 degrees that score too low in every other copy, at a cost
   of four more searches on those photos only.
3. **Candidates are checked.** Faces found in several copies are merged (the best score stays).
   A face that was not upright in its copy, or whose score is below ``sure_score`` (YuNet: 0.9)
   but above ``candidate_score``, is looked for once more in a small picture cut around it,
   turned upright by its own angle and then by each of ``check_turns`` (all the looks of a
   photo's candidates in one batch, :meth:`FaceDetector.detect_near`); the first look that
   scores ``sure_score`` wins, else the best-scoring one, and it is kept if it scores at least
   ``min_score``. The video tracker uses the same look to follow a face.
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from . import crops
from .errors import InputError
from .paths import project_folder
from .runtime import onnx_session

DETECTORS_DIR = project_folder("detector_architectures")
YUNET_PATH = DETECTORS_DIR / "face_detection_yunet_2023mar_any_size.onnx"
CASCADE_PATH = DETECTORS_DIR / "haarcascade_frontalface_default.xml"

# YuNet searches pictures up to this long (pixels) in one copy; longer ones also in a copy a third
# as long, for the faces too large for its anchors.
_ONE_COPY_UP_TO = 360

# OpenCV's cv2.rotate code for each copy's turn (counter-clockwise on screen).
_ROTATIONS = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180,
              270: cv2.ROTATE_90_CLOCKWISE}


@dataclass
class Face:
    """One detected face, in photo pixels.

    ``box``: ``(x, y, w, h)`` floats, upright, around the face. ``score``: the detector's
    confidence, 0..1 (Haar: always 1). ``landmarks``: ``(5, 2)`` (x, y) of the subject's right
    eye, left eye, nose tip, right and left mouth corners, or None (Haar). ``angle``: degrees the
    face is turned clockwise on screen (0: upright). ``side``: the long side of the detector's own
    box, which may be turned with the face (``box`` holds it upright).
    """

    box: tuple
    score: float
    landmarks: np.ndarray = None
    angle: float = 0.0
    side: float = None

    def transform(self):
        """The crop transform that cuts this face upright, framed like the training crops
        (:mod:`.crops`)."""
        if self.landmarks is not None:
            return crops.from_landmarks(self.landmarks, self.side)
        x, y, w, h = self.box
        side = round(max(w, h))
        corner = (round(x + w / 2 - side / 2), round(y + h / 2 - side / 2))
        return crops.from_box((*corner, side, side), round(self.angle / 90) * 90)

    def moved(self, matrix):
        """This face seen through a 2x3 transform (e.g. from a turned copy back to the photo)."""
        x, y, w, h = self.box
        corners = crops.apply(matrix, [[x, y], [x + w, y], [x, y + h], [x + w, y + h]])
        (x0, y0), (x1, y1) = corners.min(0), corners.max(0)
        landmarks = None if self.landmarks is None else crops.apply(matrix, self.landmarks)
        turn = np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0]))
        angle = eye_angle(landmarks) if landmarks is not None else _wrap(self.angle + turn)
        side = None if self.side is None else float(self.side * np.sqrt(abs(np.linalg.det(
            matrix[:, :2]))))
        box = tuple(float(v) for v in (x0, y0, x1 - x0, y1 - y0))
        return Face(box, self.score, landmarks, angle, side)


def eye_angle(landmarks):
    """Angle of the line from the subject's right eye to the left eye, degrees clockwise on screen
    (0 for an upright face)."""
    (rx, ry), (lx, ly) = landmarks[0], landmarks[1]
    return float(np.degrees(np.arctan2(ly - ry, lx - rx)))


def _wrap(angle):
    return (angle + 180.0) % 360.0 - 180.0


def _off_axis(angle):
    """Degrees from ``angle`` to the nearest of 0, 90, 180 and 270 (0..45)."""
    return abs(_wrap(angle - 90.0 * round(angle / 90.0)))


def iou(a, b):
    """Overlap of two ``(x, y, w, h)`` boxes: intersection area / union area, 0..1."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = min(ax + aw, bx + bw) - max(ax, bx)
    h = min(ay + ah, by + bh) - max(ay, by)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (aw * ah + bw * bh - inter)


def merge_duplicates(faces, overlap=0.3):
    """Keep the best-scoring face of every group of boxes overlapping by more than ``overlap``
    (IoU), best first."""
    return [faces[i] for i in distinct(faces, overlap)]


def distinct(faces, overlap=0.3):
    """The indices of the faces :func:`merge_duplicates` keeps, best-scoring first."""
    kept = []
    for i in sorted(range(len(faces)), key=lambda i: -faces[i].score):
        if all(iou(faces[i].box, faces[k].box) <= overlap for k in kept):
            kept.append(i)
    return kept


def as_bgr(image):
    """A grey, BGR or BGRA uint8 image -> BGR (what the CNN detector takes)."""
    image = np.asarray(image)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.shape[2] == 1:
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    return image


class FaceDetector:
    """What every face detector does; subclasses implement :meth:`detect_upright`.

    Settings (sizes in pixels): ``side``: long side of the copy the upright search runs on
    (None: the photo's own size). ``angles``: the turns searched (0, 90, 180, 270 are possible).
    ``turned_side``: long side of the turned copies. ``min_score``: faces below it are dropped.
    ``candidate_score``: faces between it and ``sure_score`` (default ``min_score``), and faces
    far from upright in their copy, are checked by :meth:`detect_near` before they are kept or
    dropped.
    """

    side = 640
    needs_colour = True
    shrink_with = cv2.INTER_LINEAR
    angles = (0,)
    turned_side = 320
    # Diagonal turns (e.g. 45, 135, 225, 315) searched as well when the photo seems turned: when
    # the copies at ``angles`` found no face, or a face more than ``diagonal_tilt`` degrees from
    # their axes, or a candidate scoring ``diagonal_score`` that its check did not confirm.
    diagonal_angles = ()
    diagonal_tilt = 15.0
    diagonal_score = 0.6
    diagonal_side = None  # long side of the diagonal copies (None: ``side``, the upright one's)
    min_score = 0.0
    candidate_score = 0.0
    sure_score = None  # None: min_score
    # A face more than this far from upright in the copy it was found in is checked upright.
    max_tilt = 25.0
    # Side of the picture a candidate is checked in (pixels).
    check_pixels = 96
    # Side of the picture a video tracker checks a followed face in (pixels): the face is about
    # half of it, whatever its size in the frame.
    track_pixels = 128
    # Turns (degrees) of the upright picture a candidate is checked in: the first look that
    # scores ``sure_score`` wins, else the best-scoring one.
    check_turns = (0,)

    @property
    def sure(self):
        """The score at which a face needs no check: ``sure_score``, or ``min_score`` if None."""
        return self.min_score if self.sure_score is None else self.sure_score

    def detect_upright(self, image, side=None, min_score=None):
        """Faces of one picture as it is (no turned copies): list of :class:`Face` in its pixels.
        ``image``: BGR (or grey) uint8; ``side``: detect on a copy at most this long."""
        raise NotImplementedError

    def detect(self, image):
        """Every face of a photo (grey, BGR or BGRA uint8), at the angles this detector searches:
        a list of :class:`Face` in photo pixels, left to right."""
        small, scale = _shrunk(self.prepare(image), self.side, self.shrink_with)
        copies = {}  # shrunk copies by side, shared by the turned copies
        candidates = [pair for angle in self.angles for pair in
                      self._candidates(small, angle, self.turned_side if angle else None, copies)]
        faces, unconfirmed = self._checked(small, candidates)
        if self.diagonal_angles and (
                not faces or any(_off_axis(f.angle) > self.diagonal_tilt for f in faces)
                or any(f.score >= self.diagonal_score for f in unconfirmed)):
            # A face found again needs no check: it replaces the first find if it scores better.
            more = [(face, sure) for angle in self.diagonal_angles for face, sure in
                    self._candidates(small, angle, self.diagonal_side or self.side, copies)
                    if sure or all(iou(face.box, kept.box) <= 0.3 for kept in faces)]
            faces = merge_duplicates(faces + self._checked(small, more)[0])
        return sorted((f.moved(_scaling(1 / scale)) for f in faces), key=lambda f: f.box[0])

    def detect_turned(self, image, angle, side=None, known=()):
        """The faces found in one copy of the photo turned by ``angle`` (0, 90, 180 or 270
        degrees counter-clockwise), searched at most ``side`` pixels long (default: this
        detector's size for that copy): a list of :class:`Face` in photo pixels. ``known``:
        boxes ``(x, y, w, h)`` in photo pixels of faces known already (a tracker's); candidates
        that overlap one (IoU 0.1 or more) are dropped before any check is spent on them."""
        side = side or (self.side if angle == 0 else self.turned_side)
        small, scale = _shrunk(self.prepare(image), side, self.shrink_with)
        known = [np.multiply(box, scale) for box in known]
        candidates = [(face, sure) for face, sure in self._candidates(small, angle, None)
                      if all(iou(face.box, box) < 0.1 for box in known)]
        faces, _ = self._checked(small, candidates)
        return [f.moved(_scaling(1 / scale)) for f in faces]

    def prepare(self, image):
        """The picture this detector works on: BGR (CNN) or grey (Haar) uint8."""
        return as_bgr(image) if self.needs_colour else _as_grey(image)

    def _candidates(self, image, angle, side, copies=None):
        """Faces in ``image`` turned by ``angle`` and shrunk to ``side``, in ``image``'s pixels,
        as ``(face, sure)`` pairs: ``sure`` when it may be kept without a second look.
        ``copies``: a dict that keeps the shrunk copies for the other angles."""
        if angle % 90 and side:  # a diagonal copy grows by up to sqrt(2): shrink it first
            side = round(side / np.sqrt(2))
        copies = {} if copies is None else copies
        if side not in copies:
            copies[side] = _shrunk(image, side, self.shrink_with)
        small, scale = copies[side]
        turned, back = _turn(small, angle)
        back = crops.compose(_scaling(1 / scale), back)
        return [(face.moved(back),
                 face.score >= self.sure and abs(_wrap(face.angle)) <= self.max_tilt)
                for face in self.detect_upright(turned, None, self.candidate_score)]

    def _checked(self, image, candidates):
        """Merge duplicates, then check the faces that need it (see the module notes): the faces
        kept, and the candidates whose check did not confirm them."""
        sure = {id(face): ok for face, ok in candidates}
        merged = merge_duplicates([face for face, _ in candidates])
        doubtful = [face for face in merged if not sure[id(face)]]
        checked = dict(zip(map(id, doubtful), self._check(image, doubtful)))
        faces, unconfirmed = [], []
        for candidate in merged:
            face = checked.get(id(candidate), candidate)
            if face is not None and face.score >= self.min_score:
                faces.append(face)
            else:
                unconfirmed.append(candidate)
        return merge_duplicates(faces), unconfirmed

    def _check(self, image, faces):
        """For each candidate, the best-scoring face found near it in an upright picture of its
        own turned by each of :attr:`check_turns` (the first look that scores ``sure_score``
        wins), or None. All looks at all candidates go to the detector in one call."""
        centre = (crops.IMAGE_SIZE - 1) / 2
        turns = [cv2.getRotationMatrix2D((centre, centre), turn, 1.0) for turn in self.check_turns]
        looks = self.detect_near(image, [crops.compose(turn, face.transform())
                                         for face in faces for turn in turns],
                                 1.0, self.check_pixels)
        kept = []
        for first in range(0, len(looks), len(turns)):  # each candidate's looks, in turn order
            best = None
            for found in looks[first:first + len(turns)]:
                if found is not None and (best is None or found.score > best.score):
                    best = found
                if best is not None and best.score >= self.sure:
                    break
            kept.append(best)
        return kept

    def detect_near(self, image, transforms, margin=0.5, pixels=160):
        """Look for one face where each crop transform (:mod:`.crops`) of ``transforms`` says a
        face is: in a ``pixels``-square picture turned like that crop (so the face is upright in
        it), reaching ``margin`` face sizes beyond the crop on each side. Returns, per transform,
        the :class:`Face` nearest the picture's centre, in photo pixels, or None. YuNet looks at
        all the pictures in one call."""
        if not len(transforms):
            return []
        zoom = pixels / (crops.IMAGE_SIZE * (1.0 + 2.0 * margin))  # picture px per crop px
        shift = (pixels - 1) / 2 - zoom * (crops.IMAGE_SIZE - 1) / 2  # crop centre -> middle
        to_patches = [crops.compose(np.array([[zoom, 0, shift], [0, zoom, shift]]), transform)
                      for transform in transforms]
        pictures = [crops.warp(image, to_patch, (pixels, pixels), blocks=True)
                    for to_patch in to_patches]
        middle = (pixels - 1) / 2

        def distance(face):
            x, y, w, h = face.box
            return np.hypot(x + w / 2 - middle, y + h / 2 - middle)

        nearest = []
        for found, to_patch in zip(self._detect_each(pictures), to_patches):
            best = min(found, key=distance, default=None)
            nearest.append(None if best is None or distance(best) > 0.25 * pixels
                           else best.moved(crops.invert(to_patch)))
        return nearest

    def _detect_each(self, pictures):
        """:meth:`detect_upright` of each of several pictures of one size (scores down to
        ``candidate_score``); detectors that can look at them all in one call override this."""
        return [self.detect_upright(picture, None, self.candidate_score) for picture in pictures]


def _scaling(factor):
    """2x3 transform from the pixels of a picture to those of a copy ``factor`` times as large
    (pixel centres at integers)."""
    shift = 0.5 * factor - 0.5
    return np.array([[factor, 0, shift], [0, factor, shift]])


def _turn(image, angle):
    """``image`` turned by ``angle`` degrees counter-clockwise on screen (on a canvas grown to hold
    all of it), and the 2x3 transform from its pixels back to ``image``'s."""
    height, width = image.shape[:2]
    if angle % 90 == 0:
        turned = image if angle % 360 == 0 else cv2.rotate(image, _ROTATIONS[angle % 360])
        return turned, _unturn(angle % 360, width, height)
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    size = (int(np.ceil(height * sin + width * cos)), int(np.ceil(height * cos + width * sin)))
    matrix[:, 2] += ((size[0] - 1) / 2 - (width - 1) / 2, (size[1] - 1) / 2 - (height - 1) / 2)
    return cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR), crops.invert(matrix)


def _unturn(angle, width, height):
    """2x3 transform from the pixels of the photo turned by ``angle`` (counter-clockwise on
    screen, as :data:`_ROTATIONS`) back to the photo's pixels."""
    if angle == 0:
        return np.array([[1.0, 0, 0], [0, 1.0, 0]])
    if angle == 90:  # turned[i, j] = photo[j, W-1-i]
        return np.array([[0, -1.0, width - 1], [1.0, 0, 0]])
    if angle == 180:
        return np.array([[-1.0, 0, width - 1], [0, -1.0, height - 1]])
    if angle == 270:  # turned[i, j] = photo[H-1-j, i]
        return np.array([[0, 1.0, 0], [-1.0, 0, height - 1]])
    raise ValueError(f"turned copies must be turned by 0, 90, 180 or 270 degrees, not {angle}")


def _as_grey(image):
    image = np.asarray(image)
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    if image.shape[2] == 1:
        return image[:, :, 0]
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _shrunk(image, side, interpolation=cv2.INTER_LINEAR):
    """``image`` shrunk so its long side is at most ``side``, and the factor used. Bilinear by
    default: on a 12-megapixel photo it is ten times faster than area averaging, and YuNet finds
    the same AFW faces on either copy."""
    height, width = image.shape[:2]
    if not side or max(height, width) <= side:
        return image, 1.0
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=interpolation), scale


class YuNetDetector(FaceDetector):
    """YuNet (``detector_architectures/``, MIT licence) run by ONNX Runtime.

    The network is the published one with its input size left free
    (``detector_architectures/make_yunet_any_size.py``); its outputs are decoded exactly as
    OpenCV's ``cv2.FaceDetectorYN`` decodes them (:func:`_yunet_faces`), which finds the same
    faces, faster (AFW photos shrunk to 480 pixels, decoding included: 5.2 against 9.0 ms a
    picture on 2 threads, ``benchmarks/yunet_runtime.py``). ``threads``: ONNX Runtime's threads
    (:func:`~.runtime.onnx_session`).

    ``min_score`` 0.7: the faces kept. ``candidate_score`` 0.2: weaker hits that are checked in an
    upright picture of their own (``check_pixels`` square); faces turned by about 45 degrees score
    low in every copy, and this check is what finds them. Their landmarks lean towards the copy's
    axis, so the angle they give may be 20 to 40 degrees off: the check also looks turned by each
    of ``check_turns`` and keeps the best score (on the first 60 AFW photos turned by 45
    degrees, with a model two before the shipped one: 0.63 of the faces with an NME under 0.10
    instead of 0.43; `python benchmarks/afw.py --turned 45 --limit 60 --yunet 'check_turns=[0]'`
    for the old way). ``sure_score`` 0.9: such a face may also score 0.7 to 0.9 in a copy, with
    landmarks that call it upright, and the keypoint model, cut along them, agrees; only faces
    scoring at least 0.9 are kept unchecked (the first 60 AFW photos turned by 45 degrees, the
    model before the shipped one: 0.78 of the faces with an NME under 0.10 instead of 0.68;
    ``--yunet sure_score=0.7`` for the old way). ``check_pixels`` 128: in a 96-pixel picture the
    check lost some small faces (on the first 60 AFW photos turned by 45 degrees, 81% of the
    faces found instead of 85%). ``side`` 480 and ``turned_side`` 256: long sides of the copies
    searched (the photo itself is cropped at full resolution).
    ``diagonal_angles`` (45, 135, 225, 315), searched where a face is more than ``diagonal_tilt``
    (15) degrees off every axis, none was found, or a candidate scoring ``diagonal_score`` (0.6)
    was not confirmed by its check (a face at 45 degrees beside upright ones), on copies as large
    as the upright one (``diagonal_side``): on the first 60 AFW photos turned by 45 / -45
    degrees, 0.904 / 0.933 of the faces with an NME under 0.10 instead of 0.788 / 0.808
    (``--yunet 'diagonal_angles=[]'`` for the old way; 0.885 / 0.894 on 256-pixel copies). 54 of
    the 185 upright AFW photos get this search: 28 for a tilted face (23 at 25 degrees, which
    misses a face whose landmarks lean 22 degrees towards the axis), the others for a hit that
    was not confirmed.
    Figures for these settings: ``benchmarks/afw.py`` (README).
    """

    needs_colour = True
    # YuNet finds a face of 48 pixels as well as one of 64, in two thirds of the time: on
    # `benchmarks/pipeline.py`'s videos the tracker follows the faces as closely with 96 as with
    # 128, and drops a face that left as soon.
    track_pixels = 96

    def __init__(self, path=None, side=480, angles=(0, 90, 180, 270), turned_side=256,
                 diagonal_angles=(45, 135, 225, 315), diagonal_tilt=15.0, diagonal_score=0.6,
                 diagonal_side=None, min_score=0.7, candidate_score=0.2, sure_score=0.9,
                 nms_threshold=0.3, check_pixels=128, check_turns=(0, 45, -45), threads=None):
        self.path = Path(path) if path is not None else YUNET_PATH
        if not self.path.is_file():
            raise FileNotFoundError(f"YuNet face detector file not found: {self.path}")
        self.side, self.angles, self.turned_side = side, tuple(angles), turned_side
        self.diagonal_angles, self.diagonal_tilt = tuple(diagonal_angles), diagonal_tilt
        self.diagonal_score, self.diagonal_side = diagonal_score, diagonal_side
        self.min_score, self.candidate_score = min_score, candidate_score
        self.sure_score, self.nms_threshold = sure_score, nms_threshold
        self.check_pixels = check_pixels
        self.check_turns = tuple(check_turns)
        self._session = onnx_session(self.path, threads)
        self._input = self._session.get_inputs()[0].name
        self._outputs = [output.name for output in self._session.get_outputs()]
        if not {f"{kind}_{stride}" for kind in ("cls", "obj", "bbox", "kps")
                for stride in (8, 16, 32)} <= set(self._outputs):
            raise InputError(f"{self.path}: not a YuNet face detector (its outputs are "
                             f"{', '.join(self._outputs)})")

    def __repr__(self):
        return (f"YuNetDetector(side={self.side}, angles={self.angles}, "
                f"turned_side={self.turned_side}, min_score={self.min_score})")

    def detect_upright(self, image, side=None, min_score=None):
        image = as_bgr(image)
        found = []
        small, scale = _shrunk(image, side, self.shrink_with)
        found += self._run(small, scale)
        # Faces filling most of the picture are larger than YuNet's largest anchors at this size:
        # look again on a copy a third as large (a ninth of the time).
        if max(small.shape[:2]) > _ONE_COPY_UP_TO:
            tiny, tiny_scale = _shrunk(image, max(small.shape[:2]) // 3, self.shrink_with)
            large = 0.25 * max(small.shape[:2]) / scale  # photo pixels
            found += [f for f in self._run(tiny, tiny_scale) if f.box[2] > large]
        threshold = self.candidate_score if min_score is None else min_score
        return merge_duplicates([f for f in found if f.score >= threshold])

    def _detect_each(self, pictures):
        # Small pictures (the checks) need no second, smaller copy: one batch, one call.
        if not pictures or max(pictures[0].shape[:2]) > _ONE_COPY_UP_TO:
            return super()._detect_each(pictures)
        return [merge_duplicates(faces) for faces in self._run(pictures, 1.0)]

    def _run(self, images, scale):
        """YuNet's faces in a picture (or in each of a list of same-sized pictures: one call)
        shrunk ``scale`` times from the photo, in photo pixels, down to ``candidate_score``."""
        if isinstance(images, np.ndarray):
            return self._run([images], scale)[0]
        if not len(images):
            return []
        # Padded (black, right and bottom) to whole multiples of 32 pixels, as the network needs.
        height, width = images[0].shape[:2]
        blob = np.stack([cv2.copyMakeBorder(as_bgr(image), 0, -height % 32, 0, -width % 32,
                                            cv2.BORDER_CONSTANT) for image in images])
        blob = np.ascontiguousarray(blob.transpose(0, 3, 1, 2), dtype=np.float32)
        outputs = dict(zip(self._outputs, self._session.run(self._outputs, {self._input: blob})))
        return [[_face_from_row(row, scale) for row in rows] for rows in _yunet_faces(
            outputs, len(images), blob.shape[2], blob.shape[3], self.candidate_score,
            self.nms_threshold)]


def _face_from_row(row, scale):
    """A :class:`Face` in photo pixels from a row of :func:`_yunet_faces` found on a copy shrunk
    ``scale`` times."""
    landmarks = row[4:14].reshape(5, 2).astype(np.float64)
    # pixel centres: detector pixel u covers photo [(u - 0.5) / s - 0.5 + ...]
    landmarks = (landmarks + 0.5) / scale - 0.5
    x, y, w, h = (float(v) / scale for v in row[:4])
    return Face((x, y, w, h), float(row[14]), landmarks, eye_angle(landmarks), max(w, h))


def _yunet_faces(outputs, count, height, width, min_score, nms_threshold):
    """Decode YuNet's raw outputs for ``count`` pictures of ``height`` x ``width`` pixels
    (multiples of 32) as OpenCV's ``cv2.FaceDetectorYN`` does: per picture, ``(N, 15)`` rows of
    box x, y, w, h, five landmarks (x, y) and score, in the picture's pixels, best first after
    non-maximum suppression.

    Each cell of the 8-, 16- and 32-pixel grids predicts one face: a class and an objectness
    probability (score: their geometric mean), the box centre and landmarks as offsets from the
    cell's corner in cells, and the box size as the log of cells. The outputs hold the pictures'
    cells one picture after another."""
    hits, picture_of = [], []  # rows found, and the picture each is in
    for stride in (8, 16, 32):
        cls = np.clip(outputs[f"cls_{stride}"].reshape(-1), 0, 1)
        obj = np.clip(outputs[f"obj_{stride}"].reshape(-1), 0, 1)
        score = np.sqrt(cls * obj)
        cells = np.flatnonzero(score >= min_score)
        if not len(cells):
            continue
        picture, cell = np.divmod(cells, len(score) // count)
        grid_row, grid_column = np.divmod(cell, width // stride)
        corner = np.column_stack([grid_column, grid_row]).astype(np.float32)
        box = outputs[f"bbox_{stride}"].reshape(-1, 4)[cells]
        centre = (corner + box[:, :2]) * stride
        size = np.exp(box[:, 2:]) * stride
        offsets = outputs[f"kps_{stride}"].reshape(-1, 5, 2)[cells]
        landmarks = (offsets + corner[:, None]) * stride
        hits.append(np.column_stack([centre - size / 2, size, landmarks.reshape(-1, 10),
                                     score[cells]]))
        picture_of.append(picture)
    found = [np.zeros((0, 15), np.float32) for _ in range(count)]
    if not hits:
        return found
    hits, picture_of = np.concatenate(hits), np.concatenate(picture_of)
    for i in np.unique(picture_of):
        mine = hits[picture_of == i]
        # OpenCV suppresses on boxes cut to whole pixels; so do we, to find the same faces.
        keep = cv2.dnn.NMSBoxes(mine[:, :4].astype(np.int32).tolist(), mine[:, 14].tolist(),
                                min_score, nms_threshold, top_k=5000)
        found[i] = mine[np.asarray(keep, dtype=int).ravel()]
    return found


class HaarDetector(FaceDetector):
    """OpenCV's Haar cascade face detector (the original project's), loaded once.

    Settings (photo pixels where they are sizes): ``scale_factor``, ``min_neighbors``: passed to
    ``detectMultiScale``; the training crops were made with (1.1, 5), the original project used
    (1.25, 6). ``min_size``: smallest face side searched. ``max_side``: photos whose long side is
    larger are searched on a copy this long (None: full size). ``angles``: also search turned
    copies (default upright only, as the original). Boxes are square; scores are always 1.
    """

    needs_colour = False
    shrink_with = cv2.INTER_AREA  # as the training data's crops were found

    def __init__(self, path=None, scale_factor=1.1, min_neighbors=5, min_size=24, max_side=1600,
                 angles=(0,)):
        self.path = Path(path) if path is not None else CASCADE_PATH
        if not self.path.is_file():
            raise FileNotFoundError(f"Haar cascade file not found: {self.path}")
        if not hasattr(cv2, "CascadeClassifier"):
            raise InputError("this OpenCV has no Haar cascades (OpenCV 5 dropped them): "
                              "pip install 'opencv-python>=4.8,<5'")
        try:
            self.cascade = cv2.CascadeClassifier(str(self.path))
        except (cv2.error, SystemError):  # OpenCV raises on some malformed files
            self.cascade = None
        if self.cascade is None or self.cascade.empty():
            raise InputError(f"could not load a Haar cascade from {self.path} "
                             "(is it an OpenCV cascade XML file?)")
        self.scale_factor, self.min_neighbors = scale_factor, min_neighbors
        self.min_size, self.side, self.turned_side = min_size, max_side, max_side
        self.angles = tuple(angles)

    @property
    def max_side(self):
        return self.side

    def __repr__(self):
        return (f"HaarDetector(scale_factor={self.scale_factor}, min_neighbors={self.min_neighbors}"
                f", min_size={self.min_size}, max_side={self.side}, angles={self.angles})")

    def detect_upright(self, image, side=None, min_score=None, min_size=None, max_size=None):
        """Also takes ``min_size`` / ``max_size``: face side range in photo pixels."""
        gray, scale = _shrunk(_as_grey(image), side, self.shrink_with)
        low = max(1, round((min_size or self.min_size) * scale))
        high = round(max_size * scale) if max_size else 0
        if high and high < low:
            return []
        found = self.cascade.detectMultiScale(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(low, low), maxSize=(high, high))
        return [Face(tuple(float(round(float(v) / scale)) for v in box), 1.0)
                for box in np.reshape(found, (-1, 4))]


def load_detector(name="yunet", **settings):
    """A detector by name: ``"yunet"`` (default) or ``"haar"``; ``settings`` go to its class."""
    detectors = {"yunet": YuNetDetector, "haar": HaarDetector}
    if name not in detectors:
        raise InputError(f"unknown face detector {name!r}: choose one of {sorted(detectors)}")
    return detectors[name](**settings)
