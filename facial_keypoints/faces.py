"""Finding faces in a photo, cropping them like the training data, and mapping keypoints back.

The path from a photo to keypoints::

    photo (BGR, BGRA or grey, any size)
      -> grey                         to_gray()
      -> face boxes                   HaarDetector.detect()       photo pixels (x, y, w, h)
      -> 96x96 crops in [0, 1]        crop_faces()                exactly like the training crops
      -> normalised keypoints         predictor.predict()         one call for all faces
      -> photo-pixel keypoints        normalised_to_photo()

:func:`find_keypoints` does all of it.

Boxes are ``(x, y, w, h)`` integer tuples in photo pixels: the box covers pixel columns
``x .. x+w-1`` and rows ``y .. y+h-1``. Boxes are square (``w == h``) and may reach past the photo's
border; the part outside is filled by repeating the edge pixels.

Pixel-centre convention (the same as the training data): pixel ``i`` has its centre at ``i`` and
covers ``[i - 0.5, i + 0.5]``. A square box of side ``w`` is resized to 96 pixels, so one crop pixel
is ``s = w / 96`` photo pixels wide, and::

    photo = box_x + (crop + 0.5) * s - 0.5        crop = (photo - box_x + 0.5) / s - 0.5

(the same for y). The training keypoints were mapped into their crops with exactly this formula.
"""

from pathlib import Path

import cv2
import numpy as np

from .keypoints import IMAGE_SIZE, to_normalised, to_pixels
from .timing import timed

CASCADE_PATH = (Path(__file__).resolve().parent.parent / "detector_architectures"
                / "haarcascade_frontalface_default.xml")

# Mean position of each keypoint in the training crops, in crop pixels (x, y), Kaggle order.
# A face whose keypoints sit here is framed the way the Haar detector frames an average face.
# Used to re-centre a crop on a face (the refinement pass) and to follow faces in a video.
MEAN_KEYPOINTS = np.array([
    [66.0, 38.3], [31.4, 38.8],  # eye centres: left, right
    [59.1, 38.9], [72.5, 38.0],  # left eye inner, outer corner
    [38.2, 39.2], [24.9, 38.6],  # right eye inner, outer corner
    [57.6, 27.6], [79.9, 29.7],  # left eyebrow inner, outer end
    [39.3, 27.9], [16.9, 30.5],  # right eyebrow inner, outer end
    [49.4, 62.0],                # nose tip
    [63.5, 76.1], [35.0, 76.5],  # mouth left, right corner
    [49.5, 72.5], [49.5, 78.7],  # mouth centre top lip, bottom lip
], dtype=np.float32)


class HaarDetector:
    """OpenCV's Haar cascade face detector, loaded once.

    Any object with a ``detect(gray, min_size=None, max_size=None) -> list of (x, y, w, h)``
    method can be used as a detector wherever this one is accepted.

    Settings (photo pixels where they are sizes):

    * ``scale_factor``, ``min_neighbors``: passed to ``detectMultiScale``. The training crops
      were made with (1.1, 5); the original project used (1.25, 6), faster but finding fewer faces.
    * ``min_size``: smallest face side searched, in photo pixels.
    * ``max_side``: photos whose long side is larger are downscaled to this size for detection only
      (faster, and it is what the training data did with 1600); boxes are scaled back to the photo.
      ``None`` detects at full size.
    """

    def __init__(self, path=None, scale_factor=1.1, min_neighbors=5, min_size=24, max_side=1600):
        self.path = Path(path) if path is not None else CASCADE_PATH
        if not self.path.is_file():
            raise FileNotFoundError(f"Haar cascade file not found: {self.path}")
        try:
            self.cascade = cv2.CascadeClassifier(str(self.path))
        except (cv2.error, SystemError):  # OpenCV raises on some malformed files
            self.cascade = None
        if self.cascade is None or self.cascade.empty():
            raise ValueError(f"could not load a Haar cascade from {self.path} "
                             "(is it an OpenCV cascade XML file?)")
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size
        self.max_side = max_side

    def __repr__(self):
        return (f"HaarDetector(scale_factor={self.scale_factor}, min_neighbors={self.min_neighbors}"
                f", min_size={self.min_size}, max_side={self.max_side})")

    def detect(self, gray, min_size=None, max_size=None):
        """Faces in a grey uint8 image -> list of square ``(x, y, w, h)`` boxes in its pixels.

        ``min_size`` / ``max_size`` (face side in photo pixels) override the detector's range for
        this call; the live stream uses them to look for a face of about the size it was.
        """
        gray = to_gray(gray)
        height, width = gray.shape
        scale = 1.0
        if self.max_side and max(height, width) > self.max_side:
            scale = self.max_side / max(height, width)
            gray = cv2.resize(gray, (max(1, round(width * scale)), max(1, round(height * scale))),
                              interpolation=cv2.INTER_AREA)
        low = max(1, round((min_size or self.min_size) * scale))
        high = round(max_size * scale) if max_size else 0
        if high and high < low:
            return []
        found = self.cascade.detectMultiScale(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(low, low), maxSize=(high, high))
        return [tuple(int(round(v / scale)) for v in box) for box in np.reshape(found, (-1, 4))]


def to_gray(image):
    """A BGR, BGRA or grey image (uint8, uint16, or float in [0, 1]) -> grey uint8 ``(H, W)``.

    Colour images are assumed to be in OpenCV's BGR order (``cv2.imread``), as the training
    data was converted with ``cv2.COLOR_BGR2GRAY``.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        if np.issubdtype(image.dtype, np.floating):
            image = image * 255.0 + 0.5
        elif image.dtype == np.uint16:
            image = image / 257.0 + 0.5
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    raise ValueError(f"expected a grey (H, W), BGR (H, W, 3) or BGRA (H, W, 4) image, "
                     f"got shape {image.shape}")


def crop_face(gray, box):
    """Cut one face out of a grey photo as the model sees it: float32 ``(96, 96)`` in [0, 1].

    ``box`` is a square ``(x, y, w, h)`` in photo pixels (rounded to integers). Parts of the box
    outside the photo are filled by repeating the edge pixels (like ``cv2.BORDER_REPLICATE``), and
    the square is resized to 96x96 with ``cv2.INTER_AREA``, as the training crops were.
    """
    x, y, w, h = (int(round(v)) for v in box)
    w, h = max(w, 1), max(h, 1)
    height, width = gray.shape[:2]
    if x >= 0 and y >= 0 and x + w <= width and y + h <= height:
        patch = gray[y:y + h, x:x + w]
    else:  # repeat the edge pixels: clamp every row and column index into the photo
        rows = np.clip(np.arange(y, y + h), 0, height - 1)
        cols = np.clip(np.arange(x, x + w), 0, width - 1)
        patch = gray[np.ix_(rows, cols)]
    crop = cv2.resize(patch, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
    return crop.astype(np.float32) / 255.0


def crop_faces(gray, boxes):
    """All faces of a photo as one model batch: float32 ``(N, 96, 96, 1)`` in [0, 1]."""
    crops = np.zeros((len(boxes), IMAGE_SIZE, IMAGE_SIZE, 1), np.float32)
    for i, box in enumerate(boxes):
        crops[i, :, :, 0] = crop_face(gray, box)
    return crops


def crop_to_photo(points, box):
    """Crop pixels (0..96, pixel centres at integers) -> photo pixels, for a face cut from ``box``.

    ``points``: ``(..., 2)`` x, y. Exact inverse of :func:`photo_to_crop`; see the module docstring
    for the pixel-centre convention.
    """
    x, y, w, h = box
    points = np.asarray(points, dtype=np.float32)
    scale = np.array([w / IMAGE_SIZE, h / IMAGE_SIZE], np.float32)
    return np.array([x, y], np.float32) + (points + 0.5) * scale - 0.5


def photo_to_crop(points, box):
    """Photo pixels -> crop pixels (0..96) of the face cut from ``box``; ``points``: ``(..., 2)``.

    Exact inverse of :func:`crop_to_photo`."""
    x, y, w, h = box
    points = np.asarray(points, dtype=np.float32)
    scale = np.array([IMAGE_SIZE / w, IMAGE_SIZE / h], np.float32)
    return (points - np.array([x, y], np.float32) + 0.5) * scale - 0.5


def normalised_to_photo(points, box):
    """Model output (normalised, -1..1) -> photo pixels, for a face cut from ``box``."""
    return crop_to_photo(to_pixels(points), box)


def photo_to_normalised(points, box):
    """Photo pixels -> normalised coordinates (-1..1) of the face cut from ``box``."""
    return to_normalised(photo_to_crop(points, box))


def box_from_keypoints(points):
    """The square box that frames a face the way the training crops did, from its keypoints.

    ``points``: ``(15, 2)`` photo pixels. Fits the scale and shift that best move the average
    training keypoints (:data:`MEAN_KEYPOINTS`) onto ``points`` (least squares, no rotation), and
    returns that crop's box ``(x, y, w, h)`` in photo pixels, rounded to integers.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    keep = np.isfinite(points).all(axis=1)
    crop, photo = MEAN_KEYPOINTS[keep].astype(np.float64) + 0.5, points[keep] + 0.5
    # photo = box + crop * s  (both shifted by half a pixel): solve for s, box_x, box_y.
    crop_centre, photo_centre = crop.mean(axis=0), photo.mean(axis=0)
    scale = (np.sum((crop - crop_centre) * (photo - photo_centre))
             / max(np.sum((crop - crop_centre) ** 2), 1e-9))
    side = max(1, int(round(scale * IMAGE_SIZE)))
    scale = side / IMAGE_SIZE  # keep the box's top-left consistent with the rounded side
    x, y = photo_centre - crop_centre * scale
    return (int(round(x)), int(round(y)), side, side)


_defaults = {}


def default_detector():
    """The package's Haar detector with the training data's settings, loaded on first use."""
    if "detector" not in _defaults:
        _defaults["detector"] = HaarDetector()
    return _defaults["detector"]


def default_predictor():
    """The shipped model (:func:`~.predictor.load_predictor`'s default), loaded on first use
    and kept."""
    if "predictor" not in _defaults:
        from .predictor import load_predictor

        _defaults["predictor"] = load_predictor()
    return _defaults["predictor"]


def detect_faces(image, detector=None):
    """Face boxes in a photo (BGR, BGRA or grey): list of ``(x, y, w, h)`` in photo pixels, left to
    right."""
    detector = detector or default_detector()
    return sorted(detector.detect(to_gray(image)))


def predict_keypoints(gray, boxes, predictor=None, refine=False, timings=None):
    """Keypoints of the faces in ``boxes``: float32 ``(N, 15, 2)`` photo pixels (x, y).

    All faces go to the model in one call. With ``refine=True`` each face is cropped a second time
    around its first-pass keypoints (:func:`refined_boxes`) and predicted again (a second call);
    the returned boxes are then those second crops. Returns ``(points, boxes)``.
    ``timings``: a dict or None; the seconds spent cropping and in the model are added to its
    ``"crop"`` and ``"keypoints"`` entries.

    :func:`find_keypoints` turns the refinement on by default; :class:`~.stream.SunglassesFilter`
    leaves it off by default, since its tracker already frames each face from the keypoints of the
    frame before (:mod:`.tracking`).
    """
    predictor = predictor or default_predictor()
    boxes = [tuple(int(round(v)) for v in box) for box in boxes]
    if not boxes:
        return np.zeros((0, 15, 2), np.float32), boxes
    points = _predict(gray, boxes, predictor, timings)
    if refine:
        boxes = refined_boxes(points, boxes)
        points = _predict(gray, boxes, predictor, timings)
    return points, boxes


def refined_boxes(points, boxes):
    """Second-pass boxes: each face re-framed around its keypoints (:func:`box_from_keypoints`).

    A second box far smaller or larger than the first (outside 0.5x..2x) means the first pass
    went wrong: that face keeps its first box rather than chase the error.
    """
    second = [box_from_keypoints(p) for p in points]
    return [new if 0.5 <= new[2] / old[2] <= 2 else old for new, old in zip(second, boxes)]


def _predict(gray, boxes, predictor, timings):
    with timed(timings, "crop"):
        crops = crop_faces(gray, boxes)
    with timed(timings, "keypoints"):
        normalised = predictor.predict(crops)
        points = np.stack([normalised_to_photo(p, b) for p, b in zip(normalised, boxes)])
    return points.astype(np.float32)


def find_keypoints(image, predictor=None, detector=None, refine=True):
    """Every face in a photo and its 15 keypoints.

    ``image``: BGR, BGRA or grey array of any size (as ``cv2.imread`` returns it).
    ``predictor``: from :func:`facial_keypoints.predictor.load_predictor`; default the shipped
    ``models/keypoints.onnx`` (or ``.keras``), loaded once. ``detector``: e.g. a :class:`HaarDetector`; default
    the training data's settings. ``refine`` (default on): crop each face again around its first
    keypoints and predict again (see :func:`predict_keypoints`); on the AFW photos it lowers the
    mean NME from 0.0616 to 0.0574 (``benchmarks/afw.py``).

    Returns a list, left to right, of ``{"box": (x, y, w, h), "keypoints": (15, 2) float32}``, both
    in photo pixels; keypoints are (x, y) in Kaggle order (:data:`~.keypoints.KEYPOINT_NAMES`).
    """
    gray = to_gray(image)
    boxes = detect_faces(gray, detector)
    points, _ = predict_keypoints(gray, boxes, predictor, refine=refine)
    return [{"box": box, "keypoints": p} for box, p in zip(boxes, points)]


__all__ = ["CASCADE_PATH", "MEAN_KEYPOINTS", "HaarDetector", "to_gray", "crop_face", "crop_faces",
           "crop_to_photo", "photo_to_crop", "normalised_to_photo", "photo_to_normalised",
           "box_from_keypoints", "refined_boxes", "default_detector", "default_predictor",
           "detect_faces", "predict_keypoints", "find_keypoints"]
