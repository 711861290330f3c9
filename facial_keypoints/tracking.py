"""Following faces from one video frame to the next, cheaply: the keypoint model is the tracker.

Each face is followed by its crop transform (:mod:`.crops`): the upright, training-framed crop of
the next frame is cut from the keypoints of this one (:func:`~.crops.from_keypoints`), so a face
that moves, nears or turns (at any angle) is followed with no face detection at all. The
detector only checks in now and then:

* every ``anchor_every`` frames each face is looked for in a small picture cut upright around it
  (:meth:`~.detectors.FaceDetector.detect_near`, one small picture a face). A face that is no
  longer there is missed and, after ``max_misses`` misses in a row, dropped. Where the detector's
  crop and the keypoints' crop disagree (their boxes overlap by less than
  :data:`REANCHOR_OVERLAP`), the detector's takes over: this keeps the crops from drifting, while
  a face the keypoints follow well keeps their steadier crop;
* every ``redetect_every`` frames (and whenever a face was missed) the whole frame is searched on
  a copy at most ``detect_side`` pixels long, to pick up new faces; the turned copies (90, 180 and
  270 degrees) follow on the next frames, one per frame, so that no frame pays for all four;
* a face is also looked for near where it is whenever its keypoints look wrong: a crop that
  jumped, grew or shrank too much, or left the frame.

Faces are matched between searches by the overlap (IoU) of their boxes
(:func:`~.crops.face_box`). Everything is in photo pixels.
"""

import numpy as np

from . import crops
from .detectors import iou, load_detector

# A crop from keypoints is trusted only if, against the face's last crop, its size changed by less
# than this factor and its centre moved by less than this share of the face's size.
MAX_SIZE_CHANGE = 1.25
MAX_MOVE = 0.5
# A check near a face replaces the keypoints' crop by the detector's when their boxes overlap
# (IoU) by less than this.
REANCHOR_OVERLAP = 0.9


def match_boxes(old, new, threshold=0.3):
    """Pair boxes of two frames by IoU, best overlaps first: list of ``(i_old, j_new)``."""
    pairs = sorted(((iou(a, b), i, j) for i, a in enumerate(old) for j, b in enumerate(new)),
                   reverse=True)
    used_old, used_new, matches = set(), set(), []
    for overlap, i, j in pairs:
        if overlap < threshold:
            break
        if i not in used_old and j not in used_new:
            used_old.add(i), used_new.add(j)
            matches.append((i, j))
    return matches


def plausible(transform, last_transform, frame_shape):
    """True if a face may move from ``last_transform``'s crop to ``transform``'s in one frame: its
    size changed by less than :data:`MAX_SIZE_CHANGE`, its centre moved less than
    :data:`MAX_MOVE` face sizes, and its centre is inside the frame (``(height, width)``)."""
    x, y, side, _ = crops.face_box(transform)
    last_x, last_y, last_side, _ = crops.face_box(last_transform)
    change = side / max(last_side, 1e-6)
    move = np.hypot(x + side / 2 - last_x - last_side / 2, y + side / 2 - last_y - last_side / 2)
    height, width = frame_shape[:2]
    return bool(1 / MAX_SIZE_CHANGE < change < MAX_SIZE_CHANGE and move < MAX_MOVE * last_side
                and 0 <= x + side / 2 < width and 0 <= y + side / 2 < height)


class Track:
    """One face being followed.

    ``transform``: its crop transform in the current frame (photo -> crop pixels). ``score``: the
    detector's last score for it. ``anchored``: True when the detector found it this frame.
    ``since_anchor``: frames since then. ``misses``: detector checks in a row that did not find
    it. ``points``: its raw keypoints in the last frame, ``(15, 2)`` photo pixels.
    ``smoother`` and ``keypoints``: left to the caller (the sunglasses filter smooths there).
    """

    def __init__(self, face):
        self.points = self.smoother = self.keypoints = None
        self.anchor(face)

    def anchor(self, face):
        """Set the crop to the one a detected :class:`~.detectors.Face` gives."""
        self.transform, self.score = face.transform(), face.score
        self.anchored, self.since_anchor, self.misses = True, 0, 0

    def seen(self, face):
        """The detector found this face again: keep the current crop unless the detector's
        disagrees (:data:`REANCHOR_OVERLAP`). A face without landmarks (Haar) is always set back
        to the detector's box, which is exactly how the training crops were framed."""
        if (face.landmarks is None
                or iou(crops.face_box(face.transform()), self.box) < REANCHOR_OVERLAP):
            self.anchor(face)
        else:
            self.score, self.anchored, self.since_anchor, self.misses = face.score, True, 0, 0

    @property
    def box(self):
        """Where the face is: ``(x, y, w, h)`` photo pixels (:func:`~.crops.face_box`)."""
        return crops.face_box(self.transform)

    def from_keypoints(self, frame_shape):
        """Next frame's crop from this frame's keypoints, or None when there are none yet or the
        crop is implausible (:func:`plausible`)."""
        if self.points is None or not np.isfinite(self.points).all():
            return None
        transform = crops.from_keypoints(self.points)
        return transform if plausible(transform, self.transform, frame_shape) else None


class FaceTracker:
    """Keeps a list of :class:`Track` up to date, one frame at a time (see the module notes).

    ``detector``: a :class:`~.detectors.FaceDetector` (default YuNet). ``redetect_every``: frames
    between full-frame searches. ``anchor_every``: frames between checks near each face (1: every
    frame). ``max_misses``: checks in a row that may miss a face before it is dropped. A face
    that leaves is thus dropped within ``anchor_every + max_misses`` frames: after a missed
    check every frame is searched. Checking every 4th frame rather than every 2nd halves the
    checks' cost and follows the faces as closely: in ``benchmarks/pipeline.py`` the mean IoU
    with full-frame detection was 0.930 and 0.890 (one face, three) against 0.931 and 0.889.
    ``detect_side``: long side of the copy a full-frame search runs on; ``turned_side``: that of
    its turned copies. ``check_pixels``: side of the picture a check near a face runs on
    (default: the detector's :attr:`~.detectors.FaceDetector.track_pixels`).

    Per frame: :meth:`follow` gives the crop transforms, then :meth:`observe` takes the keypoints
    predicted in those crops.
    """

    def __init__(self, detector=None, redetect_every=30, anchor_every=4, max_misses=3,
                 detect_side=320, turned_side=192, check_pixels=None):
        self.detector = detector or load_detector("yunet")
        self.redetect_every, self.anchor_every = redetect_every, anchor_every
        self.max_misses, self.detect_side = max_misses, detect_side
        self.turned_side = turned_side
        self.check_pixels = check_pixels or self.detector.track_pixels
        self.reset()

    def reset(self):
        """Forget all faces (e.g. before a new video)."""
        self.tracks, self.frame_index, self._search_all, self._turned_next = [], 0, True, []

    def follow(self, frame):
        """This frame's faces (``frame``: BGR or grey uint8): their crop transforms, one per track
        in ``self.tracks``."""
        for track in self.tracks:
            track.anchored = False
            track.since_anchor += 1
        if self._search_all or self.frame_index % self.redetect_every == 0:
            self._search(frame, 0)
            self._turned_next = [a for a in self.detector.angles if a != 0]
        else:
            self._follow(frame)
            if self._turned_next:  # the full search's turned copies, one per frame
                self._search(frame, self._turned_next.pop(0))
        self.frame_index += 1
        self.tracks = [t for t in self.tracks if t.misses <= self.max_misses]
        # Two tracks that drifted onto the same face: keep the older one.
        kept = []
        for track in self.tracks:
            if all(iou(track.box, k.box) < 0.5 for k in kept):
                kept.append(track)
        self.tracks = kept
        return [t.transform for t in self.tracks]

    def observe(self, points):
        """The raw keypoints predicted in this frame's crops: ``(N, 15, 2)`` photo pixels, in the
        order of :meth:`follow`'s transforms."""
        for track, p in zip(self.tracks, points):
            track.points = np.asarray(p)

    def _search(self, frame, angle):
        if angle == 0:  # a full search instead of the checks: first follow faces by keypoints
            for track in self.tracks:
                track.transform = _first(track.from_keypoints(frame.shape), track.transform)
        # A turned copy only adds faces: YuNet also scores a face upside down fairly high, so a
        # followed face seen there again must not be re-anchored to that reading of it (nor a
        # check spent on it: the detector drops what overlaps the known faces before checking).
        known = [t.box for t in self.tracks] if angle else []
        found = self.detector.detect_turned(frame, angle,
                                            self.turned_side if angle else self.detect_side, known)
        boxes = [crops.face_box(f.transform()) for f in found]
        if angle:  # a checked face may have moved onto a known one
            found = [f for f, b in zip(found, boxes) if all(iou(b, k) < 0.1 for k in known)]
            boxes = [crops.face_box(f.transform()) for f in found]
        matches = match_boxes([t.box for t in self.tracks], boxes)
        for i, j in matches:
            self.tracks[i].seen(found[j])
        if angle == 0:  # an upright search at low resolution missed it: check near it next
            for track in self.tracks:
                track.misses += not track.anchored
        matched_found = {j for _, j in matches}
        self.tracks += [Track(face) for j, face in enumerate(found) if j not in matched_found]
        self._search_all = False

    def _follow(self, frame):
        """Each face to where its keypoints put it; the faces due a check (or whose keypoints
        look wrong) are looked for there, all in one call to the detector."""
        due = []
        for track in self.tracks:
            transform = track.from_keypoints(frame.shape)
            if transform is not None:
                track.transform = transform
            if transform is None or track.misses or track.since_anchor >= self.anchor_every:
                due.append(track)
        looks = self.detector.detect_near(frame, [t.transform for t in due],
                                          pixels=self.check_pixels)
        for track, face in zip(due, looks):
            if face is not None and face.score >= self.detector.min_score:
                track.seen(face)
            else:
                track.misses += 1
                self._search_all = True  # look everywhere next frame


def _first(*transforms):
    """The first of ``transforms`` that is not None."""
    return next(t for t in transforms if t is not None)
