"""Following faces from one video frame to the next, cheaply: the keypoint model is the tracker.

A face's box for the next frame is taken from its keypoints in this frame
(:func:`~.faces.box_from_keypoints`), so most frames need no face detection at all. The Haar
detector only checks in now and then:

* every ``redetect_every`` frames (and whenever a face was lost) the whole frame is searched, on a
  copy at most ``detect_side`` pixels long, to pick up new faces;
* every ``anchor_every`` frames each face is looked for near where it is (:func:`detect_near`),
  and its box is set back to the Haar box. This re-anchoring keeps the boxes from drifting;
* a face is also looked for near where it is whenever its keypoints look wrong: a box that
  jumped, grew or shrank too much, or left the frame.

The model was trained on crops framed by Haar, and the box fitted to a face's keypoints frames it a
little differently (e.g. tighter for a long face). At each anchor the tracker measures that
difference (:func:`framing`) and applies it to the keypoint boxes until the next anchor
(:func:`reframe`), so the model keeps seeing its faces framed the way it was trained.

Faces are matched between full searches by the overlap (IoU) of their boxes. Boxes are
``(x, y, w, h)`` in photo pixels, as everywhere in the package.
"""

import cv2
import numpy as np

from .faces import HaarDetector, box_from_keypoints

# A box from keypoints is trusted only if, against the face's last box, its side changed by less
# than this factor and its centre moved by less than this share of the side.
MAX_SIZE_CHANGE = 1.25
MAX_MOVE = 0.5


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


def detect_near(detector, gray, box, search=0.5, face_pixels=64):
    """Look for the face that was at ``box`` (photo pixels) in a region around it.

    The region reaches ``search`` box sides beyond the box on every side, and is shrunk so the
    face is about ``face_pixels`` pixels wide before detection; only faces from 0.7x to 1.4x the
    old size are accepted. Returns the best-overlapping box in photo pixels, or None.
    About 1 to 2 ms for any face size with the defaults (a 192-pixel square region).
    """
    x, y, w, h = box
    height, width = gray.shape[:2]
    x0, y0 = max(0, int(x - search * w)), max(0, int(y - search * h))
    x1, y1 = min(width, int(x + w + search * w)), min(height, int(y + h + search * h))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    region = gray[y0:y1, x0:x1]
    scale = min(1.0, face_pixels / max(w, 1))
    if scale < 1.0:
        size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
        region = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
    found = detector.detect(region, min_size=0.7 * w * scale, max_size=1.4 * w * scale)
    found = [(round(fx / scale) + x0, round(fy / scale) + y0, round(fw / scale), round(fh / scale))
             for fx, fy, fw, fh in found]
    best = max(found, key=lambda b: iou(b, box), default=None)
    return best if best is not None and iou(best, box) > 0.2 else None


def framing(haar_box, keypoint_box):
    """How Haar framed a face compared with the box fitted to its keypoints: ``(dx, dy, scale)``.

    ``dx``, ``dy``: shift of the Haar box's top-left corner, in keypoint-box sides; ``scale``: Haar
    side / keypoint-box side. ``(0, 0, 1)`` when they agree. See :func:`reframe`.
    """
    hx, hy, hside, _ = haar_box
    kx, ky, kside, _ = keypoint_box
    return (hx - kx) / kside, (hy - ky) / kside, hside / kside


def reframe(keypoint_box, shift_and_scale):
    """A box fitted to keypoints, framed the way Haar framed that face: the inverse of
    :func:`framing`. Returns an ``(x, y, w, h)`` integer box in photo pixels."""
    kx, ky, kside, _ = keypoint_box
    dx, dy, scale = shift_and_scale
    side = max(1, int(round(kside * scale)))
    return int(round(kx + dx * kside)), int(round(ky + dy * kside)), side, side


def plausible(box, last_box, frame_shape):
    """True if a face may move from ``last_box`` to ``box`` in one frame: its side changed by less
    than :data:`MAX_SIZE_CHANGE`, its centre moved less than :data:`MAX_MOVE` sides, and its centre
    is inside the frame (``frame_shape``: ``(height, width)``)."""
    x, y, side, _ = box
    last_x, last_y, last_side, _ = last_box
    change = side / max(last_side, 1)
    move = np.hypot(x + side / 2 - last_x - last_side / 2, y + side / 2 - last_y - last_side / 2)
    height, width = frame_shape[:2]
    return (1 / MAX_SIZE_CHANGE < change < MAX_SIZE_CHANGE and move < MAX_MOVE * last_side
            and 0 <= x + side / 2 < width and 0 <= y + side / 2 < height)


class Track:
    """One face being followed.

    ``box``: where to crop it in the current frame (photo pixels). ``anchored``: True when that box
    came from Haar this frame. ``since_anchor``: frames since then. ``misses``: Haar searches in a
    row that did not find it. ``framing``: see :func:`framing` (None until the first anchor, or
    when the keypoints disagreed too much with Haar). ``points``: its raw keypoints in the last
    frame, ``(15, 2)`` photo pixels. ``smoother`` and ``keypoints``: left to the caller (the
    sunglasses filter keeps its smoothing there).
    """

    def __init__(self, box):
        self.box, self.anchored, self.since_anchor, self.misses = box, True, 0, 0
        self.framing = self.points = self.smoother = self.keypoints = None

    def anchor(self, box):
        """Set the box to one Haar found this frame."""
        self.box, self.anchored, self.since_anchor, self.misses = box, True, 0, 0

    def box_from_keypoints(self, frame_shape):
        """Next frame's box from this frame's keypoints, framed like Haar; None when there are no
        keypoints yet or the box is implausible (see :func:`plausible`)."""
        if self.points is None or self.framing is None or not np.isfinite(self.points).all():
            return None
        box = reframe(box_from_keypoints(self.points), self.framing)
        return box if plausible(box, self.box, frame_shape) else None


class FaceTracker:
    """Keeps a list of :class:`Track` up to date, one frame at a time (see the module notes).

    ``detector``: full-frame face detector, also used near each face (default Haar (1.1, 5) on a
    copy at most ``detect_side`` pixels long). ``redetect_every``: frames between full-frame
    searches. ``anchor_every``: frames between Haar searches near each face (1: every frame).
    ``max_misses``: Haar searches in a row that may miss a face before it is dropped.

    Per frame: :meth:`follow` gives the boxes to crop, then :meth:`observe` takes the keypoints
    predicted in them.
    """

    def __init__(self, detector=None, redetect_every=30, anchor_every=2, max_misses=5,
                 detect_side=320):
        self.detector = detector or HaarDetector(max_side=detect_side)
        self.redetect_every, self.anchor_every = redetect_every, anchor_every
        self.max_misses = max_misses
        self.reset()

    def reset(self):
        """Forget all faces (e.g. before a new video)."""
        self.tracks, self.frame_index, self._search_all = [], 0, True

    def follow(self, gray):
        """Find this frame's faces (``gray``: the frame, grey uint8): returns their boxes, one per
        track in ``self.tracks``, in photo pixels."""
        for track in self.tracks:
            track.anchored = False
            track.since_anchor += 1
        if self._search_all or self.frame_index % self.redetect_every == 0:
            self._search_everywhere(gray)
        else:
            for track in self.tracks:
                self._follow_one(gray, track)
        self.frame_index += 1
        self.tracks = [t for t in self.tracks if t.misses <= self.max_misses]
        # Two tracks that drifted onto the same face: keep the older one.
        kept = []
        for track in self.tracks:
            if all(iou(track.box, k.box) < 0.5 for k in kept):
                kept.append(track)
        self.tracks = kept
        return [t.box for t in self.tracks]

    def observe(self, points):
        """The raw keypoints predicted in this frame's boxes: ``(N, 15, 2)`` photo pixels, in the
        order of :meth:`follow`'s boxes. Measures the framing of faces anchored this frame."""
        for track, p in zip(self.tracks, points):
            track.points = np.asarray(p)
            if track.anchored and np.isfinite(track.points).all():
                shift_and_scale = framing(track.box, box_from_keypoints(track.points))
                dx, dy, scale = shift_and_scale
                agrees = (abs(dx) < MAX_MOVE / 2 and abs(dy) < MAX_MOVE / 2
                          and 1 / MAX_SIZE_CHANGE < scale < MAX_SIZE_CHANGE)
                track.framing = shift_and_scale if agrees else None  # None: anchor again

    def _search_everywhere(self, gray):
        found = self.detector.detect(gray)
        matches = match_boxes([t.box for t in self.tracks], found)
        for i, j in matches:
            self.tracks[i].anchor(found[j])
        matched = {i for i, _ in matches}
        for i, track in enumerate(self.tracks):
            if i not in matched:  # not seen at low resolution: keep following, look near it next
                track.misses += 1
                track.box = track.box_from_keypoints(gray.shape) or track.box
        matched_found = {j for _, j in matches}
        self.tracks += [Track(box) for j, box in enumerate(found) if j not in matched_found]
        self._search_all = False

    def _follow_one(self, gray, track):
        box = track.box_from_keypoints(gray.shape)
        if box is None or track.misses or track.since_anchor >= self.anchor_every:
            found = detect_near(self.detector, gray, box or track.box)
            if found is not None:
                track.anchor(found)
                return
            track.misses += 1
            self._search_all = True  # look everywhere next frame
        if box is not None:
            track.box = box
